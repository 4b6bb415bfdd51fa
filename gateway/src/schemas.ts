// Request and response schemas of the HTTP API (TypeBox). Responses are serialized through
// them, so nothing outside a schema (an internal field) can leak into a reply.
import Type, { type Static } from 'typebox';
import { AnalyzeRequest, AnyJobRequest, BatchRequest, ConvertRequest, StreamRequest } from '../../crds/src/request.ts';
import { Acceleration, ChunkCounts, Chunking, JobError, Metrics, OutputFile, PhaseValues, QualityResult, Verification } from '../../crds/src/status.ts';
import { literals, MediaJobSpec, WebhookEventValues } from '../../crds/src/spec.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/**
 * The reference's error envelope, shared by every error answer: registered once (app.ts) under its
 * $id, so the OpenAPI document holds it once in components.schemas and each answer refers to it.
 */
export const ErrorEnvelope = Type.Object({
  error: Type.Object({
    type: Type.String(),
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    doc_url: Type.String(),
    request_id: Type.String(),
  }),
}, { $id: 'ErrorResponse', title: 'ErrorResponse', description: "The reference's error envelope" });

/**
 * The body of every webhook delivery (a request the server makes, so it is described under the
 * document's `webhooks`, and in each delivery of the delivery log). Shared by $id like the envelope.
 */
export const WebhookPayloadSchema = Type.Object({
  event: literals(WebhookEventValues),
  job_id: Type.String(),
  timestamp: Type.String({ description: 'When the event happened (ISO 8601)' }),
  data: Type.Object({}, { additionalProperties: true, description: "The event's data: progress {percentage, stage, fps, speed, eta_seconds}; status {status, attempt?, reason?}; the final events the job's outcome" }),
}, { $id: 'WebhookPayload', title: 'WebhookPayload', description: 'A webhook delivery, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)' });
export type WebhookPayload = Static<typeof WebhookPayloadSchema>;
export const WebhookPayloadRef = Type.Unsafe<WebhookPayload>({ $ref: 'WebhookPayload#' });

/** An error answer's schema: a reference to the shared envelope. */
export const ErrorResponse = Type.Unsafe<Static<typeof ErrorEnvelope>>({ $ref: 'ErrorResponse#' });

/** The reference's own examples, shown in /docs for each kind of request. */
const examples = {
  convert: [
    { input: '/storage/input/video.mov', output: 'mp4' },
    {
      input: '/storage/input/video.mov',
      output: { path: '/storage/output/final.mp4', format: 'mp4', video: { codec: 'h264', preset: 'medium', crf: 23, resolution: '1920x1080', fps: 30 }, audio: { codec: 'aac', bitrate: '192k', channels: 2, normalize: true } },
      operations: [{ type: 'trim', start: 10, duration: 60 }, { type: 'watermark', image: '/storage/assets/logo.png', position: 'bottom-right', opacity: 0.8 }],
      options: { priority: 'high', hardware_acceleration: 'auto' },
    },
    // Beyond the reference: encoded to a quality, and gated on it.
    { input: '/storage/input/video.mov', output: { path: '/storage/output/film.mp4', video: { codec: 'h264', target_vmaf: 93, max_bitrate: '8M' } }, options: { quality_gate: { vmaf_min: 90, on_fail: 'reencode' } } },
  ],
  stream: [
    { input: '/storage/input/video.mp4', output: '/storage/output/stream', type: 'hls', variants: [{ resolution: '1080p', bitrate: '5M' }, { resolution: '720p', bitrate: '2.5M' }, { resolution: '480p', bitrate: '1M' }], segment_duration: 6 },
    { input: '/storage/input/video.mp4', output: '/storage/output/per-title', type: 'hls', variants: 'auto', max_variants: 5, max_bitrate: '6M' },
  ],
  analyze: [{ input: '/storage/input/video.mp4', reference: '/storage/reference/original.mp4', metrics: ['vmaf', 'psnr', 'ssim'] }],
  estimate: [{ input: '/storage/input/video.mp4', output: 'mp4', operations: [{ type: 'resize', resolution: '4k' }] }],
};

/**
 * A job request body, with the reference's examples for /docs. The schemas document every form
 * the normalizer accepts; the normalizer is still what validates (see crds/src/request.ts).
 */
export function jobRequestBody(kind: keyof typeof examples) {
  const schema = { convert: ConvertRequest, stream: StreamRequest, analyze: AnalyzeRequest, estimate: AnyJobRequest }[kind];
  return { ...schema, examples: examples[kind] };
}

export const BatchRequestBody = { ...BatchRequest, examples: [{ batch_name: 'two formats', jobs: [examples.convert[0], { input: '/storage/input/video.mov', output: 'webm' }] }] };

export const Links = Type.Object({ self: Type.String(), events: Type.String(), logs: Type.String() });

const summaryFields = {
  id: Type.String(),
  type: literals(['convert', 'stream', 'analyze'] as const),
  status: literals(PhaseValues),
  priority: literals(['low', 'normal', 'high'] as const),
  progress: Type.Number(),
  stage: Type.String(),
  created_at: Type.String(),
  batch_id: Type.Optional(Type.String()),
  links: Links,
};

export const JobSummary = Type.Object(summaryFields);
export const JobSummaryResponse = Type.Object({ job: JobSummary });

export const JobDetail = Type.Object({
  ...summaryFields,
  fps: Nullable(Type.Number()),
  speed: Nullable(Type.Number()),
  eta_seconds: Nullable(Type.Number()),
  started_at: Nullable(Type.String()),
  completed_at: Nullable(Type.String()),
  updated_at: Type.String(),
  attempts: Type.Integer(),
  input: Type.String(),
  output: Nullable(Type.String()),
  progress_details: Type.Object({
    percentage: Type.Number(),
    stage: Type.String(),
    fps: Nullable(Type.Number()),
    quality: Type.Optional(Type.Object({ vmaf: Type.Optional(Type.Number()), psnr: Type.Optional(Type.Number()), ssim: Type.Optional(Type.Number()) })),
  }),
  outputs: Type.Array(OutputFile),
  metrics: Nullable(Metrics),
  acceleration: Nullable(Acceleration),
  error: Nullable(JobError),
  /** Split jobs: chunks in all, finished, and chunk attempts that failed (each retried alone). */
  chunks: Type.Optional(ChunkCounts),
  /** Split jobs: where the chunks were cut and how long each took to encode. */
  chunking: Type.Optional(Chunking),
  /** What was checked of the outputs before they were published. */
  verification: Type.Optional(Verification),
  /** Target VMAF (chosen CRF, predicted and measured VMAF, search), quality gate, per-title ladder. */
  quality: Type.Optional(QualityResult),
  /** The job as the server understood it: the request in its one canonical form (the MediaJob spec). */
  spec: MediaJobSpec,
});

export const JobList = Type.Object({
  jobs: Type.Array(JobDetail),
  total: Type.Integer(),
  page: Type.Integer(),
  per_page: Type.Integer(),
  pages: Type.Integer(),
});

export const EstimateResponse = Type.Object({
  estimated: Type.Object({
    duration_seconds: Type.Number(),
    output_size_bytes: Type.Integer(),
    output_duration_seconds: Type.Number(),
    breakdown: Type.Optional(Type.Object({
      encode_seconds: Type.Number(),
      verify_seconds: Type.Number({ description: 'Checking every output before it is published' }),
      quality_search_seconds: Type.Number({ description: 'Target VMAF search, or a per-title ladder\'s sampling' }),
      quality_measure_seconds: Type.Number({ description: 'Measuring the finished output (target VMAF, quality gate)' }),
    })),
  }),
  resources: Type.Object({ cpu_cores: Type.Integer(), memory_gb: Type.Number(), gpu_required: Type.Boolean() }),
  input: Type.Object({
    duration_seconds: Type.Number(),
    width: Nullable(Type.Integer()),
    height: Nullable(Type.Integer()),
    video_codec: Nullable(Type.String()),
    audio_codec: Nullable(Type.String()),
  }),
});

export const BatchResponse = Type.Object({
  batch: Type.Object({
    id: Type.String(),
    name: Nullable(Type.String()),
    status: Type.String(),
    progress: Type.Number(),
    total: Type.Integer(),
    counts: Type.Object(Object.fromEntries(PhaseValues.map((p) => [p, Type.Integer()]))),
    created_at: Type.String(),
    links: Type.Object({ self: Type.String() }),
    jobs: Type.Array(JobSummary),
  }),
});
