// Pure estimate of a job from the probe of its input and its spec: output length and size,
// processing time, and the resources a job would request. A model, not a constant: every
// figure follows from the input's duration, size and frame rate and from the codec settings.
import { ContainerRules, type MediaJobSpec, type VideoSettings } from '@kubeff/crds';
import { fit, type Dimensions } from './plan/geometry.ts';
import { trimOf } from './plan/operations.ts';
import { renditions } from './plan/stream.ts';
import type { MediaInfo } from './probe.ts';
import { candidateSizes, guessLadder, sampleCrfs } from './quality/ladder.ts';
import { MaxMeasuredFrames, samplePlan } from './quality/search.ts';

export interface Estimate {
  estimated: {
    /** Wall-clock seconds the job should take on the resources below: everything below added up. */
    duration_seconds: number;
    output_size_bytes: number;
    output_duration_seconds: number;
    /** Where the time goes, when more than the encode runs (seconds). */
    breakdown?: {
      encode_seconds: number;
      /** Checking every output before it is published (options.verify). */
      verify_seconds: number;
      /** Target VMAF's CRF search, or a per-title ladder's sampling. */
      quality_search_seconds: number;
      /** Measuring the finished output (target VMAF, quality gate); a gate's one re-encode is not counted. */
      quality_measure_seconds: number;
    };
  };
  resources: { cpu_cores: number; memory_gb: number; gpu_required: boolean };
}

// CPU-seconds per 1080p frame of libvmaf 3 (30 frames/s on 2 cores), and of PSNR/SSIM.
const vmafCost = 0.066;
const psnrSsimCost = 0.004;
// A lossless FFV1 sample of what the encoder sees: decode, the chain, FFV1.
const referenceCost = 0.02;
// Trial encodes a CRF search usually needs.
const expectedProbes = 3.5;

/** Seconds to decode `frames` of a size on `cores` (verification's full decode). */
function decodeSeconds(frames: number, size: Dimensions, cores: number): number {
  return (frames * decodeCost * ((size.width * size.height) / fullHd)) / Math.max(1, cores * parallelEfficiency);
}

const fullHd = 1920 * 1080;
// CPU-seconds to encode one 1080p frame at preset "medium" (measured order of magnitude, x264 = 1).
const encodeCost: Record<string, number> = { h264: 0.12, h265: 0.5, vp9: 0.35, av1: 0.45, gif: 0.03, copy: 0 };
const presetFactor: Record<string, number> = { ultrafast: 0.15, superfast: 0.25, veryfast: 0.4, faster: 0.6, fast: 0.8, medium: 1, slow: 1.8, slower: 3.5, veryslow: 7 };
// Bits per pixel at CRF 23-equivalent quality; halves every 6 CRF steps.
const bppAtDefault: Record<string, { bpp: number; crf: number }> = {
  h264: { bpp: 0.1, crf: 23 }, h265: { bpp: 0.06, crf: 28 }, vp9: { bpp: 0.065, crf: 32 }, av1: { bpp: 0.05, crf: 35 }, gif: { bpp: 0.5, crf: 0 },
};
const decodeCost = 0.012;
const parallelEfficiency = 0.85;
const nvencSpeedup = 6;

function cores(size: Dimensions, codec: string): number {
  const px = size.width * size.height;
  const base = px <= 1280 * 720 ? 2 : px <= fullHd ? 4 : 8;
  return Math.min(16, codec === 'h265' || codec === 'av1' ? base * 2 : base);
}

function memoryGb(size: Dimensions, codec: string): number {
  // Frame buffers for lookahead and reference frames dominate.
  const frames = codec === 'h265' || codec === 'av1' ? 200 : 120;
  return Math.max(1, Math.ceil(0.5 + (size.width * size.height * 1.5 * frames) / 1e9));
}

function videoBytesPerSecond(codec: string, v: VideoSettings, size: Dimensions, fps: number): number {
  if (v.bitrate !== undefined) return v.bitrate / 8;
  const m = bppAtDefault[codec] ?? { bpp: 0.1, crf: 23 };
  const bpp = m.bpp * 2 ** ((m.crf - (v.crf ?? m.crf)) / 6);
  return (bpp * size.width * size.height * fps) / 8;
}

function audioBytesPerSecond(codec: string | undefined, bitrate: number | undefined, info: MediaInfo, channels?: number): number {
  const ch = channels ?? info.audio?.channels ?? 2;
  if (codec === 'pcm') return (info.audio?.sampleRate || 48000) * ch * 2;
  if (codec === 'flac') return ((info.audio?.sampleRate || 48000) * ch * 2) * 0.6;
  if (codec === 'copy') return (info.audio ? 128_000 : 0) / 8;
  return (bitrate ?? 128_000) / 8;
}

const round = (n: number, p = 1) => Number(n.toFixed(p));

export function estimateJob(spec: MediaJobSpec, info: MediaInfo, reference?: MediaInfo): Estimate {
  const fps = info.video?.fps || 25;
  const src: Dimensions = { width: info.video?.width || 1280, height: info.video?.height || 720 };
  const gpu = spec.options.hardwareAcceleration === 'nvenc';

  if (spec.type === 'analyze') {
    const seconds = Math.min(info.durationSeconds, reference?.durationSeconds ?? Infinity);
    const frames = seconds * fps;
    const size = reference?.video ? { width: reference.video.width, height: reference.video.height } : src;
    const perFrame = (decodeCost * 2 + 0.06 * (spec.analyze?.metrics.includes('vmaf') ? 1 : 0.2)) * ((size.width * size.height) / fullHd);
    const c = cores(size, 'h264');
    return {
      estimated: { duration_seconds: round((frames * perFrame) / (c * parallelEfficiency)), output_size_bytes: Math.round(frames * 60), output_duration_seconds: 0 },
      resources: { cpu_cores: c, memory_gb: memoryGb(size, 'h264'), gpu_required: false },
    };
  }

  if (spec.type === 'stream' && spec.stream) {
    const s = spec.stream;
    const seconds = info.durationSeconds;
    // A per-title ladder is not known before sampling: assume the dense one complex content gets.
    const { keep } = renditions(s.variants ?? guessLadder(src, s.perTitle ?? { maxVariants: 5 }, s.videoCodec), src);
    const frames = seconds * fps;
    const veryfast = presetFactor['veryfast'] as number;
    const cost = keep.reduce((sum, r) => sum + (encodeCost[s.videoCodec] ?? 0.12) * veryfast * ((r.size.width * r.size.height) / fullHd), decodeCost * ((src.width * src.height) / fullHd));
    const c = cores(src, s.videoCodec);
    const bytes = keep.reduce((sum, r) => sum + r.bitrate / 8, info.audio ? s.audioBitrate / 8 : 0) * seconds;
    const encode = (frames * cost) / (c * parallelEfficiency) / (gpu ? nvencSpeedup : 1);
    const verify = spec.options.verify === false ? 0 : keep.reduce((sum, r) => sum + decodeSeconds(frames, r.size, c), 0);
    let search = 0;
    if (s.perTitle) {
      // Samples at every candidate size and CRF, each measured at the source's size.
      const plan = samplePlan(seconds, 4);
      const sampleFrames = plan.starts.length * plan.seconds * fps;
      const sizes = candidateSizes(src);
      const points = sizes.reduce((n, size) => n + sampleCrfs(s.videoCodec, size.height === src.height).length, 0);
      const encodes = sizes.reduce((sum, size) => sum + sampleCrfs(s.videoCodec, size.height === src.height).length * (encodeCost[s.videoCodec] ?? 0.12) * veryfast * ((size.width * size.height) / fullHd), 0);
      search = (sampleFrames * (referenceCost * ((src.width * src.height) / fullHd) + encodes + points * vmafCost * ((src.width * src.height) / fullHd))) / (c * parallelEfficiency);
    }
    return {
      estimated: {
        duration_seconds: round(encode + verify + search), output_size_bytes: Math.round(bytes), output_duration_seconds: round(seconds, 3),
        ...breakdown(encode, verify, search, 0),
      },
      resources: { cpu_cores: c, memory_gb: memoryGb(src, s.videoCodec) + keep.length - 1, gpu_required: gpu },
    };
  }

  const out = spec.output;
  const rule = out ? ContainerRules[out.format] : undefined;
  const { seconds: trimmed } = trimOf(spec.operations, info.durationSeconds);
  const speed = spec.operations.reduce((f, o) => (o.type === 'speed' ? f * o.factor : f), 1);
  const seconds = trimmed / speed;
  const v = out?.video ?? {};
  const a = out?.audio ?? {};

  if (rule?.kind === 'image') {
    const thumb = spec.operations.find((o) => o.type === 'thumbnail');
    const grid = spec.operations.find((o) => o.type === 'thumbnail_grid');
    const count = thumb?.type === 'thumbnail' ? (thumb.count ?? (thumb.interval ? Math.min(100, Math.floor(seconds / thumb.interval)) : 1)) : 1;
    const size = grid?.type === 'thumbnail_grid' ? { width: grid.width, height: grid.height } : thumb?.type === 'thumbnail' ? fit(src, thumb) : src;
    const decodeFrames = count === 1 && !grid ? fps : seconds * fps;
    return {
      estimated: { duration_seconds: round((decodeFrames * decodeCost * ((src.width * src.height) / fullHd)) / 2 + 0.2), output_size_bytes: Math.round(count * size.width * size.height * 0.15), output_duration_seconds: 0 },
      resources: { cpu_cores: 1, memory_gb: 1, gpu_required: false },
    };
  }

  const codec = v.codec ?? rule?.defaultVideo;
  const hasVideo = rule?.kind === 'av' && info.video !== undefined && !info.isImage && codec !== undefined;
  let size = src;
  for (const op of spec.operations) {
    if (op.type === 'scale') size = fit(size, op);
    if (op.type === 'crop') size = { width: op.width, height: op.height };
    if (op.type === 'rotate' && op.degrees !== 180) size = { width: size.height, height: size.width };
  }
  if (v.width !== undefined || v.height !== undefined) size = fit(size, v);
  const outFps = v.fps ?? spec.operations.reduce((f, o) => (o.type === 'fps' ? o.fps : f), fps);
  const videoBps = hasVideo && codec ? (codec === 'copy' ? (info.bitrate ?? 2_000_000) / 8 : videoBytesPerSecond(codec, v, size, outFps)) : 0;
  const acodec = a.codec ?? rule?.defaultAudio;
  const audioBps = info.audio && acodec ? audioBytesPerSecond(acodec, a.bitrate, info, a.channels) : 0;
  const frames = seconds * outFps;
  const perFrame = hasVideo && codec
    ? decodeCost * ((src.width * src.height) / fullHd) + (encodeCost[codec] ?? 0.12) * (presetFactor[v.preset ?? 'medium'] ?? 1) * ((size.width * size.height) / fullHd)
    : 0;
  const c = hasVideo && codec ? cores(size, codec) : 1;
  const audioTime = seconds * (a.normalize ? 0.004 : 0.002);
  const processing = (frames * perFrame) / (c * parallelEfficiency) / (gpu ? nvencSpeedup : 1) + audioTime;
  const verify = spec.options.verify === false ? 0 : hasVideo ? decodeSeconds(frames, size, c) : seconds * 0.001;
  const px = (size.width * size.height) / fullHd;
  let search = 0;
  if (hasVideo && codec && v.targetVmaf !== undefined) {
    // Lossless samples once, then each trial: an encode of them and their VMAF.
    const plan = samplePlan(seconds, v.vmafSamples ?? 4);
    const sampleFrames = plan.starts.length * plan.seconds * outFps;
    const trial = (encodeCost[codec] ?? 0.12) * (presetFactor[v.preset ?? 'medium'] ?? 1) * px + vmafCost * px;
    search = (sampleFrames * (referenceCost * px + expectedProbes * trial)) / (c * parallelEfficiency);
  }
  const gate = spec.options.qualityGate;
  let measure = 0;
  if (hasVideo && (v.targetVmaf !== undefined || gate)) {
    const vmaf = v.targetVmaf !== undefined || gate?.vmafMin !== undefined;
    const measured = frames / Math.max(1, Math.ceil(frames / MaxMeasuredFrames));
    measure = (frames * 2 * decodeCost * px + (vmaf ? measured * vmafCost * px : 0) + (gate?.psnrMin !== undefined || gate?.ssimMin !== undefined ? frames * psnrSsimCost * px : 0)) / (c * parallelEfficiency);
  }
  const encode = processing + 0.2;
  return {
    estimated: {
      duration_seconds: round(encode + verify + search + measure), output_size_bytes: Math.round((videoBps + audioBps) * seconds), output_duration_seconds: round(seconds, 3),
      ...breakdown(encode, verify, search, measure),
    },
    resources: { cpu_cores: c, memory_gb: hasVideo && codec ? memoryGb(size, codec) : 1, gpu_required: gpu },
  };
}

/** The breakdown, when anything but the encode takes time. */
function breakdown(encode: number, verify: number, search: number, measure: number): { breakdown?: NonNullable<Estimate['estimated']['breakdown']> } {
  if (verify + search + measure === 0) return {};
  return { breakdown: { encode_seconds: round(encode), verify_seconds: round(verify), quality_search_seconds: round(search), quality_measure_seconds: round(measure) } };
}
