// Pure planner for split-and-stitch: where to cut a convert into chunks, the FFmpeg argv that
// encodes one chunk, and the one that stitches them with the audio.
//
// The cut is frame-exact. Every chunk decodes from a keyframe at or before its first frame, runs
// the job's whole video chain on the job's own timeline (so fades, fps and speed see the same
// timestamps as one FFmpeg would), then keeps only the frames in its half-open window
// [start, end) of output time. Cuts fall halfway between two output frames, so no frame sits on a
// boundary: each frame belongs to exactly one chunk. The chunks are video only, encoded with the
// same settings, each opening with a keyframe (a fresh encoder); the merge concatenates them
// without re-encoding and encodes the audio once over the whole input.
import type { MediaJobSpec, StreamSpec } from '@kubeff/crds';
import { ContainerRules, Limits } from '@kubeff/crds';
import { JobFailure } from '../failure.ts';
import type { FrameIndex, MediaInfo } from '../probe.ts';
import { convertAudio, convertVideo, muxArgs, speedFactor, threadArgs } from './convert.ts';
import { filter, num } from './graph.ts';
import { trimArgs, trimOf } from './operations.ts';
import { streamAudio, streamMux, streamRenditions, streamVideo } from './stream.ts';
import { commonArgs, fileInput, type FfmpegStep, type PlanContext } from './types.ts';

/** Below this output length "auto" does not split: start-up and stitching would cost more than they save. */
export const AutoMinSeconds = 60;
/** "auto" aims at chunks of about this length, at most four per worker of the pool. */
export const AutoChunkSeconds = 60;
/** A keyframe this close to an ideal cut (at most 10 % of a chunk) is used instead of an exact cut. */
export const KeyframeSnapSeconds = 2;

export interface SplitRequest {
  parallelism: number | 'auto';
  chunkSeconds?: number | undefined;
  /** Workers that can encode at once (the pool's size): what "auto" may use. */
  capacity: number;
}

/** How many chunks, and how many encoded at once. Pure; documented in the README. */
export function chunkCount(outputSeconds: number, r: SplitRequest): { count: number; concurrency: number } {
  let count: number;
  let concurrency: number;
  if (r.parallelism === 'auto') {
    const capacity = Math.max(1, Math.min(r.capacity, Limits.maxParallelism));
    if (outputSeconds < AutoMinSeconds || capacity < 2) return { count: 1, concurrency: 1 };
    count = r.chunkSeconds ? Math.ceil(outputSeconds / r.chunkSeconds) : Math.min(Math.ceil(outputSeconds / AutoChunkSeconds), 4 * capacity);
    concurrency = capacity;
  } else {
    count = r.chunkSeconds ? Math.ceil(outputSeconds / r.chunkSeconds) : r.parallelism;
    concurrency = r.parallelism;
  }
  // Never chunks shorter than a second (they would be mostly start-up), never more than the limit.
  count = Math.max(1, Math.min(count, Limits.maxChunks, Math.floor(outputSeconds / Limits.minChunkSeconds)));
  return { count, concurrency: Math.max(1, Math.min(concurrency, count)) };
}

/** The part of the input a job encodes, in input seconds, and how output time relates to it. */
export interface Timeline {
  /** Input time (absolute, as the demuxer stamps frames) of output time 0. */
  start: number;
  /** Input time where the job's media ends (exclusive); absent: to the end of the input. */
  end?: number | undefined;
  /** Output seconds per input second is 1/speed. */
  speed: number;
  /** Output frame rate when the chain resamples frames (fps operation or output fps); else frames are the input's. */
  rate: number | undefined;
  outputSeconds: number;
  /** Input frames to decode before a chunk's first one, for filters that look back (deinterlace, denoise, fps). */
  preroll: number;
}

export function timelineOf(spec: MediaJobSpec, info: MediaInfo): Timeline {
  const { trim, seconds } = trimOf(spec.operations, info.durationSeconds);
  const start = info.startSeconds + (trim?.start ?? 0);
  const end = trim?.duration !== undefined ? start + trim.duration : undefined;
  let rate: number | undefined;
  let speed = 1;
  let preroll = 0;
  const inputFps = info.video?.fps || 25;
  let nominal = info.video?.fps || undefined;
  for (const op of spec.operations) {
    if (op.type === 'fps') rate = nominal = op.fps;
    if (op.type === 'speed') {
      speed *= op.factor;
      // A speed-up resamples to the chain's frame rate (operations.ts); a slow-down spreads the frames.
      if (op.factor > 1 && nominal !== undefined) rate = nominal;
      else if (rate !== undefined) rate *= op.factor;
    }
    if (op.type === 'deinterlace') preroll = Math.max(preroll, 1);
    // hqdn3d's temporal part is recursive: a second of history makes a chunk's first frames match.
    if (op.type === 'denoise') preroll = Math.max(preroll, Math.ceil(inputFps));
  }
  const outFps = spec.output?.video?.fps;
  if (outFps !== undefined) rate = outFps;
  if (rate !== undefined) preroll = Math.max(preroll, 2);
  return { start, ...(end !== undefined ? { end } : {}), speed, rate, outputSeconds: seconds / speedFactor(spec.operations), preroll };
}

export interface SplitChunk {
  index: number;
  /** Output seconds: the chunk holds the output frames in [start, end); the last one has no end. */
  start: number;
  end?: number | undefined;
  /** Output time of the chunk's first frame: where the merge places it. */
  firstFrame: number;
  /** Seconds to seek to in the input (-ss, relative to the input's start): a keyframe at or before what the chunk needs. */
  seek: number;
  /** Whether the chunk's first frame is a keyframe of the input. */
  onKeyframe: boolean;
  /** Output frames in the chunk, when the chain keeps the input's frames. */
  frames?: number | undefined;
  /** Output seconds the chunk covers: its share of the job's progress. */
  seconds: number;
  /** HLS/DASH: the segment the chunk starts (chunks start on segment edges). */
  segment?: number | undefined;
}

export interface SplitPlan {
  count: number;
  concurrency: number;
  timeline: Timeline;
  chunks: SplitChunk[];
  /** The audio, encoded once over the whole input beside the chunks (absent: no audio to encode). */
  audio?: AudioPart | undefined;
}

/** Where a split job's audio is encoded, beside the chunks. */
export interface AudioPart {
  file: string;
  muxer: 'mp4' | 'mov' | 'matroska' | 'nut';
}

/**
 * Pure: the audio a split job encodes beside its chunks, or undefined when the merge encodes
 * nothing (no audio in the input or the output, or a stream copy). The file's container is of the
 * output's family: MP4 edit lists and Matroska codec delays carry the encoder's priming differently,
 * and the merge's stream copy must give exactly what one FFmpeg writes.
 */
export function audioPart(spec: MediaJobSpec, info: MediaInfo): AudioPart | undefined {
  if (!info.audio) return undefined;
  // HLS segments the audio by its packets' own timestamps (NUT keeps them as the encoder made
  // them); a DASH muxer copying AAC cannot both keep the priming and the last packet's length as
  // one run does (tested against MP4, NUT and MPEG-TS), so a split DASH ladder encodes its audio
  // in the merge.
  if (spec.type === 'stream') return spec.stream?.format === 'hls' ? { file: 'audio.nut', muxer: 'nut' } : undefined;
  const out = spec.output;
  if (spec.type !== 'convert' || !out) return undefined;
  const rule = ContainerRules[out.format];
  const codec = out.audio?.codec ?? rule.defaultAudio;
  if (!rule.audio.length || !codec || codec === 'copy') return undefined;
  switch (rule.muxer) {
    case 'mp4':
    case 'mpegts':
      return { file: 'audio.m4a', muxer: 'mp4' };
    case 'mov':
      return { file: 'audio.mov', muxer: 'mov' };
    case 'matroska':
    case 'webm':
      return { file: 'audio.mka', muxer: 'matroska' };
    default:
      return undefined;
  }
}

/** Pure: the chunks of a split job from the input's frame index. One chunk means "do not split". */
export function planSplit(spec: MediaJobSpec, info: MediaInfo, frames: FrameIndex, r: SplitRequest): SplitPlan {
  if (spec.type === 'stream') return planLadderSplit(spec, info, frames, r);
  const tl = timelineOf(spec, info);
  const { count: wanted, concurrency } = chunkCount(tl.outputSeconds, r);
  // The output frames: the input frames inside the job's part of the input, in output seconds.
  const first = lowerBound(frames.times, tl.start);
  // FFmpeg's -t counts from the first frame it keeps, not from the -ss position.
  if (tl.end !== undefined && first < frames.times.length) tl.end = (frames.times[first] as number) + (tl.end - tl.start);
  const last = tl.end === undefined ? frames.times.length : lowerBound(frames.times, tl.end); // exclusive
  const n = last - first;
  if (n <= 0) throw JobFailure.invalidInput('has no video frames in the part to encode', 'input');
  const out = (k: number) => ((frames.times[k] as number) - tl.start) / tl.speed;
  const keyBefore = (k: number): number => {
    let j = Math.max(0, Math.min(k, frames.times.length - 1));
    while (j > 0 && !frames.key[j]) j--;
    return j;
  };
  const seekFor = (k: number) => Math.max(0, (frames.times[keyBefore(k - tl.preroll)] as number) - info.startSeconds);
  const single = (): SplitPlan => ({
    count: 1, concurrency: 1, timeline: tl,
    chunks: [{ index: 0, start: 0, firstFrame: 0, seek: seekFor(first), onKeyframe: frames.key[first] === true, frames: tl.rate === undefined ? n : undefined, seconds: tl.outputSeconds }],
  });
  if (wanted <= 1) return single();

  // Chunk starts, as indices into the input frames (frame-kept chains) or output slots (resampled).
  const starts: number[] = [];
  const ideal = tl.outputSeconds / wanted;
  if (tl.rate === undefined) {
    const tolerance = Math.min(KeyframeSnapSeconds, 0.1 * ideal);
    let prev = first;
    for (let j = 1; j < wanted; j++) {
      const target = j * ideal;
      const near = lowerBound(frames.times, tl.start + target * tl.speed);
      // The frame nearest the ideal cut, after the previous cut.
      let best = near;
      if (best - 1 > prev && (best >= last || target - out(best - 1) <= out(best) - target)) best--;
      best = Math.min(Math.max(best, prev + 1), last - 1);
      // A keyframe within the tolerance saves decoding frames only to drop them.
      let snapped: number | undefined;
      for (let k = near; k < last && out(k) - target <= tolerance; k++) {
        if (k > prev && frames.key[k]) {
          snapped = k;
          break;
        }
      }
      for (let k = near - 1; k > prev && target - out(k) <= tolerance; k--) {
        if (frames.key[k]) {
          if (snapped === undefined || target - out(k) < out(snapped) - target) snapped = k;
          break;
        }
      }
      const k = snapped ?? best;
      if (k <= prev || k >= last) continue;
      starts.push(k);
      prev = k;
    }
    if (!starts.length) return single();
    const bounds = [first, ...starts, last];
    const chunks: SplitChunk[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const a = bounds[i] as number;
      const b = bounds[i + 1] as number;
      const start = i === 0 ? 0 : (out(a - 1) + out(a)) / 2;
      const end = b === last ? undefined : (out(b - 1) + out(b)) / 2;
      chunks.push({
        index: i, start, ...(end !== undefined ? { end } : {}), firstFrame: i === 0 ? 0 : out(a), seek: seekFor(a), onKeyframe: frames.key[a] === true, frames: b - a,
        seconds: (end ?? tl.outputSeconds) - start,
      });
    }
    return { count: chunks.length, concurrency: Math.min(concurrency, chunks.length), timeline: tl, chunks, audio: audioPart(spec, info) };
  }

  // Resampled (fps): output frames sit on a grid of 1/rate; cut halfway between two slots.
  const rate = tl.rate;
  const slots: number[] = [];
  for (let j = 1; j < wanted; j++) {
    const m = Math.round(j * ideal * rate);
    if (m > (slots[slots.length - 1] ?? 0) && m / rate < tl.outputSeconds) slots.push(m);
  }
  if (!slots.length) return single();
  const bounds = [0, ...slots];
  const chunks: SplitChunk[] = bounds.map((m, i) => {
    const next = bounds[i + 1];
    const start = i === 0 ? 0 : (m - 0.5) / rate;
    const end = next === undefined ? undefined : (next - 0.5) / rate;
    const inputAt = lowerBound(frames.times, tl.start + (m / rate) * tl.speed);
    return {
      index: i, start, ...(end !== undefined ? { end } : {}), firstFrame: m / rate, seek: i === 0 ? seekFor(first) : seekFor(inputAt), onKeyframe: false,
      seconds: (end ?? tl.outputSeconds) - start,
    };
  });
  return { count: chunks.length, concurrency: Math.min(concurrency, chunks.length), timeline: tl, chunks, audio: audioPart(spec, info) };
}

/**
 * Half a microsecond: frame times come from ffprobe in whole microseconds; a frame this close to a
 * segment edge is on it (FFmpeg's own `t >= edge` sees it there).
 */
const EdgeTolerance = 5e-7;

/**
 * Pure: the chunks of an HLS/DASH ladder. Every cut falls on a segment edge: a chunk starts with
 * the first frame at or after a multiple of the segment duration, the very frame one FFmpeg forces
 * a keyframe on, so the stitched renditions segment exactly as one run's would.
 */
function planLadderSplit(spec: MediaJobSpec, info: MediaInfo, frames: FrameIndex, r: SplitRequest): SplitPlan {
  const tl = timelineOf(spec, info);
  const d = spec.stream?.segmentDuration ?? 6;
  const first = lowerBound(frames.times, tl.start);
  const last = frames.times.length;
  const n = last - first;
  if (n <= 0) throw JobFailure.invalidInput('has no video frames to stream', 'input');
  const out = (k: number) => ((frames.times[k] as number) - tl.start) / tl.speed;
  const keyBefore = (k: number): number => {
    let j = Math.max(0, Math.min(k, frames.times.length - 1));
    while (j > 0 && !frames.key[j]) j--;
    return j;
  };
  const seekFor = (k: number) => Math.max(0, (frames.times[keyBefore(k)] as number) - info.startSeconds);
  // Segments one run makes; a chunk holds whole segments.
  const segments = Math.max(1, Math.ceil(tl.outputSeconds / d - 1e-9));
  const wanted = Math.min(chunkCount(tl.outputSeconds, r.chunkSeconds !== undefined ? { ...r, chunkSeconds: Math.max(d, Math.round(r.chunkSeconds / d) * d) } : r).count, segments);
  const { concurrency } = chunkCount(tl.outputSeconds, r);
  const starts: { frame: number; segment: number }[] = [];
  let prev = first;
  for (let j = 1; j < wanted; j++) {
    const segment = Math.round((j * segments) / wanted);
    const frame = lowerBound(frames.times, tl.start + segment * d * tl.speed - EdgeTolerance);
    if (frame <= prev || frame >= last) continue;
    starts.push({ frame, segment });
    prev = frame;
  }
  const bounds = [{ frame: first, segment: 0 }, ...starts];
  const chunks: SplitChunk[] = bounds.map((b, i) => {
    const next = bounds[i + 1];
    const start = i === 0 ? 0 : (out(b.frame - 1) + out(b.frame)) / 2;
    const end = next === undefined ? undefined : (out(next.frame - 1) + out(next.frame)) / 2;
    return {
      index: i, start, ...(end !== undefined ? { end } : {}), firstFrame: i === 0 ? 0 : out(b.frame), seek: seekFor(b.frame), onKeyframe: frames.key[b.frame] === true,
      frames: (next?.frame ?? last) - b.frame, seconds: (end ?? tl.outputSeconds) - start, segment: b.segment,
    };
  });
  if (chunks.length <= 1) return { count: 1, concurrency: 1, timeline: tl, chunks };
  return { count: chunks.length, concurrency: Math.max(1, Math.min(concurrency, chunks.length)), timeline: tl, chunks, audio: audioPart(spec, info) };
}

/** Index of the first element >= x in an ascending array. */
function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export const chunkFile = (index: number) => `chunk-${String(index).padStart(4, '0')}.nut`;
export const chunkReport = (index: number) => `chunk-${String(index).padStart(4, '0')}.json`;
export const concatListFile = 'chunks.ffconcat';

/**
 * One chunk: seek to its keyframe, keep the input's timestamps (-copyts), cut the job's part of
 * the input and shift it to the job's timeline, run the job's chain, keep the chunk's window and
 * start it at zero. Video only, into NUT (exact timestamps in the encoder's time base).
 */
export function planChunk(ctx: PlanContext, plan: SplitPlan, index: number, outFile: string): FfmpegStep {
  const c = plan.chunks[index];
  if (!c) throw new Error(`internal: chunk ${index} is not in the plan (${plan.count} chunks)`);
  const tl = plan.timeline;
  const pre = [
    filter('trim', tl.end !== undefined ? { start: tl.start, end: tl.end } : { start: tl.start }),
    filter('setpts', [`PTS-${num(tl.start)}/TB`]),
  ];
  const window: Record<string, number> = {};
  if (index > 0) window['start'] = c.start;
  if (c.end !== undefined) window['end'] = c.end;
  const post = [...(Object.keys(window).length ? [filter('trim', window)] : []), 'setpts=PTS-STARTPTS'];
  const video = convertVideo(ctx, { pre, post });
  const args = [...commonArgs(ctx), '-copyts'];
  if (ctx.acceleration.decode === 'nvdec') args.push('-hwaccel', 'cuda');
  args.push(...fileInput(ctx.input, ['-noaccurate_seek', '-ss', num(c.seek)]));
  if (ctx.watermark) args.push(...fileInput(ctx.watermark));
  args.push('-filter_complex', video.graph.join(';'), ...video.maps, ...threadArgs(ctx), '-map_metadata', '-1', '-f', 'nut', '-protocol_whitelist', 'file', `file:${outFile}`);
  const seconds = c.end !== undefined ? c.end - c.start : Math.max(0, video.seconds - c.start);
  return { stage: `encoding chunk ${index + 1}/${plan.count}`, ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 1 };
}

/**
 * The concat list: every chunk placed at its first frame's output time. A chunk's `duration` is
 * the distance to the next chunk's first frame, so timestamps continue exactly across the cut.
 */
export function concatList(plan: SplitPlan): string {
  const lines = ['ffconcat version 1.0'];
  plan.chunks.forEach((c, i) => {
    lines.push(`file ${chunkFile(c.index)}`);
    const next = plan.chunks[i + 1];
    if (next) lines.push(`duration ${num(next.firstFrame - c.firstFrame)}`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * The audio of a split job, encoded once over the whole input while the chunks encode: the job's
 * audio chain and encoder (a convert's, loudness normalization included; a ladder's shared AAC).
 */
export function planSplitAudio(ctx: PlanContext, part: AudioPart, outFile: string): FfmpegStep {
  const args = [...commonArgs(ctx)];
  let seconds = ctx.inputInfo.durationSeconds;
  if (ctx.spec.type === 'stream') {
    args.push(...fileInput(ctx.input), '-map', '0:a:0', ...streamAudio(ctx));
  } else {
    const trim = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
    seconds = trim.seconds;
    const audio = convertAudio(ctx, 0);
    args.push(...fileInput(ctx.input, trimArgs(trim.trim)), '-filter_complex', audio.graph.join(';'), ...audio.maps);
  }
  args.push('-vn', '-map_metadata', '-1', '-f', part.muxer, '-protocol_whitelist', 'file', `file:${outFile}`);
  return { stage: 'encoding audio', ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 1 };
}

/**
 * The merge: the chunks copied in order and one mux. The audio was encoded beside the chunks
 * (`audioPath`) and is copied too; a stream copy of the input's audio is made here.
 */
export function planMerge(ctx: PlanContext, plan: SplitPlan, listPath: string, audioPath?: string): FfmpegStep {
  const { trim } = trimOf(ctx.spec.operations, ctx.inputInfo.durationSeconds);
  const args = [...commonArgs(ctx), '-f', 'concat', '-safe', '0', ...fileInput(listPath)];
  const maps = ['-map', '0:v:0', '-c:v', 'copy'];
  const graph: string[] = [];
  if (audioPath) {
    args.push(...fileInput(audioPath));
    maps.push('-map', '1:a:0', '-c:a', 'copy');
  } else if (ctx.inputInfo.audio) {
    args.push(...fileInput(ctx.input, trimArgs(trim)));
    const audio = convertAudio(ctx, 1);
    graph.push(...audio.graph);
    maps.push(...audio.maps);
  }
  if (graph.length) args.push('-filter_complex', graph.join(';'));
  args.push(...maps, ...muxArgs(ctx));
  return { stage: 'stitching', ffmpeg: ctx.ffmpeg, args, expectedSeconds: plan.timeline.outputSeconds, weight: 1 };
}

/**
 * One chunk of an HLS/DASH ladder: like a convert's chunk, but its frames keep the job's
 * timestamps (the keyframe expression sees the same times as one run's), and every rendition is
 * encoded from this one decode, each a video stream of the chunk's NUT file.
 */
export function planLadderChunk(ctx: PlanContext, plan: SplitPlan, index: number, outFile: string): FfmpegStep {
  const c = plan.chunks[index];
  if (!c) throw new Error(`internal: chunk ${index} is not in the plan (${plan.count} chunks)`);
  const tl = plan.timeline;
  const { keep } = streamRenditions(ctx);
  const window: Record<string, number> = {};
  if (index > 0) window['start'] = c.start;
  if (c.end !== undefined) window['end'] = c.end;
  const video = streamVideo(ctx, keep, {
    pre: [filter('trim', { start: tl.start }), filter('setpts', [`PTS-${num(tl.start)}/TB`])],
    post: Object.keys(window).length ? [filter('trim', window)] : [],
  });
  const args = [...commonArgs(ctx), '-copyts'];
  if (ctx.acceleration.decode === 'nvdec') args.push('-hwaccel', 'cuda');
  args.push(...fileInput(ctx.input, ['-noaccurate_seek', '-ss', num(c.seek)]));
  args.push('-filter_complex', video.graph.join(';'), ...video.maps, ...video.encoder, ...threadArgs(ctx), '-map_metadata', '-1', '-f', 'nut', '-protocol_whitelist', 'file', `file:${outFile}`);
  const seconds = (c.end ?? tl.outputSeconds) - c.start;
  return { stage: `encoding chunk ${index + 1}/${plan.count}`, ffmpeg: ctx.ffmpeg, args, expectedSeconds: seconds, weight: 1 };
}

/**
 * The stitch of a ladder: the chunks' renditions copied in order, the audio encoded once, and the
 * same HLS or DASH muxer as one run. What a stream copy loses of the encoder's settings is given
 * back: each rendition's bitrate (the master playlist's BANDWIDTH, the MPD's bandwidth), the MP4
 * codec tag and the field order DASH writes.
 */
export function planLadderMerge(ctx: PlanContext, plan: SplitPlan, listPath: string, audioPath?: string): FfmpegStep {
  const s = ctx.spec.stream as StreamSpec;
  const { keep } = streamRenditions(ctx);
  const audio = ctx.inputInfo.audio !== undefined;
  const args = [...commonArgs(ctx), '-f', 'concat', '-safe', '0', ...fileInput(listPath)];
  if (audio) args.push(...fileInput(audioPath ?? ctx.input));
  keep.forEach((_, i) => args.push('-map', `0:v:${i}`));
  if (audio) args.push('-map', '1:a:0');
  args.push('-c:v', 'copy');
  keep.forEach((r, i) => args.push(`-b:v:${i}`, String(r.bitrate)));
  if (s.format === 'dash') args.push('-tag:v', s.videoCodec === 'h265' ? 'hev1' : 'avc1', '-field_order', 'progressive');
  // A copy keeps no bitrate of its own: the master playlist's BANDWIDTH adds the one asked for.
  if (audio) args.push(...(audioPath ? ['-c:a', 'copy', '-b:a', String(s.audioBitrate)] : streamAudio(ctx)));
  args.push(...streamMux(ctx, keep, audio));
  return { stage: 'stitching', ffmpeg: ctx.ffmpeg, args, cwd: ctx.staging, expectedSeconds: plan.timeline.outputSeconds, weight: 1 };
}

/** A plan that does not split: the job runs as one FFmpeg. */
export function unsplit(spec: MediaJobSpec, info: MediaInfo): SplitPlan {
  const timeline = timelineOf(spec, info);
  return { count: 1, concurrency: 1, timeline, chunks: [{ index: 0, start: 0, firstFrame: 0, seek: 0, onKeyframe: true, seconds: timeline.outputSeconds }] };
}

/** Pure: why this input cannot be split (no video to cut), for an explicit parallelism above 1. */
export function splitInputRefusal(info: MediaInfo): string | undefined {
  if (!info.video || info.isImage) return 'the input has no video stream; splitting applies to video, and audio is always encoded once';
  return undefined;
}

/** Pure: an ffconcat list of files (our own names, in the list's folder) played one after another. */
export function concatListOf(files: readonly string[]): string {
  return `${['ffconcat version 1.0', ...files.map((f) => `file ${f}`)].join('\n')}\n`;
}
