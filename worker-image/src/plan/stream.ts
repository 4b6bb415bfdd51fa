// Pure planner for HLS and DASH ladders: ONE decode feeds every rendition through a split
// filter, one audio encode is shared by all of them, and keyframes align on segment edges.
import type { StreamSpec, Variant } from '@kubeff/crds';
import { JobFailure } from '../failure.ts';
import { keyframesEvery, pixelFormat, videoEncoder } from './encoders.ts';
import { fit, type Dimensions } from './geometry.ts';
import { chain, filter, num } from './graph.ts';
import { commonArgs, fileInput, type Plan, type PlanContext } from './types.ts';

export interface Rendition extends Variant {
  size: Dimensions;
}

/** Pure: the renditions to make. Variants above the source size are dropped (no upscaling), keeping at least one. */
export function renditions(variants: readonly Variant[], source: Dimensions): { keep: Rendition[]; dropped: string[] } {
  const all = variants.map((v) => ({ ...v, size: fit(source, v) }));
  const fits = all.filter((r) => r.size.height <= source.height + 1 && r.size.width <= source.width + 1);
  if (fits.length) return { keep: fits, dropped: all.filter((r) => !fits.includes(r)).map((r) => r.name) };
  // Every rendition is larger than the source: keep the smallest, at the source's own size.
  const smallest = [...all].sort((a, b) => a.size.height - b.size.height)[0] as Rendition;
  return { keep: [{ ...smallest, size: fit(source, {}) }], dropped: all.filter((r) => r !== smallest).map((r) => r.name) };
}

export const hlsMaster = 'master.m3u8';
export const dashManifest = 'manifest.mpd';

/** The renditions of a stream job for its input (refused when the input has no video). */
export function streamRenditions(ctx: PlanContext): { keep: Rendition[]; dropped: string[] } {
  const s = ctx.spec.stream as StreamSpec;
  const video = ctx.inputInfo.video;
  if (!video || ctx.inputInfo.isImage) throw JobFailure.invalidInput('has no video stream to stream');
  if (!s.variants) throw new Error('internal: a per-title ladder is built before the stream is planned');
  return renditions(s.variants, { width: video.width, height: video.height });
}

/**
 * The ladder's video: one decode split into every rendition, each scaled and encoded with its own
 * rate control, keyframes forced on every segment edge. `pre` filters run on the decoded input,
 * `post` filters after them and before the split (a split job's chunk uses them to place and cut
 * its frames; its frames keep the job's timestamps, so its keyframes fall on the very frames one
 * FFmpeg forces).
 */
export function streamVideo(ctx: PlanContext, keep: readonly Rendition[], wrap: { pre: string[]; post: string[] } = { pre: [], post: [] }): { graph: string[]; maps: string[]; encoder: string[] } {
  const s = ctx.spec.stream as StreamSpec;
  const n = keep.length;
  const nvenc = ctx.acceleration.encode === 'nvenc';
  const wrapped = [...wrap.pre, ...wrap.post];
  const head = wrapped.length ? `[0:v:0]${wrapped.join(',')}${n > 1 ? ',' : ''}` : '[0:v:0]';
  const graph = [
    n > 1 ? `${head}split=${n}${keep.map((_, i) => `[s${i}]`).join('')}` : `${head}${wrapped.length ? '' : 'null'}[s0]`,
    ...keep.map((r, i) => chain([`s${i}`], [filter('scale', { w: r.size.width, h: r.size.height })], `v${i}`, 'v')),
  ];
  const maps: string[] = [];
  keep.forEach((_, i) => maps.push('-map', `[v${i}]`));
  const enc = videoEncoder(s.videoCodec, { preset: 'veryfast', bitrate: keep[0]?.bitrate }, { encoders: ctx.encoders, nvenc, container: s.format });
  // Per-rendition rate control replaces the shared -b:v of the encoder choice.
  const shared = enc.args.filter((_, i, a) => a[i] !== '-b:v' && a[i - 1] !== '-b:v');
  const encoder = [...shared, '-pix_fmt', pixelFormat({}, nvenc)];
  keep.forEach((r, i) => {
    if (r.crf !== undefined && !nvenc) {
      // Capped CRF: the quality the rung was chosen for, its bitrate a cap with room for keyframes.
      const cap = Math.round(r.bitrate * 1.5);
      encoder.push(`-crf:v:${i}`, num(r.crf), `-maxrate:v:${i}`, String(cap), `-bufsize:v:${i}`, String(cap * 2));
    } else {
      encoder.push(`-b:v:${i}`, String(r.bitrate), `-maxrate:v:${i}`, String(Math.round(r.bitrate * 1.1)), `-bufsize:v:${i}`, String(r.bitrate * 2));
    }
  });
  encoder.push(...keyframesEvery(s.segmentDuration));
  if (!nvenc) encoder.push('-sc_threshold', '0');
  return { graph, maps, encoder };
}

/** The shared audio encoder of a ladder (one encode for every rendition). */
export function streamAudio(ctx: PlanContext): string[] {
  const s = ctx.spec.stream as StreamSpec;
  return ['-c:a', 'aac', '-b:a', String(s.audioBitrate), '-ac', '2'];
}

/** The HLS or DASH muxer of a ladder; FFmpeg writes relative names inside the staging folder (its working directory). */
export function streamMux(ctx: PlanContext, keep: readonly Rendition[], audio: boolean): string[] {
  const s = ctx.spec.stream as StreamSpec;
  if (s.format === 'hls') {
    const map = [
      ...(audio ? ['a:0,agroup:audio,name:audio'] : []),
      ...keep.map((r, i) => `v:${i},${audio ? 'agroup:audio,' : ''}name:${r.name}`),
    ].join(' ');
    return [
      '-f', 'hls',
      '-hls_time', num(s.segmentDuration),
      '-hls_playlist_type', 'vod',
      '-hls_flags', 'independent_segments',
      '-hls_segment_type', 'mpegts',
      '-hls_segment_filename', '%v/segment_%05d.ts',
      '-master_pl_name', hlsMaster,
      '-var_stream_map', map,
      '-protocol_whitelist', 'file',
      '%v/index.m3u8',
    ];
  }
  return [
    '-f', 'dash',
    '-seg_duration', num(s.segmentDuration),
    '-use_template', '1',
    '-use_timeline', '1',
    '-adaptation_sets', audio ? 'id=0,streams=v id=1,streams=a' : 'id=0,streams=v',
    '-init_seg_name', 'init-$RepresentationID$.m4s',
    '-media_seg_name', 'chunk-$RepresentationID$-$Number%05d$.m4s',
    '-protocol_whitelist', 'file',
    dashManifest,
  ];
}

export function planStream(ctx: PlanContext): Plan & { renditions: Rendition[]; dropped: string[] } {
  const { keep, dropped } = streamRenditions(ctx);
  const video = streamVideo(ctx, keep);
  const args = [...commonArgs(ctx)];
  if (ctx.acceleration.decode === 'nvdec') args.push('-hwaccel', 'cuda');
  args.push(...fileInput(ctx.input), '-filter_complex', video.graph.join(';'));
  const audio = ctx.inputInfo.audio !== undefined;
  args.push(...video.maps);
  if (audio) args.push('-map', '0:a:0');
  args.push(...video.encoder);
  if (audio) args.push(...streamAudio(ctx));
  args.push(...streamMux(ctx, keep, audio));
  const seconds = ctx.inputInfo.durationSeconds;
  return { steps: [{ stage: 'encoding', ffmpeg: ctx.ffmpeg, args, cwd: ctx.staging, expectedSeconds: seconds, weight: 1 }], outputSeconds: seconds, renditions: keep, dropped };
}
