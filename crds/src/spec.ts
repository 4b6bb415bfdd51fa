// The MediaJob spec: the one canonical, normalized form of every job request.
// Written once here; the gateway's validation, the CRD YAML and the worker's input
// check are all derived from these schemas.
import Type, { type Static, type TLiteral, type TSchemaOptions, type TUnion } from 'typebox';

/** Limits shared by validation and the schema, so a "huge value" is refused the same way everywhere. */
export const Limits = {
  maxDimension: 8192,
  maxFps: 240,
  maxBitrate: 500_000_000,
  maxAudioBitrate: 1_536_000,
  maxSeconds: 7 * 24 * 3600,
  maxOperations: 20,
  maxVariants: 10,
  maxThumbnails: 100,
  maxGridCells: 20,
  maxPathLength: 1024,
  maxUrlLength: 4096,
  /** Presigned download URLs: SigV4 allows at most 7 days. */
  maxPresignSeconds: 7 * 24 * 3600,
  /** Split-and-stitch: chunks encoded at once, and chunks in all. */
  maxParallelism: 64,
  maxChunks: 256,
  minChunkSeconds: 1,
  maxChunkSeconds: 3600,
  /** Target-quality encoding: the VMAF a job may aim at, and the samples its CRF search encodes. */
  minTargetVmaf: 10,
  maxTargetVmaf: 99,
  maxVmafSamples: 10,
} as const;

const strictObject = { additionalProperties: false } as const;

export const StoragePath = Type.String({
  minLength: 10,
  maxLength: Limits.maxPathLength,
  pattern: '^/storage/',
  description: 'A path under the storage root, e.g. /storage/input/video.mp4',
});

/** Where an input is read from: storage, an S3 object (a configured backend) or an http(s) URL. */
export const InputLocation = Type.String({
  minLength: 8,
  maxLength: Limits.maxUrlLength,
  pattern: '^(/storage/|s3://|[hH][tT][tT][pP][sS]?://)',
  description: 'A path under the storage root (/storage/input/video.mp4), an S3 object (s3://bucket/key) or an http(s) URL',
});

/** Where an output is written: storage or an S3 location (never a URL). */
export const OutputLocation = Type.String({
  minLength: 8,
  maxLength: Limits.maxPathLength,
  pattern: '^(/storage/|s3://)',
  description: 'A path under the storage root (/storage/output/video.mp4) or an S3 location (s3://bucket/key)',
});

/** A string enum as a union of literals; Static<> of it is the union of the values. */
export type TLiterals<T extends readonly string[]> = TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>;
export function literals<const T extends readonly string[]>(values: T, options: TSchemaOptions = {}): TLiterals<T> {
  return Type.Union(values.map((v) => Type.Literal(v)), options) as unknown as TLiterals<T>;
}

export const ContainerValues = ['mp4', 'mov', 'mkv', 'webm', 'ts', 'gif', 'mp3', 'm4a', 'wav', 'flac', 'ogg', 'jpg', 'png', 'webp'] as const;
export const VideoCodecValues = ['h264', 'h265', 'vp9', 'av1', 'gif', 'copy'] as const;
export const AudioCodecValues = ['aac', 'mp3', 'opus', 'vorbis', 'flac', 'pcm', 'copy'] as const;
export const PresetValues = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
export const PixelFormatValues = ['yuv420p', 'yuv422p', 'yuv444p', 'yuv420p10le', 'yuv422p10le', 'yuv444p10le', 'nv12'] as const;
export const ProfileValues = ['baseline', 'main', 'high', 'high10', 'high422', 'high444', 'main10', 'main-still-picture'] as const;
export const PositionValues = [
  'top-left', 'top', 'top-right',
  'left', 'center', 'right',
  'bottom-left', 'bottom', 'bottom-right',
] as const;

export const ContainerName = literals(ContainerValues);
export type Container = (typeof ContainerValues)[number];
export type VideoCodecName = (typeof VideoCodecValues)[number];
export type AudioCodecName = (typeof AudioCodecValues)[number];
export const VideoCodec = literals(VideoCodecValues);
export const AudioCodec = literals(AudioCodecValues);

const Seconds = (description: string, minimum = 0) =>
  Type.Number({ minimum, maximum: Limits.maxSeconds, description });
const Dimension = (description: string) => Type.Integer({ minimum: 2, maximum: Limits.maxDimension, description });
const Bitrate = (max: number, description: string) => Type.Integer({ minimum: 1000, maximum: max, description });

export const VideoSettings = Type.Object(
  {
    codec: Type.Optional(VideoCodec),
    preset: Type.Optional(literals(PresetValues)),
    crf: Type.Optional(Type.Integer({ minimum: 0, maximum: 63, description: 'Constant rate factor; range depends on codec' })),
    bitrate: Type.Optional(Bitrate(Limits.maxBitrate, 'Target video bitrate in bits per second')),
    width: Type.Optional(Dimension('Output width in pixels; omitted keeps the aspect ratio')),
    height: Type.Optional(Dimension('Output height in pixels; omitted keeps the aspect ratio')),
    fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: Limits.maxFps })),
    pixelFormat: Type.Optional(literals(PixelFormatValues)),
    profile: Type.Optional(literals(ProfileValues)),
    targetVmaf: Type.Optional(Type.Number({
      minimum: Limits.minTargetVmaf,
      maximum: Limits.maxTargetVmaf,
      description: 'Encode to this VMAF: the CRF is searched on samples of the input, then the whole input is encoded with it (instead of crf or bitrate)',
    })),
    maxBitrate: Type.Optional(Bitrate(Limits.maxBitrate, 'Cap on the video bitrate in bits per second (VBV maxrate; the buffer is twice that)')),
    vmafSamples: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxVmafSamples, description: 'Samples of the input the target-VMAF search encodes (default 4)' })),
  },
  strictObject,
);
export type VideoSettings = Static<typeof VideoSettings>;

export const AudioSettings = Type.Object(
  {
    codec: Type.Optional(AudioCodec),
    bitrate: Type.Optional(Bitrate(Limits.maxAudioBitrate, 'Target audio bitrate in bits per second')),
    channels: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
    sampleRate: Type.Optional(literals(['8000', '16000', '22050', '24000', '32000', '44100', '48000', '96000'] as const)),
    normalize: Type.Optional(Type.Boolean({ description: 'EBU R128 two-pass loudness normalization' })),
  },
  strictObject,
);
export type AudioSettings = Static<typeof AudioSettings>;

export const OutputSpec = Type.Object(
  {
    path: OutputLocation,
    format: ContainerName,
    video: Type.Optional(VideoSettings),
    audio: Type.Optional(AudioSettings),
  },
  strictObject,
);
export type OutputSpec = Static<typeof OutputSpec>;

const op = <T extends string, P extends Parameters<typeof Type.Object>[0]>(type: T, props: P) =>
  Type.Object({ type: Type.Literal(type), ...props }, strictObject);

export const TrimOp = op('trim', {
  start: Seconds('Start time in seconds'),
  duration: Type.Optional(Seconds('Duration in seconds', 0.01)),
  end: Type.Optional(Seconds('End time in seconds', 0.01)),
});
export const ScaleOp = op('scale', { width: Type.Optional(Dimension('Width')), height: Type.Optional(Dimension('Height')) });
export const CropOp = op('crop', {
  width: Dimension('Crop width'),
  height: Dimension('Crop height'),
  x: Type.Integer({ minimum: 0, maximum: Limits.maxDimension }),
  y: Type.Integer({ minimum: 0, maximum: Limits.maxDimension }),
});
export const RotateOp = op('rotate', { degrees: Type.Union([Type.Literal(90), Type.Literal(180), Type.Literal(270)]) });
export const FlipOp = op('flip', { direction: literals(['horizontal', 'vertical'] as const) });
export const FpsOp = op('fps', { fps: Type.Number({ exclusiveMinimum: 0, maximum: Limits.maxFps }) });
export const SpeedOp = op('speed', { factor: Type.Number({ minimum: 0.25, maximum: 4 }) });
export const DeinterlaceOp = op('deinterlace', {});
export const DenoiseOp = op('denoise', { strength: literals(['light', 'medium', 'strong'] as const) });
export const SharpenOp = op('sharpen', { amount: Type.Number({ minimum: 0, maximum: 5 }) });
export const BlurOp = op('blur', { sigma: Type.Number({ exclusiveMinimum: 0, maximum: 50 }) });
export const ColorOp = op('color', {
  brightness: Type.Optional(Type.Number({ minimum: -1, maximum: 1 })),
  contrast: Type.Optional(Type.Number({ minimum: 0, maximum: 4 })),
  saturation: Type.Optional(Type.Number({ minimum: 0, maximum: 3 })),
  gamma: Type.Optional(Type.Number({ minimum: 0.1, maximum: 10 })),
});
export const FadeOp = op('fade', {
  direction: literals(['in', 'out'] as const),
  duration: Seconds('Fade length in seconds', 0.01),
});
export const WatermarkOp = op('watermark', {
  image: InputLocation,
  position: literals(PositionValues),
  opacity: Type.Number({ minimum: 0, maximum: 1 }),
  scale: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Watermark width as a fraction of the video width' }),
  margin: Type.Integer({ minimum: 0, maximum: 1000, description: 'Distance from the edges in pixels' }),
});
export const ThumbnailOp = op('thumbnail', {
  timestamp: Type.Optional(Seconds('Time of a single thumbnail')),
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxThumbnails })),
  interval: Type.Optional(Seconds('Seconds between thumbnails of a series', 0.04)),
  width: Type.Optional(Dimension('Width')),
  height: Type.Optional(Dimension('Height')),
  quality: literals(['low', 'medium', 'high'] as const),
});
export const ThumbnailGridOp = op('thumbnail_grid', {
  rows: Type.Integer({ minimum: 1, maximum: Limits.maxGridCells }),
  cols: Type.Integer({ minimum: 1, maximum: Limits.maxGridCells }),
  width: Dimension('Width of the whole contact sheet'),
  height: Dimension('Height of the whole contact sheet'),
});

export const Operation = Type.Union([
  TrimOp, ScaleOp, CropOp, RotateOp, FlipOp, FpsOp, SpeedOp, DeinterlaceOp, DenoiseOp, SharpenOp, BlurOp,
  ColorOp, FadeOp, WatermarkOp, ThumbnailOp, ThumbnailGridOp,
]);
export type Operation = Static<typeof Operation>;
export type OperationType = Operation['type'];
export type OperationOf<T extends OperationType> = Extract<Operation, { type: T }>;

export const Variant = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Rendition name; used in file names' }),
    width: Type.Optional(Dimension('Width')),
    height: Type.Optional(Dimension('Height')),
    bitrate: Bitrate(Limits.maxBitrate, 'Video bitrate in bits per second'),
    crf: Type.Optional(Type.Number({ minimum: 0, maximum: 51, description: 'Constant quality for this rendition, its bitrate then a cap (capped CRF); per-title ladders set it' })),
  },
  strictObject,
);
export type Variant = Static<typeof Variant>;

/** A ladder built from the content (`"variants": "auto"`): sampled, measured, cut on the convex hull. */
export const PerTitleLadder = Type.Object(
  {
    maxVariants: Type.Integer({ minimum: 1, maximum: Limits.maxVariants, description: 'Rungs at most' }),
    minBitrate: Type.Optional(Bitrate(Limits.maxBitrate, 'Lowest rung bitrate at least, bits per second')),
    maxBitrate: Type.Optional(Bitrate(Limits.maxBitrate, 'Top rung bitrate at most, bits per second')),
  },
  strictObject,
);
export type PerTitleLadder = Static<typeof PerTitleLadder>;

export const StreamSpec = Type.Object(
  {
    format: literals(['hls', 'dash'] as const),
    path: OutputLocation,
    segmentDuration: Type.Number({ minimum: 1, maximum: 60 }),
    videoCodec: literals(['h264', 'h265'] as const),
    audioBitrate: Bitrate(Limits.maxAudioBitrate, 'Audio bitrate in bits per second'),
    /** The ladder as asked; absent when it is built per title (perTitle). */
    variants: Type.Optional(Type.Array(Variant, { minItems: 1, maxItems: Limits.maxVariants })),
    perTitle: Type.Optional(PerTitleLadder),
  },
  strictObject,
);
export type StreamSpec = Static<typeof StreamSpec>;

export const MetricValues = ['vmaf', 'psnr', 'ssim'] as const;
export const AnalyzeSpec = Type.Object(
  {
    reference: InputLocation,
    metrics: Type.Array(literals(MetricValues), { minItems: 1, maxItems: 3 }),
    path: Type.Optional(OutputLocation),
  },
  strictObject,
);
export type AnalyzeSpec = Static<typeof AnalyzeSpec>;

export const WebhookEventValues = ['queued', 'started', 'progress', 'complete', 'error', 'cancelled'] as const;

/** Minimum quality a finished output must measure against its input, else the job fails (or re-encodes once). */
export const QualityGate = Type.Object(
  {
    vmafMin: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    psnrMin: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'dB' })),
    ssimMin: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    onFail: literals(['fail', 'reencode'] as const, { description: 'fail the job, or re-encode once at a better setting first' }),
  },
  strictObject,
);
export type QualityGate = Static<typeof QualityGate>;
export const JobOptions = Type.Object(
  {
    priority: literals(['low', 'normal', 'high'] as const),
    hardwareAcceleration: literals(['auto', 'none', 'nvenc'] as const),
    webhookUrl: Type.Optional(Type.String({ maxLength: 2048 })),
    webhookEvents: Type.Optional(Type.Array(literals(WebhookEventValues), { maxItems: 6 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxSeconds })),
    parallelism: Type.Optional(Type.Union([
      Type.Integer({ minimum: 1, maximum: Limits.maxParallelism }),
      Type.Literal('auto'),
    ], { description: 'Split the video into chunks encoded at once by this many workers and stitched frame-exactly; 1 = one FFmpeg, auto = chosen from the duration and the worker pool' })),
    chunkSeconds: Type.Optional(Type.Number({
      minimum: Limits.minChunkSeconds,
      maximum: Limits.maxChunkSeconds,
      description: 'Target chunk length when split (default: the output length over parallelism)',
    })),
    presignOutputSeconds: Type.Optional(Type.Integer({
      minimum: 60,
      maximum: Limits.maxPresignSeconds,
      description: 'Report a presigned download URL valid this long for each S3 output',
    })),
    verify: Type.Optional(Type.Boolean({ description: 'Check every output before it is published (decode, streams, duration, segments); default true' })),
    qualityGate: Type.Optional(QualityGate),
  },
  strictObject,
);
export type JobOptions = Static<typeof JobOptions>;

export const MediaJobSpec = Type.Object(
  {
    type: literals(['convert', 'stream', 'analyze'] as const),
    input: Type.Object({ path: InputLocation }, strictObject),
    output: Type.Optional(OutputSpec),
    operations: Type.Array(Operation, { maxItems: Limits.maxOperations }),
    stream: Type.Optional(StreamSpec),
    analyze: Type.Optional(AnalyzeSpec),
    options: JobOptions,
  },
  strictObject,
);
export type MediaJobSpec = Static<typeof MediaJobSpec>;
