// Pure planners for measuring quality while a job runs (target VMAF, quality gates, per-title
// ladders): lossless references of samples, encodes of them, and VMAF/PSNR/SSIM of an encode
// against what the encoder was given. Side files are named relatively inside a scratch folder
// (the step's working directory), so no path enters a filter graph.
import type { OutputSpec, StreamSpec, VideoSettings } from '@kubeff/crds';
import type { VmafStyle } from '../capabilities.ts';
import { VmafModelFiles } from './analyze.ts';
import { convertVideo, threadArgs } from './convert.ts';
import { pixelFormat, videoEncoder } from './encoders.ts';
import { filter, num } from './graph.ts';
import { speedFactor } from './convert.ts';
import { trimArgs, trimOf } from './operations.ts';
import { commonArgs, fileInput, type FfmpegStep, type PlanContext } from './types.ts';

export interface VmafTool {
  ffmpeg: string;
  style: VmafStyle;
}

/**
 * Lossless samples, played one after another: an ffconcat list of their files. Every reader gives
 * the frames evenly spaced timestamps (where two samples meet, their own would nearly collide and
 * an encoder would drop a frame), so the n-th frame of every encode of them is the n-th of them.
 */
export interface Samples {
  list: string;
  fps: number;
}

function samplesInput(s: Samples): string[] {
  return ['-f', 'concat', '-safe', '0', ...fileInput(s.list)];
}

function renumber(s: Samples): string {
  return filter('setpts', [`N/(${num(s.fps)}*TB)`]);
}

/** A lossless codec for samples: x264 at QP 0 for 8-bit video (fast both ways), FFV1 for the rest. */
export function losslessArgs(pixelFormat: string, encoders: ReadonlySet<string>): string[] {
  if (/^yuv4[24][024]p$/.test(pixelFormat) && encoders.has('libx264')) return ['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0'];
  return ['-c:v', 'ffv1', '-level', '3', '-slices', '4', '-threads', '2'];
}

/** Per-frame logs of a measurement, in its working folder. */
export const QualityFiles = { vmaf: 'vmaf.json', psnr: 'psnr.log', ssim: 'ssim.log' } as const;

/** The libvmaf filter in the spelling of its version; the model file sits in the working folder. */
export function vmafFilter(style: VmafStyle, log: string, subsample = 1): string {
  return style === 'model'
    ? // libvmaf 2.x and later: the value of model is itself key=value; only our constant names appear here.
      `libvmaf=model=path=${VmafModelFiles.model}:log_path=${log}:log_fmt=json:n_threads=2:n_subsample=${subsample}`
    : filter('libvmaf', { model_path: VmafModelFiles.model_path, log_path: log, log_fmt: 'json', n_threads: 2, n_subsample: subsample });
}

/** The spec with the encoder's quality set another way (a CRF the search chose, a re-encode). */
export function withQuality(ctx: PlanContext, set: Pick<VideoSettings, 'crf' | 'bitrate'>): PlanContext {
  const out = ctx.spec.output as OutputSpec;
  const video: VideoSettings = { ...out.video, crf: undefined, bitrate: undefined, targetVmaf: undefined, vmafSamples: undefined, ...set };
  for (const k of Object.keys(video) as (keyof VideoSettings)[]) if (video[k] === undefined) delete video[k];
  return { ...ctx, spec: { ...ctx.spec, output: { ...out, video } } };
}

/**
 * A sample of the input through the job's video chain, lossless (FFV1) at the output's size and
 * pixel format: exactly what the encoder is given, to encode at trial CRFs and to measure them
 * against. `start` and `seconds` are in output time.
 */
export function planReferenceSample(ctx: PlanContext, start: number, seconds: number, outFile: string): FfmpegStep {
  const { trim } = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
  const speed = speedFactor(ctx.spec.operations);
  const video = convertVideo(ctx);
  const at = (trim?.start ?? 0) + start * speed;
  const args = [...commonArgs(ctx), ...fileInput(ctx.input, ['-ss', num(at), '-t', num(seconds * speed)])];
  if (ctx.watermark) args.push(...fileInput(ctx.watermark));
  const pf = video.pixelFormat ?? 'yuv420p';
  args.push('-filter_complex', video.graph.join(';'), '-map', '[vout]', ...losslessArgs(pf, ctx.encoders), '-pix_fmt', pf, '-an', '-map_metadata', '-1', '-f', 'nut', '-protocol_whitelist', 'file', `file:${outFile}`);
  return { stage: 'preparing quality samples', ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 0 };
}

/**
 * The samples encoded with the job's encoder settings at one or more qualities (CRF or bitrate),
 * from one decode: encoders of short clips leave cores idle, so trials run side by side.
 */
export function planSampleEncode(ctx: PlanContext, reference: Samples, sets: readonly Pick<VideoSettings, 'crf' | 'bitrate'>[], outFiles: readonly string[], seconds: number, label: string): FfmpegStep {
  const n = sets.length;
  const args = [...commonArgs(ctx), ...samplesInput(reference), '-filter_complex', `[0:v:0]${renumber(reference)}${n > 1 ? `,split=${n}${sets.map((_, i) => `[t${i}]`).join('')}` : '[t0]'}`];
  sets.forEach((set, i) => {
    const v = (withQuality(ctx, set).spec.output as OutputSpec).video ?? {};
    const codec = (v.codec ?? 'h264') as 'h264' | 'h265' | 'vp9' | 'av1';
    const nvenc = ctx.acceleration.encode === 'nvenc';
    // Matroska-like NUT: no MP4 codec tag (hvc1) on a sample.
    const enc = videoEncoder(codec, v, { encoders: ctx.encoders, nvenc, container: 'mkv' });
    const cap = v.maxBitrate !== undefined ? ['-maxrate', String(v.maxBitrate), '-bufsize', String(v.maxBitrate * 2)] : [];
    args.push('-map', `[t${i}]`, ...enc.args, ...cap, '-pix_fmt', pixelFormat(v, nvenc), ...threadArgs(ctx), '-an', '-map_metadata', '-1', '-f', 'nut', '-protocol_whitelist', 'file', `file:${outFiles[i]}`);
  });
  return { stage: label, ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 0 };
}

export type QualityMetric = 'vmaf' | 'psnr' | 'ssim';

/**
 * The metrics of a finished output against the input through the job's own chain (what the
 * encoder was given), in one run of the VMAF-capable FFmpeg: the input is input 0 (and the
 * watermark input 1), as in the job's graph, the output comes last. Logs go to `cwd`.
 */
export function planMeasureOutput(ctx: PlanContext, tool: VmafTool, output: string, metrics: readonly QualityMetric[], opts: { cwd: string; subsample: number; weight: number }): FfmpegStep {
  const { trim } = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
  const video = convertVideo(ctx);
  const args = [...commonArgs(ctx), ...fileInput(ctx.input, trimArgs(trim))];
  let outIndex = 1;
  if (ctx.watermark) {
    args.push(...fileInput(ctx.watermark));
    outIndex = 2;
  }
  args.push(...fileInput(output));
  const norm = [filter('format', { pix_fmts: 'yuv420p' }), filter('setpts', ['PTS-STARTPTS'])];
  const k = metrics.length;
  const split = (p: string) => (k > 1 ? `,split=${k}${metrics.map((_, i) => `[${p}${i}]`).join('')}` : `[${p}0]`);
  const graph = [...video.graph, `[vout]${norm.join(',')}${split('r')}`, `[${outIndex}:v:0]${norm.join(',')}${split('d')}`];
  metrics.forEach((m, i) => {
    const f = m === 'vmaf' ? vmafFilter(tool.style, QualityFiles.vmaf, opts.subsample) : filter(m, { stats_file: QualityFiles[m] });
    graph.push(`[d${i}][r${i}]${f}[m${i}]`);
  });
  args.push('-filter_complex', graph.join(';'));
  metrics.forEach((_, i) => args.push('-map', `[m${i}]`, '-f', 'null', '-'));
  return { stage: `measuring ${metrics.join(', ').toUpperCase()}`, ffmpeg: tool.ffmpeg, args, cwd: opts.cwd, expectedSeconds: video.seconds, weight: opts.weight };
}

/** A sample of a stream job's input, lossless at the source's size: the top of a per-title ladder. */
export function planSourceSample(ctx: PlanContext, start: number, seconds: number, outFile: string): FfmpegStep {
  const args = [...commonArgs(ctx), ...fileInput(ctx.input, ['-ss', num(start), '-t', num(seconds)]), '-map', '0:v:0', ...losslessArgs('yuv420p', ctx.encoders), '-pix_fmt', 'yuv420p', '-an', '-map_metadata', '-1', '-f', 'nut', '-protocol_whitelist', 'file', `file:${outFile}`];
  return { stage: 'preparing ladder samples', ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 0 };
}

/** The samples scaled to one size of a ladder and encoded at several CRFs, from one decode. */
export function planLadderPoints(ctx: PlanContext, reference: Samples, size: { width: number; height: number }, crfs: readonly number[], outFiles: readonly string[], seconds: number): FfmpegStep {
  const s = ctx.spec.stream as StreamSpec;
  const n = crfs.length;
  const graph = `[0:v:0]${renumber(reference)},${filter('scale', { w: size.width, h: size.height })}${n > 1 ? `,split=${n}${crfs.map((_, i) => `[p${i}]`).join('')}` : '[p0]'}`;
  const args = [...commonArgs(ctx), ...samplesInput(reference), '-filter_complex', graph];
  crfs.forEach((crf, i) => {
    const enc = videoEncoder(s.videoCodec, { preset: 'veryfast', crf }, { encoders: ctx.encoders, nvenc: ctx.acceleration.encode === 'nvenc', container: 'mkv' });
    args.push('-map', `[p${i}]`, ...enc.args, '-pix_fmt', 'yuv420p', ...threadArgs(ctx), '-an', '-map_metadata', '-1', '-f', 'nut', '-protocol_whitelist', 'file', `file:${outFiles[i]}`);
  });
  return { stage: `sampling the ladder at ${size.width}x${size.height}`, ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 0 };
}

/** VMAF of several encodes of the samples against them in one run, each first upscaled to `top` as a player would (when smaller). */
export function planVmafMany(tool: VmafTool, distorted: readonly string[], reference: Samples, logs: readonly string[], top: { width: number; height: number } | undefined, opts: { cwd: string; seconds: number; label: string; statsPeriod: boolean; subsample?: number }): FfmpegStep {
  const n = distorted.length;
  const norm = [filter('format', { pix_fmts: 'yuv420p' }), renumber(reference)];
  const args = [...commonArgs({ statsPeriod: opts.statsPeriod })];
  for (const d of distorted) args.push(...fileInput(d));
  args.push(...samplesInput(reference));
  const graph = [`[${n}:v:0]${norm.join(',')}${n > 1 ? `,split=${n}${distorted.map((_, i) => `[r${i}]`).join('')}` : '[r0]'}`];
  distorted.forEach((_, i) => {
    const up = top ? [filter('scale', { w: top.width, h: top.height, flags: 'bicubic' })] : [];
    graph.push(`[${i}:v:0]${[...up, ...norm].join(',')}[d${i}]`);
    graph.push(`[d${i}][r${i}]${vmafFilter(tool.style, logs[i] as string, opts.subsample ?? 1)}[m${i}]`);
  });
  args.push('-filter_complex', graph.join(';'));
  distorted.forEach((_, i) => args.push('-map', `[m${i}]`, '-f', 'null', '-'));
  return { stage: opts.label, ffmpeg: tool.ffmpeg, args, cwd: opts.cwd, expectedSeconds: opts.seconds, weight: 0 };
}
