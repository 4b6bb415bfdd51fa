// Semantic rules on a canonical spec that need no probe of the media: codec/container
// compatibility, settings that contradict each other, operations that cannot be combined.
// The worker checks what depends on the input itself (streams present, times inside duration).
import { ContainerRules, containersFor } from './containers.ts';
import { issue, type SpecIssue } from './errors.ts';
import { locationKind } from './paths.ts';
import type { MediaJobSpec, Operation, OutputSpec } from './spec.ts';

const videoOps = new Set<Operation['type']>([
  'scale', 'crop', 'rotate', 'flip', 'fps', 'deinterlace', 'denoise', 'sharpen', 'blur', 'color', 'watermark', 'thumbnail', 'thumbnail_grid',
]);

const crfRange: Record<string, number> = { h264: 51, h265: 51, vp9: 63, av1: 63 };
const profiles: Record<string, readonly string[]> = {
  h264: ['baseline', 'main', 'high', 'high10', 'high422', 'high444'],
  h265: ['main', 'main10', 'main-still-picture'],
};

/** Canonical field names as the request spells them. */
function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function validateSpec(spec: MediaJobSpec): SpecIssue[] {
  const out: SpecIssue[] = [];
  validateOperations(spec.operations, out);
  if (spec.type === 'convert') {
    if (!spec.output) out.push(issue('INVALID_OUTPUT', 'output', 'is required for a convert job'));
    else validateOutput(spec, spec.output, out);
  }
  if (spec.type === 'stream' && spec.stream) {
    const st = spec.stream;
    const seen = new Set<string>();
    st.variants?.forEach((v, i) => {
      if (seen.has(v.name)) out.push(issue('INVALID_OUTPUT', `variants[${i}].name`, `'${v.name}' is used by two variants; names must be unique`, { value: v.name }));
      seen.add(v.name);
    });
    if ((st.variants === undefined) === (st.perTitle === undefined)) {
      out.push(issue('INVALID_OUTPUT', 'variants', st.variants ? 'give a ladder or "auto", not both' : 'is required: a list of renditions, or "auto" for a ladder built from the content'));
    }
    const pt = st.perTitle;
    if (pt?.minBitrate !== undefined && pt.maxBitrate !== undefined && pt.minBitrate >= pt.maxBitrate) {
      out.push(issue('INVALID_OUTPUT', 'min_bitrate', 'must be below max_bitrate', { value: pt.minBitrate }));
    }
    if (st.path === spec.input.path) out.push(issue('INVALID_OUTPUT', 'output', 'must not be the input path', { value: st.path }));
  }
  validateQuality(spec, out);
  validateSplit(spec, out);
  if (spec.options.presignOutputSeconds !== undefined) {
    const outs = [spec.output?.path, spec.stream?.path, spec.analyze?.path].filter((p) => p !== undefined);
    if (!outs.some((p) => locationKind(p) === 's3')) {
      out.push(issue('INVALID_REQUEST', 'options.presign_outputs', 'only S3 outputs have presigned URLs; this job writes to storage', { suggestion: 'download storage outputs with GET /api/v1/files?path=...' }));
    }
  }
  if (spec.type === 'analyze' && spec.analyze?.path !== undefined && [spec.input.path, spec.analyze.reference].includes(spec.analyze.path)) {
    out.push(issue('INVALID_OUTPUT', 'output', 'must not be the input or reference path', { value: spec.analyze.path }));
  }
  return out;
}

function validateOperations(ops: readonly Operation[], out: SpecIssue[]): void {
  const count = (t: Operation['type']) => ops.filter((o) => o.type === t).length;
  for (const t of ['trim', 'thumbnail', 'thumbnail_grid', 'watermark'] as const) {
    if (count(t) > 1) out.push(issue('INVALID_OPERATION', 'operations', `only one '${t}' operation is allowed`));
  }
  if (count('thumbnail') && count('thumbnail_grid')) {
    out.push(issue('INVALID_OPERATION', 'operations', "'thumbnail' and 'thumbnail_grid' cannot be combined in one job"));
  }
  ops.forEach((op, i) => {
    const field = `operations[${i}]`;
    if (op.type === 'trim') {
      if (op.duration !== undefined && op.end !== undefined) out.push(issue('INVALID_OPERATION', field, 'give duration or end, not both'));
      if (op.end !== undefined && op.end <= op.start) out.push(issue('INVALID_OPERATION', `${field}.end`, 'must be after start', { value: op.end }));
    }
    if (op.type === 'thumbnail') {
      const modes = [op.timestamp, op.count, op.interval].filter((x) => x !== undefined).length;
      if (modes > 1) out.push(issue('INVALID_OPERATION', field, 'give one of timestamp, count or interval'));
    }
  });
}

function validateOutput(spec: MediaJobSpec, o: OutputSpec, out: SpecIssue[]): void {
  const rule = ContainerRules[o.format];
  const imageJob = spec.operations.some((op) => op.type === 'thumbnail' || op.type === 'thumbnail_grid');
  if (o.path === spec.input.path) out.push(issue('INVALID_OUTPUT', 'output.path', 'must not overwrite the input', { value: o.path }));
  spec.operations.forEach((op, i) => {
    if (op.type === 'watermark' && op.image === o.path) out.push(issue('INVALID_OUTPUT', 'output.path', 'must not overwrite the watermark image', { value: o.path }));
    if (rule.kind === 'audio' && videoOps.has(op.type)) {
      out.push(issue('INVALID_OPERATION', `operations[${i}].type`, `'${op.type}' changes video, but '${o.format}' is an audio-only format`, { value: op.type }));
    }
  });
  if (imageJob !== (rule.kind === 'image')) {
    out.push(
      imageJob
        ? issue('INVALID_OUTPUT', 'output.format', 'thumbnails are written as images', { value: o.format, allowed: ['jpg', 'png', 'webp'] })
        : issue('INVALID_OUTPUT', 'output.format', `'${o.format}' is an image format; add a thumbnail operation or choose a video format`, { value: o.format, suggestion: "use 'mp4'" }),
    );
  }
  if (rule.kind === 'image') {
    if (o.video || o.audio) out.push(issue('INVALID_OUTPUT', o.video ? 'output.video' : 'output.audio', 'thumbnails take their size from the thumbnail operation'));
    return;
  }
  const v = o.video;
  if (v) {
    if (rule.video.length === 0) {
      out.push(issue('INVALID_OUTPUT', 'output.video', `'${o.format}' is an audio-only format and has no video`, { suggestion: "remove output.video or choose 'mp4'" }));
    } else if (v.codec && !rule.video.includes(v.codec)) {
      const homes = containersFor(v.codec, 'video');
      out.push(issue('INVALID_CODEC_FORMAT', 'output.video.codec', `Codec '${v.codec}' is incompatible with format '${o.format}'`, {
        value: v.codec,
        allowed: rule.video,
        suggestion: homes.length ? `Use '${homes.join("' or '")}' format or change codec to '${rule.defaultVideo}'` : undefined,
      }));
    }
    const codec = v.codec ?? rule.defaultVideo;
    if (codec === 'copy') {
      const touched = (['width', 'height', 'fps', 'crf', 'bitrate', 'preset', 'pixelFormat', 'profile'] as const).filter((k) => v[k] !== undefined);
      for (const k of touched) out.push(issue('CODEC_MISMATCH', `output.video.${snake(k)}`, "cannot be set when the video codec is 'copy'"));
      spec.operations.forEach((op, i) => {
        if (videoOps.has(op.type) || op.type === 'speed' || op.type === 'fade') {
          out.push(issue('CODEC_MISMATCH', `operations[${i}].type`, `'${op.type}' re-encodes the video, so the video codec cannot be 'copy'`, { value: op.type, suggestion: "set output.video.codec to 'h264'" }));
        }
      });
    }
    if (codec && v.crf !== undefined && crfRange[codec] !== undefined && v.crf > (crfRange[codec] as number)) {
      out.push(issue('CODEC_MISMATCH', 'output.video.crf', `must be at most ${crfRange[codec]} for ${codec}`, { value: v.crf }));
    }
    if (v.crf !== undefined && v.bitrate !== undefined) out.push(issue('INVALID_OUTPUT', 'output.video.crf', 'give crf or bitrate, not both'));
    if (v.targetVmaf !== undefined) {
      for (const k of ['crf', 'bitrate'] as const) {
        if (v[k] !== undefined) out.push(issue('INVALID_OUTPUT', 'output.video.target_vmaf', `cannot be combined with ${k}: the CRF is chosen to reach the target`, { value: v.targetVmaf, suggestion: `remove output.video.${k}, or target_vmaf` }));
      }
      if (codec === 'copy' || codec === 'gif') out.push(issue('CODEC_MISMATCH', 'output.video.target_vmaf', `does not apply to '${codec}': nothing is encoded to a quality`, { value: v.targetVmaf }));
    }
    if (v.vmafSamples !== undefined && v.targetVmaf === undefined) {
      out.push(issue('INVALID_OUTPUT', 'output.video.vmaf_samples', 'applies only with output.video.target_vmaf', { value: v.vmafSamples }));
    }
    if (v.maxBitrate !== undefined && v.bitrate !== undefined && v.maxBitrate < v.bitrate) {
      out.push(issue('INVALID_OUTPUT', 'output.video.max_bitrate', 'must be at least output.video.bitrate', { value: v.maxBitrate }));
    }
    if (v.maxBitrate !== undefined && (codec === 'copy' || codec === 'gif')) out.push(issue('CODEC_MISMATCH', 'output.video.max_bitrate', `does not apply to '${codec}'`, { value: v.maxBitrate }));
    if (codec && v.profile !== undefined && !(profiles[codec] ?? []).includes(v.profile)) {
      out.push(issue('CODEC_MISMATCH', 'output.video.profile', `'${v.profile}' is not a ${codec} profile`, { value: v.profile, allowed: profiles[codec] ?? [] }));
    }
    if (codec === 'gif' && v.pixelFormat) out.push(issue('CODEC_MISMATCH', 'output.video.pixel_format', 'GIF uses a palette; pixel_format does not apply'));
  }
  const a = o.audio;
  if (a) {
    if (rule.audio.length === 0) {
      out.push(issue('INVALID_OUTPUT', 'output.audio', `'${o.format}' cannot hold audio`, { suggestion: "remove output.audio or choose 'mp4'" }));
    } else if (a.codec && !rule.audio.includes(a.codec)) {
      const homes = containersFor(a.codec, 'audio');
      out.push(issue('INVALID_CODEC_FORMAT', 'output.audio.codec', `Codec '${a.codec}' is incompatible with format '${o.format}'`, {
        value: a.codec,
        allowed: rule.audio,
        suggestion: homes.length ? `Use '${homes.join("' or '")}' format or change codec to '${rule.defaultAudio}'` : undefined,
      }));
    }
    const codec = a.codec ?? rule.defaultAudio;
    if (codec === 'copy') {
      const touched = (['bitrate', 'channels', 'sampleRate', 'normalize'] as const).filter((k) => a[k] !== undefined && a[k] !== false);
      for (const k of touched) out.push(issue('CODEC_MISMATCH', `output.audio.${snake(k)}`, "cannot be set when the audio codec is 'copy'"));
      spec.operations.forEach((op, i) => {
        if (op.type === 'speed' || op.type === 'fade') out.push(issue('CODEC_MISMATCH', `operations[${i}].type`, `'${op.type}' changes the audio, so the audio codec cannot be 'copy'`));
      });
    }
    if ((codec === 'pcm' || codec === 'flac') && a.bitrate !== undefined) {
      out.push(issue('CODEC_MISMATCH', 'output.audio.bitrate', `${codec} is lossless; bitrate does not apply`, { value: a.bitrate }));
    }
    if (codec === 'opus' && a.sampleRate !== undefined && !['8000', '16000', '24000', '48000'].includes(a.sampleRate)) {
      out.push(issue('CODEC_MISMATCH', 'output.audio.sample_rate', 'opus supports 8000, 16000, 24000 or 48000 Hz', { value: a.sampleRate, allowed: ['8000', '16000', '24000', '48000'] }));
    }
  }
}

/**
 * A quality gate measures a video encode against its input: it needs a convert that encodes
 * video, and at least one threshold.
 */
function validateQuality(spec: MediaJobSpec, out: SpecIssue[]): void {
  const gate = spec.options.qualityGate;
  if (!gate) return;
  if (gate.vmafMin === undefined && gate.psnrMin === undefined && gate.ssimMin === undefined) {
    out.push(issue('INVALID_REQUEST', 'options.quality_gate', 'needs at least one of vmaf_min, psnr_min, ssim_min', { allowed: ['vmaf_min', 'psnr_min', 'ssim_min'] }));
  }
  if (spec.type !== 'convert') {
    out.push(issue('INVALID_REQUEST', 'options.quality_gate', `applies to convert jobs; a ${spec.type} job has no single output to measure`));
    return;
  }
  const o = spec.output;
  if (!o) return;
  const rule = ContainerRules[o.format];
  const codec = o.video?.codec ?? rule.defaultVideo;
  const p = spec.options.parallelism;
  if (gate.onFail === 'reencode' && p !== undefined && p !== 1) {
    out.push(issue('INVALID_REQUEST', 'options.quality_gate.on_fail', '"reencode" is not available for split jobs (parallelism): the chunks would all be encoded again; use "fail"', { value: gate.onFail, allowed: ['fail'] }));
  }
  if (rule.kind !== 'av' || !codec || codec === 'copy' || codec === 'gif') {
    out.push(issue('INVALID_REQUEST', 'options.quality_gate', rule.kind === 'image' ? 'thumbnails are not measured' : rule.kind === 'audio' ? `'${o.format}' is audio-only: quality metrics compare video` : `a '${codec}' video is not encoded to a quality`, { value: o.format }));
  }
}

/**
 * Split-and-stitch applies to video encodes. An explicit parallelism above 1 on a job that cannot
 * be split is refused with the reason; "auto" quietly means one FFmpeg for such jobs.
 */
function validateSplit(spec: MediaJobSpec, out: SpecIssue[]): void {
  const p = spec.options.parallelism;
  if (spec.options.chunkSeconds !== undefined && (p === undefined || p === 1)) {
    out.push(issue('INVALID_REQUEST', 'options.chunk_seconds', 'applies only to split jobs; set options.parallelism above 1 or to "auto"', { value: spec.options.chunkSeconds }));
  }
  if (typeof p !== 'number' || p === 1) return;
  const why = splitRefusal(spec);
  if (why) out.push(issue('INVALID_REQUEST', 'options.parallelism', `cannot split this job: ${why}`, { value: p, suggestion: 'leave options.parallelism out (or 1) to run it as one FFmpeg' }));
}

/** Pure: why a job cannot be split and stitched, or undefined when it can. Needs no probe. */
export function splitRefusal(spec: MediaJobSpec): string | undefined {
  if (spec.type === 'analyze') return 'quality metrics compare whole timelines in one pass';
  if (spec.type === 'stream') return undefined;
  const o = spec.output;
  if (!o) return undefined;
  const rule = ContainerRules[o.format];
  if (rule.kind === 'image') return 'thumbnails are single images, there is no timeline to split';
  if (rule.kind === 'audio') return `'${o.format}' is audio-only; splitting applies to video, and audio is always encoded once over the whole input`;
  const codec = o.video?.codec ?? rule.defaultVideo;
  if (codec === 'copy') return 'a stream copy cannot be cut on exact frames; chunks must be re-encoded';
  if (codec === 'gif') return 'a GIF palette is made from the whole clip; chunks would change colours at their boundaries';
  return undefined;
}
