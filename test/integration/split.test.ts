// Split and stitch with real FFmpeg: the worker's plan, chunk and merge stages run the way a
// runtime runs them, and the stitched output is compared with the source frame by frame.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { audioStream, ffmpegBin, ffprobe, ffprobeBin, frameHashes, frameTimes, makeLogo, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';
import { expectCompleted, runRequest, runSpec, runSplit, type SplitRan } from '../support/worker.ts';

let storage: StorageRoot;
beforeAll(() => {
  storage = makeStorage('kubeff-split-');
});
afterAll(() => storage.remove());

function convertSpec(input: string, output: string, extra: Record<string, unknown> = {}, options: Record<string, unknown> = {}) {
  return normalizeRequest('convert', { input, output: { path: output, format: 'mp4', video: { codec: 'h264', crf: 0, preset: 'ultrafast' } }, ...extra, options: { hardware_acceleration: 'none', ...options } });
}

function expectSplitCompleted(r: SplitRan): NonNullable<SplitRan['merge']> {
  expectCompleted(r.plan);
  r.chunks.forEach((c) => expectCompleted(c));
  if (!r.merge) throw new Error('the merge did not run');
  return expectCompleted(r.merge);
}

/** A source whose frames all differ: testsrc2 moves every frame. */
function source(name: string, o: { seconds: number; gop: number; fps?: number; audio?: boolean }): string {
  const path = `/storage/split/${name}`;
  makeSource(storage.host(path), { seconds: o.seconds, fps: o.fps ?? 25, audio: o.audio ?? true, args: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(o.gop), '-keyint_min', String(o.gop), '-sc_threshold', '0'] });
  return path;
}

describe('a lossless split encode decodes frame for frame identical to its source', () => {
  let keyframed: string;
  let oneKeyframe: string;
  beforeAll(() => {
    keyframed = source('gop25.mp4', { seconds: 8, gop: 25 });
    oneKeyframe = source('gop1000.mp4', { seconds: 8, gop: 1000 });
    const hashes = frameHashes(storage.host(keyframed));
    expect(new Set(hashes).size, 'the source frames must all differ for this test to mean anything').toBe(hashes.length);
  });

  it.each([
    { chunks: 2, input: () => keyframed, onKeyframes: 2, why: 'cuts on keyframes' },
    { chunks: 3, input: () => oneKeyframe, onKeyframes: 1, why: 'exact cuts between keyframes' },
    { chunks: 7, input: () => oneKeyframe, onKeyframes: 1, why: 'seven exact cuts' },
    { chunks: 7, input: () => keyframed, onKeyframes: undefined, why: 'a mix of both' },
  ])('$chunks chunks ($why)', async ({ chunks, input, onKeyframes }) => {
    const out = `/storage/split/out-${chunks}-${onKeyframes ?? 'mix'}.mp4`;
    const merged = expectSplitCompleted(await runSplit(storage, convertSpec(input(), out, {}, { parallelism: chunks }), { capacity: chunks }));
    const chunking = merged.result.chunking;
    expect(chunking?.count).toBe(chunks);
    if (onKeyframes !== undefined) expect(chunking?.onKeyframes, `boundaries ${JSON.stringify(chunking?.boundaries)}`).toBe(onKeyframes);
    expect(chunking?.encodeSeconds).toHaveLength(chunks);
    const want = frameHashes(storage.host(input()));
    const got = frameHashes(storage.host(out));
    expect(got.length, 'frame count').toBe(want.length);
    const firstDiff = got.findIndex((h, i) => h !== want[i]);
    expect(firstDiff, `first differing frame (boundaries ${JSON.stringify(chunking?.boundaries)})`).toBe(-1);
    // Timestamps continue exactly across every cut.
    const a = frameTimes(storage.host(input()));
    const b = frameTimes(storage.host(out));
    b.forEach((t, i) => expect(Math.abs(t - (a[i] as number)), `frame ${i} time`).toBeLessThan(0.0015));
  });

  it('with a variable frame rate input, every frame and its time are kept', async () => {
    const vfr = storage.host('/storage/split/vfr.mkv');
    mkdirSync(dirname(vfr), { recursive: true });
    // Every seventh frame is held twice as long: an uneven cadence.
    execFileSync(ffmpegBin, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=6', '-vf', "setpts='(N+floor(N/7))/25/TB'", '-vsync', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000', vfr]);
    const a = frameTimes(vfr);
    const gaps = new Set(a.slice(1).map((t, i) => Math.round((t - (a[i] as number)) * 1000)));
    expect(gaps.size, 'the source must really be VFR').toBeGreaterThan(1);
    const out = '/storage/split/vfr-out.mkv';
    const spec = normalizeRequest('convert', { input: '/storage/split/vfr.mkv', output: { path: out, format: 'mkv', video: { codec: 'h264', crf: 0, preset: 'ultrafast' } }, options: { hardware_acceleration: 'none', parallelism: 3 } });
    expectSplitCompleted(await runSplit(storage, spec, { capacity: 3 }));
    expect(frameHashes(storage.host(out))).toEqual(frameHashes(vfr));
    const b = frameTimes(storage.host(out));
    expect(b.length).toBe(a.length);
    b.forEach((t, i) => expect(Math.abs(t - (a[i] as number) + (a[0] as number)), `frame ${i} time`).toBeLessThan(0.0015));
  });

  it('with a trim, the frames are exactly those one FFmpeg trim keeps', async () => {
    const out = '/storage/split/trim-out.mp4';
    const spec = convertSpec(oneKeyframe, out, { operations: [{ type: 'trim', start: 1.3, duration: 4.1 }] }, { parallelism: 3 });
    expectSplitCompleted(await runSplit(storage, spec, { capacity: 3 }));
    const want = frameHashes(storage.host(oneKeyframe), ['-ss', '1.3', '-t', '4.1']);
    expect(want.length).toBeGreaterThan(90);
    expect(frameHashes(storage.host(out))).toEqual(want);
  });

  it('a chain of operations (scale, fps, fade in and out, watermark, deinterlace) gives the same frames as one FFmpeg', async () => {
    makeLogo(storage.host('/storage/split/logo.png'));
    const body = {
      operations: [
        { type: 'deinterlace' },
        { type: 'scale', width: 240, height: 180 },
        { type: 'fps', fps: 20 },
        { type: 'fade', direction: 'in', duration: 1 },
        { type: 'fade', direction: 'out', duration: 1.5 },
        { type: 'watermark', image: '/storage/split/logo.png', position: 'bottom-right', opacity: 0.7 },
      ],
    };
    const single = expectCompleted(await runSpec(storage, convertSpec(oneKeyframe, '/storage/split/chain-single.mp4', body)));
    expect(single.result.outputs[0]?.width).toBe(240);
    expectSplitCompleted(await runSplit(storage, convertSpec(oneKeyframe, '/storage/split/chain-split.mp4', body, { parallelism: 3 }), { capacity: 3 }));
    const want = frameHashes(storage.host('/storage/split/chain-single.mp4'));
    const got = frameHashes(storage.host('/storage/split/chain-split.mp4'));
    expect(got.length).toBe(want.length);
    expect(got.findIndex((h, i) => h !== want[i]), 'first frame that differs from one FFmpeg').toBe(-1);
  });
});

describe('a lossy split encode matches one FFmpeg', () => {
  let input: string;
  let single: { frames: number[]; audio: number[]; duration: number };
  let split: { frames: number[]; audio: number[]; duration: number };
  let splitRan: SplitRan;
  const fps = 25;

  beforeAll(async () => {
    input = source('lossy.mp4', { seconds: 10, gop: 250 });
    const spec = (out: string, options: Record<string, unknown>) => normalizeRequest('convert', { input, output: { path: out, format: 'mp4', video: { codec: 'h264', preset: 'veryfast', crf: 26 } }, options: { hardware_acceleration: 'none', ...options } });
    expectCompleted(await runSpec(storage, spec('/storage/split/lossy-single.mp4', {})));
    splitRan = await runSplit(storage, spec('/storage/split/lossy-split.mp4', { parallelism: 3 }), { capacity: 3 });
    expectSplitCompleted(splitRan);
    const read = (p: string) => ({ frames: frameTimes(storage.host(p)), audio: frameTimes(storage.host(p), 'a:0'), duration: ffprobe(storage.host(p)).duration });
    single = read('/storage/split/lossy-single.mp4');
    split = read('/storage/split/lossy-split.mp4');
  }, 120_000);

  it('has the same frame count and duration (within a frame), with strictly increasing timestamps', () => {
    expect(Math.abs(split.frames.length - single.frames.length)).toBeLessThanOrEqual(1);
    expect(Math.abs(split.duration - single.duration)).toBeLessThanOrEqual(1 / fps + 1e-3);
    const unsorted = frameTimes(storage.host('/storage/split/lossy-split.mp4'));
    for (let i = 1; i < unsorted.length; i++) expect(unsorted[i], `frame ${i}`).toBeGreaterThan(unsorted[i - 1] as number);
  });

  it('has one continuous audio stream of the same length, ending within a frame of the video', () => {
    const probed = ffprobe(storage.host('/storage/split/lossy-split.mp4'));
    expect(probed.streams.filter((s) => s.codec_type === 'audio')).toHaveLength(1);
    expect(audioStream(probed).codec_name).toBe('aac');
    expect(split.audio.length).toBe(single.audio.length);
    // No gap anywhere in the audio: packets follow each other at a constant step.
    const steps = split.audio.slice(1).map((t, i) => t - (split.audio[i] as number));
    expect(Math.max(...steps) - Math.min(...steps)).toBeLessThan(1e-3);
    const videoEnd = (split.frames[split.frames.length - 1] as number) + 1 / fps;
    const audioEnd = (split.audio[split.audio.length - 1] as number) + 1024 / 48000;
    expect(Math.abs(videoEnd - audioEnd)).toBeLessThanOrEqual(1 / fps);
  });

  it('scores a VMAF at most 0.5 below the single encode', async () => {
    const score = async (distorted: string) => {
      const r = expectCompleted(await runRequest(storage, 'analyze', { input: distorted, reference: input, metrics: ['vmaf'] }));
      return r.result.metrics?.vmaf?.mean ?? NaN;
    };
    const [a, b] = [await score('/storage/split/lossy-single.mp4'), await score('/storage/split/lossy-split.mp4')];
    expect(b, `split ${b} vs single ${a}`).toBeGreaterThanOrEqual(a - 0.5);
  }, 120_000);

  it('reports the chunking and keeps each chunk FFmpeg lines, marked with its chunk', () => {
    const c = splitRan.merge?.result.chunking;
    expect(c?.count).toBe(3);
    expect(c?.boundaries).toHaveLength(4);
    expect(c?.boundaries[0]).toBe(0);
    expect(c?.boundaries[3]).toBeCloseTo(10, 1);
    splitRan.chunks.forEach((chunk, i) => {
      const lines = chunk.events.filter((e) => e.type === 'log').map((e) => (e as { line: string }).line);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((l) => l.startsWith(`[chunk ${i}] `)), `chunk ${i} log lines`).toBe(true);
    });
    expect(videoStream(ffprobe(storage.host('/storage/split/lossy-split.mp4'))).codec_name).toBe('h264');
  });

  it('leaves no working files once merged', () => {
    expect(existsSync(storage.host(`/storage/.kubeff/split/${splitRan.jobId}`))).toBe(false);
  });
});

describe('a split HLS/DASH ladder segments exactly as one FFmpeg', () => {
  /** The segment list of a media playlist: names and EXTINF durations, as written. */
  const playlist = (dir: string, name: string) => readFileSync(join(dir, name, 'index.m3u8'), 'utf8').split('\n').filter((l) => l.startsWith('#EXTINF') || l.endsWith('.ts') || l.startsWith('#EXT-X-TARGETDURATION'));
  /** Whether the first video packet of a file is a keyframe. */
  const startsWithKeyframe = (file: string) => execFileSync(ffprobeBin, ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_entries', 'packet=flags', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim().startsWith('K');
  const ladder = (input: string, output: string, format: 'hls' | 'dash', options: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => normalizeRequest('stream', {
    input, output, format, segment_duration: 2, variants: [{ name: 'hi', resolution: '640x360', bitrate: '800k' }, { name: 'lo', resolution: '320x180', bitrate: '300k' }], ...extra, options: { hardware_acceleration: 'none', ...options },
  });

  it.each([
    { fps: 25, chunks: 3, why: 'frames on segment edges' },
    { fps: 30000 / 1001, chunks: 4, why: '29.97 fps: edges between frames' },
  ])('HLS at $chunks chunks ($why): every rendition\'s segments, durations and master playlist equal one run\'s; every segment opens on a keyframe', async ({ fps, chunks }) => {
    const name = `ladder-${chunks}`;
    const input = `/storage/split/${name}.mp4`;
    makeSource(storage.host(input), { seconds: 13, width: 640, height: 360, fps, args: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000', '-sc_threshold', '0'] });
    expectCompleted(await runSpec(storage, ladder(input, `/storage/split/${name}-single`, 'hls')));
    const ran = await runSplit(storage, ladder(input, `/storage/split/${name}-split`, 'hls', { parallelism: chunks }), { capacity: chunks });
    const merged = expectSplitCompleted(ran);
    expect(merged.result.chunking?.count).toBe(chunks);
    // Every cut on a segment edge (a multiple of 2 s, to within a frame).
    for (const b of merged.result.chunking?.boundaries.slice(1, -1) ?? []) expect(Math.abs(b - 2 * Math.round(b / 2)), `boundary ${b}`).toBeLessThanOrEqual(1 / fps);
    const single = storage.host(`/storage/split/${name}-single`);
    const split = storage.host(`/storage/split/${name}-split`);
    for (const r of ['hi', 'lo', 'audio']) expect(playlist(split, r), `${r}/index.m3u8`).toEqual(playlist(single, r));
    expect(readFileSync(join(split, 'master.m3u8'), 'utf8')).toBe(readFileSync(join(single, 'master.m3u8'), 'utf8'));
    const segments = readdirSync(join(split, 'hi')).filter((f) => f.endsWith('.ts'));
    expect(segments.length).toBe(7);
    for (const r of ['hi', 'lo']) {
      for (const f of readdirSync(join(split, r)).filter((x) => x.endsWith('.ts'))) expect(startsWithKeyframe(join(split, r, f)), `${r}/${f} opens on a keyframe`).toBe(true);
    }
    expect(merged.result.outputs.map((o) => o.path)).toEqual([`/storage/split/${name}-split/master.m3u8`, `/storage/split/${name}-split/hi/index.m3u8`, `/storage/split/${name}-split/lo/index.m3u8`]);
    expect(existsSync(storage.host(`/storage/.kubeff/split/${ran.jobId}`))).toBe(false);
  });

  it('DASH (h265): the MPD and its segment timeline equal one run\'s; every segment opens on a keyframe', async () => {
    const input = '/storage/split/dash-src.mp4';
    makeSource(storage.host(input), { seconds: 9, width: 640, height: 360, args: ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000', '-sc_threshold', '0'] });
    expectCompleted(await runSpec(storage, ladder(input, '/storage/split/dash-single', 'dash', {}, { video_codec: 'h265' })));
    expectSplitCompleted(await runSplit(storage, ladder(input, '/storage/split/dash-split', 'dash', { parallelism: 2 }, { video_codec: 'h265' }), { capacity: 2 }));
    const single = storage.host('/storage/split/dash-single');
    const split = storage.host('/storage/split/dash-split');
    expect(readFileSync(join(split, 'manifest.mpd'), 'utf8')).toBe(readFileSync(join(single, 'manifest.mpd'), 'utf8'));
    const media = readdirSync(split).filter((f) => /^chunk-0-\d+\.m4s$/.test(f)).sort();
    expect(media.length).toBe(5);
    for (const f of media) {
      const joined = join(split, `joined-${f}.mp4`);
      writeFileSync(joined, Buffer.concat([readFileSync(join(split, 'init-0.m4s')), readFileSync(join(split, f))]));
      expect(startsWithKeyframe(joined), `${f} opens on a keyframe`).toBe(true);
    }
  });
});

describe('split stages refuse what they cannot do', () => {
  it('an explicit parallelism on an audio-only input fails the plan at options.parallelism', async () => {
    makeSource(storage.host('/storage/split/tone.m4a'), { video: false, seconds: 3, args: ['-c:a', 'aac'] });
    const spec = normalizeRequest('convert', { input: '/storage/split/tone.m4a', output: { path: '/storage/split/tone.mp4', format: 'mp4' }, options: { parallelism: 2 } });
    const r = await runSplit(storage, spec);
    expect(r.plan.result.status).toBe('failed');
    expect(r.plan.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'options.parallelism' });
    expect(r.plan.exitCode).toBe(65);
  });

  it('"auto" on a short input plans one chunk (one FFmpeg)', async () => {
    const input = source('short.mp4', { seconds: 3, gop: 25 });
    const r = await runSplit(storage, convertSpec(input, '/storage/split/short-out.mp4', {}, { parallelism: 'auto' }), { capacity: 4 });
    expectCompleted(r.plan);
    expect(r.plan.result.chunking?.count).toBe(1);
  });

  it('a chunk without a plan fails as an internal error, and a merge with a chunk missing fails', async () => {
    const input = source('orphan.mp4', { seconds: 3, gop: 25 });
    const spec = convertSpec(input, '/storage/split/orphan-out.mp4', {}, { parallelism: 2 });
    const { runJob } = await import('../../worker-image/src/job.ts');
    const { MemorySink } = await import('../../worker-image/src/events.ts');
    const { LocalStorage } = await import('../../worker-image/src/storage.ts');
    const { toolsFromEnv } = await import('../../worker-image/src/tools.ts');
    const env = (split: Parameters<typeof runJob>[1]['split']) => ({ jobId: 'orphan1', storage: new LocalStorage(storage.root), tools: toolsFromEnv(), sink: new MemorySink(), split });
    const chunk = await runJob(spec, env({ stage: 'chunk', index: 0 }));
    expect(chunk.result.status).toBe('failed');
    expect(chunk.result.error?.message).toMatch(/plan/);
    expect((await runJob(spec, env({ stage: 'plan', capacity: 2 }))).result.status).toBe('completed');
    expect((await runJob(spec, env({ stage: 'chunk', index: 0 }))).result.status).toBe('completed');
    const merge = await runJob(spec, env({ stage: 'merge' }));
    expect(merge.result.status).toBe('failed');
    expect(merge.result.error?.message).toMatch(/chunk 1 of 2 is missing/);
    expect(existsSync(storage.host('/storage/split/orphan-out.mp4')), 'nothing at the output path').toBe(false);
    expect((await runJob(spec, env({ stage: 'cleanup' }))).result.status).toBe('completed');
    expect(existsSync(storage.host('/storage/.kubeff/split/orphan1'))).toBe(false);
  });

  it('no job may read or write kubeff working files', () => {
    writeFileSync(storage.host('/storage/split/dummy.txt'), 'x');
    expect(() => normalizeRequest('convert', { input: '/storage/.kubeff/split/x/chunk-0000.nut', output: 'mp4' })).toThrow(/reserved|kubeff keeps/);
    expect(() => normalizeRequest('convert', { input: '/storage/split/lossy.mp4', output: { path: '/storage/.kubeff/split/x/plan.json', format: 'mp4' } })).toThrow(/kubeff keeps/);
  });
});
