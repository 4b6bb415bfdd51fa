// Pure planner for convert jobs: spec + probe + capabilities -> one FFmpeg argv. Its video,
// audio and muxer parts are separate so split jobs build their chunks and their merge from the
// very same pieces (./split.ts): a chunk is this video graph, the merge is this audio and muxer.
import { ContainerRules, type OutputSpec } from '@kubeff/crds';
import { JobFailure } from '../failure.ts';
import { audioEncoder, pixelFormat, videoEncoder } from './encoders.ts';
import { fit } from './geometry.ts';
import { chain, filter } from './graph.ts';
import { loudnormApply } from './loudnorm.ts';
import { audioChain, trimArgs, trimOf, videoChain } from './operations.ts';
import { commonArgs, fileInput, type Plan, type PlanContext } from './types.ts';

/** Which streams a convert writes, after checking the input has what the output needs. */
export function convertStreams(ctx: PlanContext): { wantVideo: boolean; wantAudio: boolean } {
  const { spec, inputInfo } = ctx;
  const out = spec.output as OutputSpec;
  const rule = ContainerRules[out.format];
  const wantVideo = rule.video.length > 0 && inputInfo.video !== undefined && !inputInfo.isImage;
  const wantAudio = rule.audio.length > 0 && inputInfo.audio !== undefined;
  if (rule.kind === 'audio' && !inputInfo.audio) throw JobFailure.invalidInput(`has no audio stream to write as ${out.format}`);
  if (!wantVideo && !wantAudio) throw JobFailure.invalidInput(`has no stream that fits a ${out.format} output`);
  if (out.format === 'gif' && !wantVideo) throw JobFailure.invalidInput('has no video stream to make a GIF from');
  return { wantVideo, wantAudio };
}

/** Speed changes the length whether or not there is video (audio-only outputs too). */
export function speedFactor(ops: PlanContext['spec']['operations']): number {
  return ops.reduce((f, o) => (o.type === 'speed' ? f * o.factor : f), 1);
}

export interface VideoPart {
  graph: string[];
  maps: string[];
  /** Output length after the operations (fades and progress count to it). */
  seconds: number;
  /** The encoder's arguments alone (within maps), and the pixel format it is given. */
  encoder?: string[] | undefined;
  pixelFormat?: string | undefined;
  /** The frame size the chain produces. */
  size?: { width: number; height: number } | undefined;
}

/**
 * The video filter graph and encoder of a convert. `pre` filters run first on the decoded input,
 * `post` filters last before the encoder: a split job's chunk uses them to shift its timeline and
 * cut its frames, everything between is exactly what one FFmpeg would run.
 */
export function convertVideo(ctx: PlanContext, wrap: { pre: string[]; post: string[] } = { pre: [], post: [] }): VideoPart {
  const { spec, inputInfo } = ctx;
  const out = spec.output as OutputSpec;
  const rule = ContainerRules[out.format];
  const v = out.video ?? {};
  const { seconds } = trimOf(spec.operations, inputInfo.durationSeconds);
  const video = inputInfo.video;
  if (!video) throw JobFailure.invalidInput('has no video stream');
  const vcodec = v.codec ?? rule.defaultVideo;
  if (vcodec === 'copy') return { graph: [], maps: ['-map', '0:v:0', '-c:v', 'copy'], seconds: seconds / speedFactor(spec.operations) };
  const graph: string[] = [];
  const maps: string[] = [];
  const vc = videoChain(spec.operations, { width: video.width, height: video.height, fps: video.fps }, seconds);
  const tail = [...vc.after];
  if (v.width !== undefined || v.height !== undefined) {
    const size = fit(vc.size, v);
    tail.push(filter('scale', { w: size.width, h: size.height }));
  }
  if (v.fps !== undefined) tail.push(filter('fps', { fps: v.fps }));
  else if (vcodec === 'gif') tail.push(filter('fps', { fps: Math.min(15, video.fps || 15) }));
  tail.push(...wrap.post);
  const label = vcodec === 'gif' ? 'pre' : 'vout';
  if (vc.watermark) {
    graph.push(chain(['0:v:0'], [...wrap.pre, ...vc.before], 'base', 'v'));
    graph.push(chain(['1:v:0'], vc.watermark.imageFilters, 'wm', 'v'));
    graph.push(chain(['base', 'wm'], [vc.watermark.overlay, ...tail], label, 'v'));
  } else {
    graph.push(chain(['0:v:0'], [...wrap.pre, ...vc.before, ...tail], label, 'v'));
  }
  if (vcodec === 'gif') {
    // One pass with a palette made from the same frames: far better colour than the default.
    graph.push('[pre]split[pa][pb]', '[pa]palettegen=stats_mode=diff[pal]', '[pb][pal]paletteuse=dither=bayer:bayer_scale=4[vout]');
    maps.push('-map', '[vout]', '-c:v', 'gif');
  } else {
    const nvenc = ctx.acceleration.encode === 'nvenc';
    const enc = videoEncoder(vcodec as 'h264' | 'h265' | 'vp9' | 'av1', v, { encoders: ctx.encoders, nvenc, container: out.format });
    const pf = pixelFormat(v, nvenc);
    const encoder = [...enc.args, ...capArgs(v), '-pix_fmt', pf];
    maps.push('-map', '[vout]', ...encoder);
    const size = v.width !== undefined || v.height !== undefined ? fit(vc.size, v) : vc.size;
    return { graph, maps, seconds: vc.seconds, encoder, pixelFormat: pf, size };
  }
  return { graph, maps, seconds: vc.seconds };
}

/** A bitrate cap (output.video.max_bitrate): the VBV's maxrate, with a buffer of twice that. */
export function capArgs(v: OutputSpec['video']): string[] {
  return v?.maxBitrate !== undefined ? ['-maxrate', String(v.maxBitrate), '-bufsize', String(v.maxBitrate * 2)] : [];
}

/** The audio filter graph and encoder of a convert, reading the input numbered `inputIndex`. */
export function convertAudio(ctx: PlanContext, inputIndex = 0): { graph: string[]; maps: string[] } {
  const { spec, inputInfo } = ctx;
  const out = spec.output as OutputSpec;
  const rule = ContainerRules[out.format];
  const a = out.audio ?? {};
  const { seconds } = trimOf(spec.operations, inputInfo.durationSeconds);
  const acodec = a.codec ?? rule.defaultAudio;
  if (!acodec) return { graph: [], maps: [] };
  if (acodec === 'copy') return { graph: [], maps: ['-map', `${inputIndex}:a:0`, '-c:a', 'copy'] };
  const filters: string[] = [];
  const rate = a.sampleRate !== undefined ? Number(a.sampleRate) : undefined;
  if (a.normalize) {
    if (!ctx.loudness) throw new Error('internal: loudness must be measured before planning a normalized convert');
    filters.push(...loudnormApply(ctx.loudness, rate ?? inputInfo.audio?.sampleRate ?? 48000, a.channels ?? inputInfo.audio?.channels ?? 2));
  }
  filters.push(...audioChain(spec.operations, seconds));
  return { graph: [chain([`${inputIndex}:a:0`], filters, 'aout', 'a')], maps: ['-map', '[aout]', ...audioEncoder(acodec, a, rate)] };
}

/** Muxer options and the output file of a convert. */
export function muxArgs(ctx: PlanContext): string[] {
  const out = ctx.spec.output as OutputSpec;
  const args: string[] = [];
  if (out.format === 'mp4' || out.format === 'mov' || out.format === 'm4a') args.push('-movflags', '+faststart');
  if (out.format === 'gif') args.push('-loop', '0');
  args.push('-map_metadata', '-1', '-f', ContainerRules[out.format].muxer, '-protocol_whitelist', 'file', `file:${ctx.staging}`);
  return args;
}

/** `-threads N` for encoders when the node asks for it (a pod's CPU limit; benchmarks). */
export function threadArgs(ctx: PlanContext): string[] {
  return ctx.encoderThreads !== undefined ? ['-threads', String(ctx.encoderThreads)] : [];
}

export function planConvert(ctx: PlanContext): Plan {
  const { spec, inputInfo } = ctx;
  const { trim, seconds } = trimOf(spec.operations, inputInfo.durationSeconds);
  const { wantVideo, wantAudio } = convertStreams(ctx);

  const args = [...commonArgs(ctx)];
  if (ctx.acceleration.decode === 'nvdec') args.push('-hwaccel', 'cuda');
  args.push(...fileInput(ctx.input, trimArgs(trim)));
  if (ctx.watermark) args.push(...fileInput(ctx.watermark));

  const graph: string[] = [];
  const maps: string[] = [];
  let outSeconds = seconds / speedFactor(spec.operations);
  if (wantVideo) {
    const v = convertVideo(ctx);
    graph.push(...v.graph);
    maps.push(...v.maps, ...threadArgs(ctx));
    outSeconds = v.seconds;
  }
  if (wantAudio) {
    const a = convertAudio(ctx);
    graph.push(...a.graph);
    maps.push(...a.maps);
  }
  if (graph.length) args.push('-filter_complex', graph.join(';'));
  args.push(...maps, ...muxArgs(ctx));
  return {
    steps: [{ stage: 'encoding', ffmpeg: ctx.ffmpeg, args, expectedSeconds: outSeconds, weight: 1 }],
    outputSeconds: outSeconds,
  };
}

/**
 * Pure: what a convert's output must be when verified: its streams, its length and the length of
 * one of its frames (the tolerance).
 */
export function convertExpectation(ctx: PlanContext, outputSeconds: number): { video: boolean; audio: boolean; seconds: number; frameSeconds: number | undefined } {
  const { wantVideo, wantAudio } = convertStreams(ctx);
  const out = ctx.spec.output as OutputSpec;
  const speed = speedFactor(ctx.spec.operations);
  const fpsOp = [...ctx.spec.operations].reverse().find((o) => o.type === 'fps');
  const inputFps = ctx.inputInfo.video?.fps || 25;
  let fps = out.video?.fps ?? (fpsOp?.type === 'fps' ? fpsOp.fps : inputFps * speed);
  if ((out.video?.codec ?? ContainerRules[out.format].defaultVideo) === 'gif' && out.video?.fps === undefined) fps = Math.min(15, inputFps);
  return { video: wantVideo, audio: wantAudio, seconds: outputSeconds, frameSeconds: wantVideo ? 1 / fps : undefined };
}
