import { describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { splitRefusal } from '../../crds/src/validate.ts';
import { audioPart, chunkCount, concatList, planSplit, splitInputRefusal, type SplitPlan } from '../../worker-image/src/plan/split.ts';
import type { FrameIndex, MediaInfo } from '../../worker-image/src/probe.ts';

/** A constant-rate input: `seconds` of frames at `fps`, a keyframe every `gop` frames. */
function input(seconds: number, fps: number, gop: number, start = 0): { info: MediaInfo; frames: FrameIndex } {
  const n = Math.round(seconds * fps);
  const times = Array.from({ length: n }, (_, i) => Math.round((start + i / fps) * 1e6) / 1e6);
  return {
    info: { formatName: 'mov,mp4', durationSeconds: seconds, startSeconds: start, sizeBytes: 1, bitrate: undefined, video: { codec: 'h264', width: 640, height: 360, fps, pixelFormat: 'yuv420p', frames: n }, audio: { codec: 'aac', channels: 2, sampleRate: 48000 }, isImage: false },
    frames: { times, key: times.map((_, i) => i % gop === 0) },
  };
}
const convert = (options: Record<string, unknown>, operations: unknown[] = []) => normalizeRequest('convert', { input: '/storage/in.mp4', output: '/storage/out.mp4', operations, options });
const ladder = (options: Record<string, unknown>, segment = 2) => normalizeRequest('stream', { input: '/storage/in.mp4', output: '/storage/ladder', segment_duration: segment, variants: [{ name: 'a', resolution: '640x360', bitrate: '1M' }], options });
const starts = (p: SplitPlan) => p.chunks.map((c) => c.firstFrame);

describe('chunkCount', () => {
  it.each([
    { name: 'an explicit parallelism gives that many chunks, all at once', seconds: 600, r: { parallelism: 4, capacity: 1 }, count: 4, concurrency: 4 },
    { name: 'chunk_seconds sets the length; parallelism how many at once', seconds: 600, r: { parallelism: 4, chunkSeconds: 60, capacity: 1 }, count: 10, concurrency: 4 },
    { name: '"auto" under a minute does not split', seconds: 59, r: { parallelism: 'auto' as const, capacity: 8 }, count: 1, concurrency: 1 },
    { name: '"auto" on a pool of one does not split', seconds: 3600, r: { parallelism: 'auto' as const, capacity: 1 }, count: 1, concurrency: 1 },
    { name: '"auto" makes minute-long chunks, the pool\'s size at once', seconds: 300, r: { parallelism: 'auto' as const, capacity: 8 }, count: 5, concurrency: 5 },
    { name: '"auto" makes at most four chunks per worker', seconds: 7200, r: { parallelism: 'auto' as const, capacity: 2 }, count: 8, concurrency: 2 },
    { name: 'never chunks under a second', seconds: 3, r: { parallelism: 8, capacity: 8 }, count: 3, concurrency: 3 },
    { name: 'never more than 256 chunks', seconds: 36_000, r: { parallelism: 2, chunkSeconds: 1, capacity: 2 }, count: 256, concurrency: 2 },
  ])('$name', ({ seconds, r, count, concurrency }) => {
    expect(chunkCount(seconds, r)).toEqual({ count, concurrency });
  });
});

describe('planSplit: convert', () => {
  it('cuts halfway between frames, so every frame belongs to exactly one chunk', () => {
    const { info, frames } = input(12, 25, 1000);
    const plan = planSplit(convert({ parallelism: 3 }), info, frames, { parallelism: 3, capacity: 3 });
    expect(plan.count).toBe(3);
    expect(starts(plan)).toEqual([0, 4, 8]);
    expect(plan.chunks.map((c) => [c.start, c.end])).toEqual([[0, 3.98], [3.98, 7.98], [7.98, undefined]]);
    expect(plan.chunks.map((c) => c.frames)).toEqual([100, 100, 100]);
    expect(plan.chunks.map((c) => c.onKeyframe)).toEqual([true, false, false]);
    // Without keyframes near the cuts, each chunk decodes from the only keyframe there is.
    expect(plan.chunks.map((c) => c.seek)).toEqual([0, 0, 0]);
  });

  it('moves a cut to a keyframe within min(2 s, 10 % of a chunk) of it, and seeks there', () => {
    const { info, frames } = input(60, 25, 48);
    const plan = planSplit(convert({ parallelism: 2 }), info, frames, { parallelism: 2, capacity: 2 });
    // The ideal cut is 30 s (frame 750); the nearest keyframe is frame 768 (30.72 s).
    expect(starts(plan)).toEqual([0, 30.72]);
    expect(plan.chunks[1]).toMatchObject({ onKeyframe: true, seek: 30.72 });
  });

  it('keeps the job\'s trim: chunks cover the kept part only, -t counted from the first kept frame', () => {
    const { info, frames } = input(12, 25, 1000);
    const plan = planSplit(convert({ parallelism: 2 }, [{ type: 'trim', start: 2, duration: 6 }]), info, frames, { parallelism: 2, capacity: 2 });
    expect(plan.timeline).toMatchObject({ start: 2, end: 8, outputSeconds: 6 });
    expect(plan.chunks.map((c) => c.frames)).toEqual([75, 75]);
  });

  it('cuts a resampled chain (fps) on its own output frame grid', () => {
    const { info, frames } = input(12, 25, 1000);
    const plan = planSplit(convert({ parallelism: 3 }, [{ type: 'fps', fps: 10 }]), info, frames, { parallelism: 3, capacity: 3 });
    expect(starts(plan)).toEqual([0, 4, 8]);
    expect(plan.chunks.map((c) => c.start)).toEqual([0, 3.95, 7.95]);
    expect(plan.timeline.preroll).toBeGreaterThanOrEqual(2);
  });

  it('does not split when one chunk is all there is', () => {
    const { info, frames } = input(30, 25, 25);
    expect(planSplit(convert({ parallelism: 'auto' }), info, frames, { parallelism: 'auto', capacity: 8 }).count).toBe(1);
  });
});

describe('planSplit: HLS/DASH ladders', () => {
  it.each([
    { name: 'frames on the edges: each chunk starts on a segment edge', seconds: 12, fps: 25, segment: 2, parallelism: 3, firsts: [0, 4, 8], segments: [0, 2, 4] },
    { name: '29.97 fps: each chunk starts with the first frame after the edge', seconds: 12, fps: 30000 / 1001, segment: 2, parallelism: 3, firsts: [0, 4.004, 8.008], segments: [0, 2, 4] },
    { name: 'an uneven split rounds to whole segments', seconds: 13, fps: 25, segment: 2, parallelism: 4, firsts: [0, 4, 8, 10], segments: [0, 2, 4, 5] },
    { name: 'never more chunks than segments', seconds: 6, fps: 25, segment: 2, parallelism: 8, firsts: [0, 2, 4], segments: [0, 1, 2] },
    { name: 'chunk_seconds is rounded to whole segments', seconds: 24, fps: 25, segment: 4, parallelism: 2, chunkSeconds: 9, firsts: [0, 8, 16], segments: [0, 2, 4] },
  ])('$name', ({ seconds, fps, segment, parallelism, chunkSeconds, firsts, segments }) => {
    const { info, frames } = input(seconds, fps, 1000);
    const plan = planSplit(ladder({ parallelism, ...(chunkSeconds ? { chunk_seconds: chunkSeconds } : {}) }, segment), info, frames, { parallelism, chunkSeconds, capacity: parallelism });
    expect(plan.chunks.map((c) => Math.round(c.firstFrame * 1e6) / 1e6)).toEqual(firsts);
    expect(plan.chunks.map((c) => c.segment)).toEqual(segments);
    expect(plan.chunks.reduce((a, c) => a + (c.frames ?? 0), 0), 'every frame in one chunk').toBe(frames.times.length);
  });

  it('counts output time from the input\'s start (an MPEG-TS that starts at 1.4 s)', () => {
    const { info, frames } = input(8, 25, 1000, 1.4);
    const plan = planSplit(ladder({ parallelism: 2 }), info, frames, { parallelism: 2, capacity: 2 });
    expect(starts(plan)).toEqual([0, 4]);
    expect(plan.chunks[1]?.seek).toBe(0);
  });
});

describe('audioPart: the audio encoded beside the chunks', () => {
  const { info } = input(10, 25, 25);
  const out = (output: Record<string, unknown>) => normalizeRequest('convert', { input: '/storage/in.mp4', output, options: { parallelism: 2 } });
  it.each([
    { name: 'MP4 with AAC: an MP4 part (its edit list keeps the priming as the output will)', spec: () => out({ path: '/storage/o.mp4' }), part: { file: 'audio.m4a', muxer: 'mp4' } },
    { name: 'MOV with PCM: a MOV part', spec: () => out({ path: '/storage/o.mov', audio: { codec: 'pcm' } }), part: { file: 'audio.mov', muxer: 'mov' } },
    { name: 'MKV with Opus: a Matroska part', spec: () => out({ path: '/storage/o.mkv', audio: { codec: 'opus' } }), part: { file: 'audio.mka', muxer: 'matroska' } },
    { name: 'WebM: a Matroska part', spec: () => out({ path: '/storage/o.webm' }), part: { file: 'audio.mka', muxer: 'matroska' } },
    { name: 'MPEG-TS: an MP4 part', spec: () => out({ path: '/storage/o.ts' }), part: { file: 'audio.m4a', muxer: 'mp4' } },
    { name: 'an audio stream copy: none (the merge copies it)', spec: () => out({ path: '/storage/o.mp4', audio: { codec: 'copy' } }), part: undefined },
    { name: 'an HLS ladder: a NUT part (HLS segments audio by its own packets)', spec: () => ladder({ parallelism: 2 }), part: { file: 'audio.nut', muxer: 'nut' } },
    { name: 'a DASH ladder: none (encoded in the merge)', spec: () => normalizeRequest('stream', { input: '/storage/in.mp4', output: '/storage/d', format: 'dash', options: { parallelism: 2 } }), part: undefined },
  ])('$name', ({ spec, part }) => {
    expect(audioPart(spec(), info)).toEqual(part);
  });

  it('has no part for an input without audio', () => {
    expect(audioPart(out({ path: '/storage/o.mp4' }), { ...info, audio: undefined })).toBeUndefined();
  });
});

describe('concatList', () => {
  it('places every chunk at its first frame: durations are the distances between first frames', () => {
    const { info, frames } = input(12, 30000 / 1001, 1000);
    const plan = planSplit(convert({ parallelism: 3 }), info, frames, { parallelism: 3, capacity: 3 });
    const text = concatList(plan);
    expect(text.split('\n').filter(Boolean)).toEqual(['ffconcat version 1.0', 'file chunk-0000.nut', `duration ${plan.chunks[1]?.firstFrame}`, 'file chunk-0001.nut', `duration ${Math.round(((plan.chunks[2]?.firstFrame ?? 0) - (plan.chunks[1]?.firstFrame ?? 0)) * 1e6) / 1e6}`, 'file chunk-0002.nut']);
  });
});

describe('what can be split', () => {
  it.each([
    { name: 'a convert', spec: () => convert({ parallelism: 2 }), why: undefined },
    { name: 'an HLS ladder', spec: () => ladder({ parallelism: 2 }), why: undefined },
    { name: 'an analyze job', spec: () => normalizeRequest('analyze', { input: '/storage/a.mp4', reference: '/storage/b.mp4', metrics: ['psnr'] }), why: /whole timelines/ },
    { name: 'a stream copy', spec: () => normalizeRequest('convert', { input: '/storage/in.mp4', output: { path: '/storage/o.mp4', video: { codec: 'copy' } } }), why: /stream copy/ },
    { name: 'a GIF', spec: () => normalizeRequest('convert', { input: '/storage/in.mp4', output: '/storage/o.gif' }), why: /GIF/ },
    { name: 'an audio-only output', spec: () => normalizeRequest('convert', { input: '/storage/in.mp4', output: '/storage/o.mp3' }), why: /audio-only/ },
  ])('$name: $why', ({ spec, why }) => {
    const r = splitRefusal(spec());
    if (why === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(why);
  });

  it('an input without video cannot be split', () => {
    const { info } = input(10, 25, 25);
    expect(splitInputRefusal({ ...info, video: undefined })).toMatch(/no video stream/);
    expect(splitInputRefusal(info)).toBeUndefined();
  });
});
