// The HTTP request forms of the Rendiff API, as JSON Schema: every shorthand the normalizer
// accepts ("output": "mp4", "input": "/storage/..." or {path, credentials}, operations flat or
// under "params", bitrates as "5M" or bits per second, seconds as 12.5 or "00:00:12.5").
//
// These schemas document the API (OpenAPI, generated clients, the SDK's types); the normalizer
// stays the validator, because it names the exact field of every mistake and suggests fixes,
// which a schema error cannot. The rule binding the two: nothing the normalizer accepts may fail
// these schemas (a unit test and the OpenAPI fuzz check it). Values, ranges and limits come from
// the canonical spec (spec.ts), so both move together.
//
// Enumerations list the canonical lower-case names and the aliases the normalizer maps; the
// normalizer also ignores letter case ("MP4", "HEVC"), a leniency left out of the schemas so that
// generated clients get exact enums.
import Type, { type TSchema } from 'typebox';
import { NamedResolutions } from './resolution.ts';
import {
  AudioCodecValues,
  ContainerName,
  InputLocation,
  Limits,
  MetricValues,
  OutputLocation,
  PixelFormatValues,
  PositionValues,
  PresetValues,
  ProfileValues,
  VideoCodecValues,
  WebhookEventValues,
  literals,
} from './spec.ts';

const strict = { additionalProperties: false } as const;

/** Codec names clients use that mean one of ours (the normalizer maps them). */
export const VideoCodecAliases = {
  avc: 'h264', x264: 'h264', libx264: 'h264', hevc: 'h265', x265: 'h265', libx265: 'h265',
  'libvpx-vp9': 'vp9', 'libaom-av1': 'av1', libsvtav1: 'av1',
} as const satisfies Record<string, (typeof VideoCodecValues)[number]>;
export const AudioCodecAliases = {
  libmp3lame: 'mp3', libopus: 'opus', libvorbis: 'vorbis', pcm_s16le: 'pcm', wav: 'pcm',
} as const satisfies Record<string, (typeof AudioCodecValues)[number]>;
export const WebhookEventAliases = {
  completed: 'complete', failed: 'error', failure: 'error', start: 'started', cancel: 'cancelled',
} as const satisfies Record<string, (typeof WebhookEventValues)[number]>;
export const SampleRateValues = ['8000', '16000', '22050', '24000', '32000', '44100', '48000', '96000'] as const;

const keys = <T extends object>(o: T) => Object.keys(o) as (keyof T & string)[];

/** A string enumeration from canonical values and aliases. */
const names = <const T extends readonly string[]>(values: T, description?: string) => literals(values, description ? { description } : {});

const Seconds = (min: number, description: string) =>
  Type.Union([
    Type.Number({ minimum: min, maximum: Limits.maxSeconds }),
    Type.String({ maxLength: 32, pattern: '^\\s*(?:(?:\\d{1,3}:)?[0-5]?\\d:[0-5]?\\d(?:\\.\\d+)?|\\d+(?:\\.\\d+)?s?)\\s*$' }),
  ], { description: `${description}: seconds, or an [HH:]MM:SS[.mmm] timestamp` });

const Bitrate = (max: number, description: string) =>
  Type.Union([
    Type.Integer({ minimum: 1000, maximum: max, description: 'bits per second' }),
    Type.String({ maxLength: 32, pattern: '^\\s*\\d+(?:\\.\\d+)?\\s*[kKmMgG]?(?:bps|b/s)?\\s*$', description: 'e.g. "192k", "2.5M"' }),
  ], { description: `${description}, from 1k to ${max / 1e6}M` });
const VideoBitrate = (description = 'Video bitrate') => Bitrate(Limits.maxBitrate, description);
const AudioBitrate = (description = 'Audio bitrate') => Bitrate(Limits.maxAudioBitrate, description);

const Resolution = Type.String({
  maxLength: 32,
  pattern: `^\\s*(?:\\d{1,5}[xX]\\d{1,5}|\\d{2,4}[pP]|${NamedResolutions.filter((n) => !/^\d+p$/.test(n)).map((n) => n.replace(/[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)).join('|')})\\s*$`,
  description: `WIDTHxHEIGHT (up to ${Limits.maxDimension}), or a name: 720p, 1080p, 4k, hd...; a name fixes the height, the width keeps the aspect ratio`,
});
const Dimension = (description: string) => Type.Integer({ minimum: 2, maximum: Limits.maxDimension, description });
const Fps = Type.Number({ exclusiveMinimum: 0, maximum: Limits.maxFps, description: 'Frames per second' });
const Crf = Type.Integer({ minimum: 0, maximum: 63, description: 'Constant rate factor; the range depends on the codec' });

const VideoCodecRequest = names([...VideoCodecValues, ...keys(VideoCodecAliases)], 'A video codec (aliases such as hevc or libx264 are accepted)');
const AudioCodecRequest = names([...AudioCodecValues, ...keys(AudioCodecAliases)], 'An audio codec (aliases such as libopus are accepted)');
const SampleRate = Type.Union([names(SampleRateValues), Type.Union(SampleRateValues.map((r) => Type.Literal(Number(r))))], { description: 'Hz, as a number or a string' });

/** An input: a location, or {path, credentials: "presigned"} (secrets are never accepted in a job). */
const InputRequest = Type.Union([
  InputLocation,
  Type.Object({
    path: InputLocation,
    credentials: Type.Optional(Type.Literal('presigned', { description: 'S3 inputs are read through URLs presigned with the server\'s own credentials' })),
  }, strict),
]);

const VideoRequest = Type.Object({
  codec: Type.Optional(VideoCodecRequest),
  preset: Type.Optional(names(PresetValues)),
  crf: Type.Optional(Crf),
  bitrate: Type.Optional(VideoBitrate()),
  resolution: Type.Optional(Resolution),
  width: Type.Optional(Dimension('Output width in pixels')),
  height: Type.Optional(Dimension('Output height in pixels')),
  fps: Type.Optional(Fps),
  framerate: Type.Optional(Fps),
  pixel_format: Type.Optional(names(PixelFormatValues)),
  pix_fmt: Type.Optional(names(PixelFormatValues)),
  profile: Type.Optional(names(ProfileValues)),
  target_vmaf: Type.Optional(Type.Number({ minimum: Limits.minTargetVmaf, maximum: Limits.maxTargetVmaf, description: 'Encode to this VMAF: the CRF is searched on samples of the input' })),
  max_bitrate: Type.Optional(VideoBitrate('Cap on the video bitrate')),
  vmaf_samples: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxVmafSamples, description: 'Samples the target-VMAF search encodes (default 4)' })),
}, strict);

const AudioRequest = Type.Object({
  codec: Type.Optional(AudioCodecRequest),
  bitrate: Type.Optional(AudioBitrate()),
  channels: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
  sample_rate: Type.Optional(SampleRate),
  normalize: Type.Optional(Type.Boolean({ description: 'EBU R128 two-pass loudness normalization' })),
}, strict);

const OutputObjectRequest = Type.Object({
  path: Type.Optional(OutputLocation),
  format: Type.Optional(ContainerName),
  video: Type.Optional(VideoRequest),
  audio: Type.Optional(AudioRequest),
}, { ...strict, description: 'path, or format to write beside the input; video and audio settings' });

/** A convert output: a format written beside the input ("mp4"), a location, or an object. */
const OutputRequest = Type.Union([ContainerName, OutputLocation, OutputObjectRequest]);

// Operations: each type with its fields, written flat or under "params" (or both).
const Quality3 = names(['light', 'medium', 'strong'] as const);
const operationFields = {
  trim: {
    start: Seconds(0, 'Start time'), start_time: Seconds(0, 'Start time'),
    duration: Seconds(0.01, 'Duration'),
    end: Seconds(0.01, 'End time'), end_time: Seconds(0.01, 'End time'),
  },
  resize: { resolution: Resolution, width: Dimension('Width'), height: Dimension('Height') },
  crop: {
    width: Dimension('Crop width'), height: Dimension('Crop height'),
    x: Type.Integer({ minimum: 0, maximum: Limits.maxDimension }), y: Type.Integer({ minimum: 0, maximum: Limits.maxDimension }),
  },
  rotate: {
    degrees: Type.Union([-270, -180, -90, 90, 180, 270].map((d) => Type.Literal(d)), { description: 'Clockwise; a multiple of 90' }),
    angle: Type.Union([-270, -180, -90, 90, 180, 270].map((d) => Type.Literal(d))),
  },
  flip: { direction: names(['horizontal', 'vertical', 'x', 'y'] as const), axis: names(['horizontal', 'vertical', 'x', 'y'] as const) },
  fps: { fps: Fps, framerate: Fps, rate: Fps },
  speed: {
    factor: Type.Number({ minimum: 0.25, maximum: 4 }), speed: Type.Number({ minimum: 0.25, maximum: 4 }), rate: Type.Number({ minimum: 0.25, maximum: 4 }),
  },
  transcode: {
    video_codec: VideoCodecRequest, audio_codec: AudioCodecRequest,
    video_bitrate: VideoBitrate(), audio_bitrate: AudioBitrate(),
    preset: names(PresetValues), crf: Crf, resolution: Resolution, fps: Fps,
    pixel_format: names(PixelFormatValues), profile: names(ProfileValues),
    channels: Type.Integer({ minimum: 1, maximum: 8 }), sample_rate: SampleRate,
  },
  filter: {
    deinterlace: Type.Boolean(),
    denoise: Type.Union([Type.Literal(true), Quality3]),
    sharpen: Type.Union([Type.Literal(true), Type.Number({ minimum: 0, maximum: 5 })]),
    blur: Type.Union([Type.Literal(true), Type.Number({ exclusiveMinimum: 0, maximum: 50 })]),
    brightness: Type.Number({ minimum: -1, maximum: 1 }),
    contrast: Type.Number({ minimum: 0, maximum: 4 }),
    saturation: Type.Number({ minimum: 0, maximum: 3 }),
    gamma: Type.Number({ minimum: 0.1, maximum: 10 }),
    fade_in: Seconds(0.01, 'Fade-in length'),
    fade_out: Seconds(0.01, 'Fade-out length'),
    strength: Quality3,
    amount: Type.Number({ minimum: 0, maximum: 5 }),
    sigma: Type.Number({ exclusiveMinimum: 0, maximum: 50 }),
  },
  fade: { direction: names(['in', 'out'] as const), mode: names(['in', 'out'] as const), duration: Seconds(0.01, 'Fade length') },
  watermark: {
    image: InputLocation, watermark_path: InputLocation, path: InputLocation,
    position: names(PositionValues),
    opacity: Type.Number({ minimum: 0, maximum: 1 }),
    scale: Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Watermark width as a fraction of the video width' }),
    margin: Type.Integer({ minimum: 0, maximum: 1000, description: 'Distance from the edges in pixels' }),
  },
  thumbnail: {
    timestamp: Seconds(0, 'Time of a single thumbnail'), time: Seconds(0, 'Time of a single thumbnail'),
    count: Type.Integer({ minimum: 1, maximum: Limits.maxThumbnails }),
    interval: Seconds(0.04, 'Seconds between thumbnails of a series'),
    width: Dimension('Width'), height: Dimension('Height'),
    quality: names(['low', 'medium', 'high'] as const),
  },
  thumbnail_grid: {
    rows: Type.Integer({ minimum: 1, maximum: Limits.maxGridCells }),
    cols: Type.Integer({ minimum: 1, maximum: Limits.maxGridCells }),
    columns: Type.Integer({ minimum: 1, maximum: Limits.maxGridCells }),
    width: Dimension('Width of the whole contact sheet'), height: Dimension('Height of the whole contact sheet'),
  },
} satisfies Record<string, Record<string, TSchema>>;

/** Each operation type of a request and whose fields it takes (aliases share their fields). */
const OperationTypes = {
  trim: 'trim', resize: 'resize', scale: 'resize', crop: 'crop', rotate: 'rotate', flip: 'flip',
  fps: 'fps', framerate: 'fps', speed: 'speed', transcode: 'transcode',
  filter: 'filter', color: 'filter', adjust: 'filter', deinterlace: 'filter', denoise: 'filter', sharpen: 'filter', blur: 'filter',
  fade: 'fade', fade_in: 'fade', fade_out: 'fade', watermark: 'watermark', thumbnail: 'thumbnail', thumbnail_grid: 'thumbnail_grid',
} as const satisfies Record<string, keyof typeof operationFields>;

function operation<K extends keyof typeof operationFields>(types: string[], fields: K) {
  const props = Object.fromEntries(Object.entries(operationFields[fields]).map(([k, s]) => [k, Type.Optional(s)]));
  return Type.Object({
    type: types.length === 1 ? Type.Literal(types[0]!) : Type.Union(types.map((t) => Type.Literal(t))),
    ...props,
    params: Type.Optional(Type.Object(props, { ...strict, description: 'The same fields, nested' })),
  }, strict);
}

/** An operation: a union discriminated on `type`; fields flat or under `params`. */
const OperationRequest = Type.Union(
  keys(operationFields).map((fields) => operation(keys(OperationTypes).filter((t) => OperationTypes[t] === fields), fields)),
  { description: 'An operation, discriminated on type; its fields flat or under "params"' },
);

const QualityGateRequest = Type.Object({
  vmaf_min: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  psnr_min: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'dB' })),
  ssim_min: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  on_fail: Type.Optional(names(['fail', 'reencode'] as const, 'fail the job, or re-encode once at a better setting first')),
}, { ...strict, description: 'Minimum quality the finished output must measure against its input' });

/** Job options; the reference also shows them at the top level of a request, so both work. */
const optionFields = {
  priority: Type.Optional(names(['low', 'normal', 'high'] as const)),
  hardware_acceleration: Type.Optional(Type.Union([Type.Boolean(), names(['auto', 'none', 'nvenc', 'gpu', 'cuda', 'nvidia', 'cpu'] as const)], { description: 'auto (true), none (false, cpu), nvenc (gpu, cuda, nvidia)' })),
  webhook_url: Type.Optional(Type.String({ maxLength: 2048, pattern: '^[hH][tT][tT][pP][sS]?://\\S+$', description: 'Signed POSTs on the job\'s events; never a private address' })),
  webhook_events: Type.Optional(Type.Array(names([...WebhookEventValues, ...keys(WebhookEventAliases)]))),
  timeout: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxSeconds, description: 'Same as timeout_seconds' })),
  timeout_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxSeconds })),
  presign_outputs: Type.Optional(Type.Union([Type.Boolean(), Type.Integer({ minimum: 60, maximum: Limits.maxPresignSeconds })], { description: 'Report presigned download URLs of S3 outputs, valid this many seconds (true: 3600)' })),
  parallelism: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: Limits.maxParallelism }), Type.Literal('auto')], { description: 'Split into chunks encoded by this many workers and stitched frame-exactly' })),
  chunk_seconds: Type.Optional(Type.Number({ minimum: Limits.minChunkSeconds, maximum: Limits.maxChunkSeconds })),
  verify: Type.Optional(Type.Boolean({ description: 'Check every output before it is published; default true' })),
  quality_gate: Type.Optional(QualityGateRequest),
};
const OptionsRequest = Type.Object(optionFields, strict);
const common = { options: Type.Optional(OptionsRequest), ...optionFields };

export const ConvertRequest = Type.Object({
  input: InputRequest,
  output: OutputRequest,
  operations: Type.Optional(Type.Array(OperationRequest, { maxItems: Limits.maxOperations })),
  ...common,
}, { ...strict, description: 'A convert job' });

export const StreamRequest = Type.Object({
  input: InputRequest,
  output: Type.Union([OutputLocation, Type.Object({ path: OutputLocation }, strict)], { description: 'The folder to write the stream into' }),
  type: Type.Optional(names(['hls', 'dash'] as const)),
  format: Type.Optional(names(['hls', 'dash'] as const, 'Same as type')),
  variants: Type.Optional(Type.Union([
    Type.Array(Type.Object({
      resolution: Type.Optional(Resolution),
      width: Type.Optional(Dimension('Width')),
      height: Type.Optional(Dimension('Height')),
      bitrate: VideoBitrate(),
      name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Rendition name; used in file names' })),
    }, strict), { minItems: 1, maxItems: Limits.maxVariants }),
    Type.Literal('auto', { description: 'A ladder built from the content (max_variants, min_bitrate, max_bitrate)' }),
  ])),
  segment_duration: Type.Optional(Type.Number({ minimum: 1, maximum: 60 })),
  video_codec: Type.Optional(names(['h264', 'h265', 'avc', 'hevc'] as const)),
  codec: Type.Optional(names(['h264', 'h265', 'avc', 'hevc'] as const, 'Same as video_codec')),
  audio_bitrate: Type.Optional(AudioBitrate()),
  max_variants: Type.Optional(Type.Integer({ minimum: 1, maximum: Limits.maxVariants })),
  min_bitrate: Type.Optional(VideoBitrate('Lowest rung at least')),
  max_bitrate: Type.Optional(VideoBitrate('Top rung at most')),
  ...common,
}, { ...strict, description: 'An HLS or DASH job' });

export const AnalyzeRequest = Type.Object({
  input: InputRequest,
  reference: InputRequest,
  metrics: Type.Optional(Type.Array(names(MetricValues), { minItems: 1 })),
  output: Type.Optional(Type.Union([OutputLocation, Type.Object({ path: OutputLocation }, strict)], { description: 'Where to write the per-frame metrics' })),
  ...common,
}, { ...strict, description: 'A quality analysis: VMAF, PSNR, SSIM against a reference' });

/** Estimates and batch items take any kind of job; its fields say which. */
export const AnyJobRequest = Type.Union([ConvertRequest, StreamRequest, AnalyzeRequest]);

export const BatchRequest = Type.Object({
  jobs: Type.Array(AnyJobRequest, { minItems: 1, maxItems: 100 }),
  batch_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  validate_files: Type.Optional(Type.Boolean({ description: 'Check that every input exists first (default true)' })),
}, strict);
