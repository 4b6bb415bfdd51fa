// The MediaJob status: what the operator (or the local runtime) observed. Source of truth for a
// job's state; NATS only makes it arrive sooner.
import Type, { type Static } from 'typebox';
import { literals } from './spec.ts';

export const PhaseValues = ['queued', 'processing', 'completed', 'failed', 'cancelled'] as const;
export type Phase = (typeof PhaseValues)[number];
export const TerminalPhases: readonly Phase[] = ['completed', 'failed', 'cancelled'];


export const OutputFile = Type.Object({
  /** Where the output is: /storage/... or s3://bucket/key. */
  path: Type.String(),
  /** A presigned download URL (S3 outputs, when options.presign_outputs asked for one). */
  url: Type.Optional(Type.String()),
  role: literals(['media', 'playlist', 'manifest', 'image', 'sprite-map', 'metrics'] as const),
  sizeBytes: Type.Integer({ minimum: 0 }),
  format: Type.Optional(Type.String()),
  durationSeconds: Type.Optional(Type.Number()),
  bitrate: Type.Optional(Type.Integer()),
  videoCodec: Type.Optional(Type.String()),
  audioCodec: Type.Optional(Type.String()),
  width: Type.Optional(Type.Integer()),
  height: Type.Optional(Type.Integer()),
  fps: Type.Optional(Type.Number()),
});
export type OutputFile = Static<typeof OutputFile>;

export const MetricSummary = Type.Object({
  mean: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
});
export type MetricSummary = Static<typeof MetricSummary>;

export const Loudness = Type.Object({
  integrated: Type.Number({ description: 'LUFS' }),
  truePeak: Type.Number({ description: 'dBTP' }),
  range: Type.Number({ description: 'LU' }),
  threshold: Type.Number({ description: 'LUFS' }),
});
export type Loudness = Static<typeof Loudness>;

export const Metrics = Type.Object({
  vmaf: Type.Optional(MetricSummary),
  psnr: Type.Optional(MetricSummary),
  ssim: Type.Optional(MetricSummary),
  frames: Type.Optional(Type.Integer({ description: 'Frames compared' })),
  perFramePath: Type.Optional(Type.String({ description: 'JSON file with per-frame values' })),
  loudnessInput: Type.Optional(Loudness),
  loudnessOutput: Type.Optional(Loudness),
});
export type Metrics = Static<typeof Metrics>;

export const Acceleration = Type.Object({
  decode: literals(['cpu', 'nvdec'] as const),
  encode: literals(['cpu', 'nvenc'] as const),
  reason: Type.String(),
});
export type Acceleration = Static<typeof Acceleration>;

/** What a failed check expected and found (verification, the quality gate). */
export const FailureDetails = Type.Object({
  check: Type.Optional(Type.String()),
  path: Type.Optional(Type.String()),
  expected: Type.Optional(Type.String()),
  found: Type.Optional(Type.String()),
  metric: Type.Optional(Type.String()),
  measured: Type.Optional(Type.Number()),
  required: Type.Optional(Type.Number()),
});
export type FailureDetails = Static<typeof FailureDetails>;

export const JobError = Type.Object({
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
  retryable: Type.Boolean(),
  details: Type.Optional(FailureDetails),
});
export type JobError = Static<typeof JobError>;

/** How a split job was cut: what users see of split-and-stitch. */
export const Chunking = Type.Object({
  count: Type.Integer({ minimum: 1 }),
  /** Output-timeline seconds where each chunk starts, then where the last one ends. */
  boundaries: Type.Array(Type.Number()),
  /** Chunks that start on a keyframe of the input (the others are cut on an exact frame). */
  onKeyframes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Seconds each chunk's FFmpeg ran, by index (when the merge step saw them). */
  encodeSeconds: Type.Optional(Type.Array(Type.Number())),
  /** Chunks encoded at once at most. */
  parallelism: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The audio is encoded once over the whole input, beside the chunks (a step of its own). */
  audio: Type.Optional(Type.Boolean()),
  /** Seconds the audio's FFmpeg ran (when the merge step saw it). */
  audioEncodeSeconds: Type.Optional(Type.Number()),
});
export type Chunking = Static<typeof Chunking>;

export const ChunkCounts = Type.Object({
  total: Type.Integer({ minimum: 0 }),
  completed: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
});
export type ChunkCounts = Static<typeof ChunkCounts>;

/** What was checked of the outputs before they were published (options.verify). */
export const Verification = Type.Object({
  outputs: Type.Integer({ minimum: 0, description: 'Outputs checked' }),
  checks: Type.Array(Type.String(), { description: 'decode, streams, duration, segments' }),
  seconds: Type.Number({ description: 'Time the checks took' }),
});
export type Verification = Static<typeof Verification>;

export const VmafScore = Type.Object({
  mean: Type.Number(),
  p5: Type.Number({ description: '5th percentile of the per-frame scores' }),
  min: Type.Number(),
});
export type VmafScore = Static<typeof VmafScore>;

/** How a target-VMAF encode chose its CRF, and what the whole output measured. */
export const TargetVmafResult = Type.Object({
  target: Type.Number(),
  crf: Type.Number({ description: 'The CRF (or NVENC CQ) chosen' }),
  predictedVmaf: Type.Number(),
  measured: Type.Optional(VmafScore),
  probes: Type.Array(Type.Object({ crf: Type.Number(), vmaf: Type.Number(), bitrate: Type.Optional(Type.Integer()) }), { maxItems: 12 }),
  samples: Type.Integer({ minimum: 1 }),
  sampleSeconds: Type.Number({ description: 'Length of each sample' }),
  searchSeconds: Type.Number({ description: 'Time the search took' }),
});
export type TargetVmafResult = Static<typeof TargetVmafResult>;

/** A quality gate's measurement of the final output. */
export const GateResult = Type.Object({
  passed: Type.Boolean(),
  vmaf: Type.Optional(Type.Number()),
  psnr: Type.Optional(Type.Number()),
  ssim: Type.Optional(Type.Number()),
  /** The setting the one re-encode used, when the first encode fell short. */
  reencoded: Type.Optional(Type.Object({ crf: Type.Optional(Type.Number()), bitrate: Type.Optional(Type.Integer()) })),
});
export type GateResult = Static<typeof GateResult>;

/** A rung of a ladder built from the content. */
export const LadderRung = Type.Object({
  name: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bitrate: Type.Integer({ description: 'The bitrate the rung was chosen at (its encode is capped at 1.5× that)' }),
  crf: Type.Optional(Type.Number({ description: 'The constant quality the rung is encoded at' })),
  vmaf: Type.Number({ description: 'VMAF of the rung on the samples, upscaled to the top rung as a player shows it' }),
  peakBitrate: Type.Optional(Type.Integer({ description: 'Highest segment bitrate written (BANDWIDTH)' })),
  averageBitrate: Type.Optional(Type.Integer({ description: 'Average bitrate written (AVERAGE-BANDWIDTH)' })),
});
export type LadderRung = Static<typeof LadderRung>;

export const QualityResult = Type.Object({
  targetVmaf: Type.Optional(TargetVmafResult),
  gate: Type.Optional(GateResult),
  ladder: Type.Optional(Type.Array(LadderRung, { maxItems: 10 })),
});
export type QualityResult = Static<typeof QualityResult>;

/** What the worker reports when it ends: the result file, later the pod's termination message. */
export const WorkerResult = Type.Object({
  status: literals(['completed', 'failed', 'cancelled'] as const),
  outputs: Type.Array(OutputFile),
  metrics: Type.Optional(Metrics),
  acceleration: Type.Optional(Acceleration),
  processingSeconds: Type.Number(),
  error: Type.Optional(JobError),
  /** Split jobs: the plan step's cut, or the merge step's whole account of the chunks. */
  chunking: Type.Optional(Chunking),
  /** Outputs left out to fit a pod's 4 KiB termination message (the files are all written). */
  outputsOmitted: Type.Optional(Type.Integer({ minimum: 1 })),
  verification: Type.Optional(Verification),
  quality: Type.Optional(QualityResult),
});
export type WorkerResult = Static<typeof WorkerResult>;

export const Condition = Type.Object({
  type: Type.String(),
  status: literals(['True', 'False', 'Unknown'] as const),
  observedGeneration: Type.Optional(Type.Integer()),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String(),
  message: Type.String(),
});
export type Condition = Static<typeof Condition>;

export const MediaJobStatus = Type.Object({
  phase: Type.Optional(literals(PhaseValues)),
  stage: Type.Optional(Type.String()),
  progress: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  fps: Type.Optional(Type.Number()),
  speed: Type.Optional(Type.Number()),
  etaSeconds: Type.Optional(Type.Number()),
  queuedAt: Type.Optional(Type.String({ format: 'date-time' })),
  startedAt: Type.Optional(Type.String({ format: 'date-time' })),
  completedAt: Type.Optional(Type.String({ format: 'date-time' })),
  attempts: Type.Optional(Type.Integer({ minimum: 0 })),
  observedGeneration: Type.Optional(Type.Integer()),
  conditions: Type.Optional(Type.Array(Condition)),
  outputs: Type.Optional(Type.Array(OutputFile)),
  metrics: Type.Optional(Metrics),
  acceleration: Type.Optional(Acceleration),
  error: Type.Optional(JobError),
  /** Split jobs: chunks in all, finished and failed so far. */
  chunks: Type.Optional(ChunkCounts),
  chunking: Type.Optional(Chunking),
  /** Split jobs in cluster mode: the working folder of the chunks has been removed. */
  workFilesRemoved: Type.Optional(Type.Boolean()),
  verification: Type.Optional(Verification),
  quality: Type.Optional(QualityResult),
});
export type MediaJobStatus = Static<typeof MediaJobStatus>;
