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

export const JobError = Type.Object({
  code: Type.String(),
  message: Type.String(),
  field: Type.Optional(Type.String()),
  retryable: Type.Boolean(),
});
export type JobError = Static<typeof JobError>;

/** What the worker reports when it ends: the result file, later the pod's termination message. */
export const WorkerResult = Type.Object({
  status: literals(['completed', 'failed', 'cancelled'] as const),
  outputs: Type.Array(OutputFile),
  metrics: Type.Optional(Metrics),
  acceleration: Type.Optional(Acceleration),
  processingSeconds: Type.Number(),
  error: Type.Optional(JobError),
  /** Outputs left out to fit a pod's 4 KiB termination message (the files are all written). */
  outputsOmitted: Type.Optional(Type.Integer({ minimum: 1 })),
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
});
export type MediaJobStatus = Static<typeof MediaJobStatus>;
