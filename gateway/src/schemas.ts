// Request and response schemas of the HTTP API (TypeBox). Responses are serialized through
// them, so nothing outside a schema (an internal field) can leak into a reply.
import Type from 'typebox';
import { Acceleration, JobError, Metrics, OutputFile, PhaseValues } from '../../crds/src/status.ts';
import { literals } from '../../crds/src/spec.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const ErrorResponse = Type.Object({
  error: Type.Object({
    type: Type.String(),
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    doc_url: Type.String(),
    request_id: Type.String(),
  }),
}, { description: "The reference's error envelope" });

/**
 * A job request in any of the reference's forms. Kept permissive here on purpose: the normalizer
 * reads every form and names the exact field of each mistake, which a schema error cannot.
 */
export const JobRequestBody = Type.Object({
  input: Type.Optional(Type.Unknown({ description: 'A /storage/ path, or {"path": ...}' })),
  output: Type.Optional(Type.Unknown({ description: 'A format ("mp4"), a path, or {path, format, video, audio}' })),
  operations: Type.Optional(Type.Array(Type.Unknown(), { description: 'Operations, fields flat or under "params"' })),
  options: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'priority, hardware_acceleration, webhook_url, webhook_events' })),
}, { additionalProperties: true });

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
});

export const JobList = Type.Object({
  jobs: Type.Array(JobDetail),
  total: Type.Integer(),
  page: Type.Integer(),
  per_page: Type.Integer(),
  pages: Type.Integer(),
});

export const EstimateResponse = Type.Object({
  estimated: Type.Object({ duration_seconds: Type.Number(), output_size_bytes: Type.Integer(), output_duration_seconds: Type.Number() }),
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
