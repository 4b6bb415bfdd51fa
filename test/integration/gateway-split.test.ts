// Split jobs through the standalone API on a real port: chunks on the local worker pool, status
// and SSE progress that add the chunks up, per-chunk logs, a chunk that fails retried alone,
// cancellation, and the refusals of what cannot be split.
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { ffmpegBin, ffprobe, makeSource, videoStream } from '../support/media.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';
import { readEvents, terminalEvent } from '../support/sse.ts';

let gw: TestGateway;
let calls: string;
let crashMarker: string;

beforeAll(async () => {
  // An FFmpeg that records its calls and, once armed, crashes the first chunk encode it sees
  // (taking the marker is a rename: of two chunks starting at once, only one can win it).
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'kubeff-split-ffmpeg-'));
  calls = join(dir, 'calls.log');
  crashMarker = join(dir, 'crash-once');
  const script = join(dir, 'ffmpeg');
  writeFileSync(script, `#!/bin/sh
printf '%s\\n' "$*" >> '${calls}'
case "$*" in *-copyts*) if mv '${crashMarker}' '${crashMarker}.'$$ 2>/dev/null; then rm -f '${crashMarker}.'$$; kill -9 $$; fi;; esac
exec '${ffmpegBin}' "$@"
`);
  chmodSync(script, 0o755);
  writeFileSync(calls, '');
  gw = await startGateway({ KUBEFF_WORKERS: '3', FFMPEG_PATH: script }, { retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 500 } });
  makeSource(gw.storage.host('/storage/in/eight.mp4'), { seconds: 8 });
  makeSource(gw.storage.host('/storage/in/long.mp4'), { seconds: 30, width: 1280, height: 720 });
  makeSource(gw.storage.host('/storage/in/tone.m4a'), { video: false, seconds: 3, args: ['-c:a', 'aac'] });
}, 120_000);
afterAll(async () => gw.stop());

async function create(body: unknown): Promise<string> {
  const res = await gw.api('/api/v1/convert', { method: 'POST', json: body });
  const json = (await res.json()) as { job: { id: string } };
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json.job.id;
}

const chunkCalls = () => readFileSync(calls, 'utf8').split('\n').filter((l) => l.includes('-copyts'));
const splitFolder = (id: string) => gw.storage.host(`/storage/.kubeff/split/${id}`);

describe('a split job in standalone mode', () => {
  it('runs its chunks on the worker pool, adds their progress up, and reports how it was cut', async () => {
    const before = chunkCalls().length;
    const id = await create({ input: '/storage/in/eight.mp4', output: { path: '/storage/out/split.mp4', video: { preset: 'ultrafast' } }, options: { parallelism: 3 } });
    const events = await readEvents(await gw.api(`/api/v1/jobs/${id}/events?logs=true`), terminalEvent, 90_000);
    expect(events.at(-1)?.event, JSON.stringify(events.slice(-3))).toBe('complete');
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as { percentage: number; chunks?: { total: number } });
    expect(progress.length).toBeGreaterThan(2);
    const pct = progress.map((p) => p.percentage);
    expect(pct, 'progress never goes back').toEqual([...pct].sort((a, b) => a - b));
    expect(progress.some((p) => p.chunks?.total === 3)).toBe(true);
    const planned = events.find((e) => e.event === 'status' && e.data.includes('chunking'));
    expect(planned, 'a status event says how the job was cut').toBeDefined();
    const logs = events.filter((e) => e.event === 'log').map((e) => (JSON.parse(e.data) as { line: string }).line);
    for (const i of [0, 1, 2]) expect(logs.some((l) => l.startsWith(`[chunk ${i}] `)), `log lines of chunk ${i}`).toBe(true);

    const job = await waitForJob(gw, id);
    expect(job).toMatchObject({ status: 'completed', progress: 100, chunks: { total: 3, completed: 3, failed: 0 } });
    const chunking = job['chunking'] as { count: number; boundaries: number[]; encodeSeconds: number[] };
    expect(chunking.count).toBe(3);
    expect(chunking.boundaries).toHaveLength(4);
    expect(chunking.encodeSeconds).toHaveLength(3);
    expect(chunkCalls().length - before, 'one FFmpeg per chunk').toBe(3);
    const out = ffprobe(gw.storage.host('/storage/out/split.mp4'), true);
    expect(videoStream(out).nb_read_frames).toBe('200');
    expect(Math.abs(out.duration - 8)).toBeLessThan(0.05);
    expect(existsSync(splitFolder(id)), 'working files removed').toBe(false);

    const logRes = await gw.api(`/api/v1/jobs/${id}/logs?lines=2000`);
    const text = JSON.stringify(await logRes.json());
    expect(text).toContain('[chunk 2] ');
  }, 120_000);

  it('retries a chunk whose FFmpeg crashed, alone, and still completes', async () => {
    writeFileSync(crashMarker, '');
    const before = chunkCalls().length;
    const id = await create({ input: '/storage/in/eight.mp4', output: { path: '/storage/out/retried.mp4', video: { preset: 'ultrafast' } }, options: { parallelism: 2 } });
    const job = await waitForJob(gw, id, { timeoutMs: 90_000 });
    expect(job, JSON.stringify(job['error'])).toMatchObject({ status: 'completed', chunks: { total: 2, completed: 2, failed: 1 } });
    expect(chunkCalls().length - before, 'two chunks plus one retry, nothing else re-encoded').toBe(3);
    expect(videoStream(ffprobe(gw.storage.host('/storage/out/retried.mp4'), true)).nb_read_frames).toBe('200');
  }, 120_000);

  it('stops every chunk when cancelled and leaves no working files or output', async () => {
    const id = await create({ input: '/storage/in/long.mp4', output: { path: '/storage/out/cancelled.mp4', video: { preset: 'medium' } }, options: { parallelism: 3 } });
    await eventually('chunks encoding', async () => {
      const j = (await (await gw.api(`/api/v1/jobs/${id}`)).json()) as { stage: string; progress: number };
      return j.stage === 'encoding chunks' && j.progress > 3 ? j : undefined;
    }, 60_000, 100);
    const res = await gw.api(`/api/v1/jobs/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    await eventually('no worker left', async () => (gw.s.deps.runtime.runningCount() === 0 ? true : undefined), 15_000, 100);
    expect(existsSync(splitFolder(id)), 'working files removed').toBe(false);
    expect(existsSync(gw.storage.host('/storage/out/cancelled.mp4'))).toBe(false);
    expect(readdirSync(gw.storage.host('/storage/out')).filter((n) => n.includes('cancelled'))).toEqual([]);
    const job = await waitForJob(gw, id);
    expect(job['status']).toBe('cancelled');
  }, 120_000);

  it('splits an HLS ladder too: POST /stream with parallelism 2 cuts on a segment edge and writes every rendition', async () => {
    const before = chunkCalls().length;
    const res = await gw.api('/api/v1/stream', { method: 'POST', json: { input: '/storage/in/eight.mp4', output: '/storage/out/ladder', segment_duration: 2, variants: [{ name: 'hi', resolution: '320x240', bitrate: '600k' }, { name: 'lo', resolution: '160x120', bitrate: '200k' }], options: { parallelism: 2 } } });
    const body = (await res.json()) as { job: { id: string } };
    expect(res.status, JSON.stringify(body)).toBe(201);
    const job = await waitForJob(gw, body.job.id, { timeoutMs: 90_000 });
    expect(job, JSON.stringify(job['error'])).toMatchObject({ status: 'completed', chunks: { total: 2, completed: 2, failed: 0 }, chunking: { count: 2, boundaries: [0, 3.98, 8] } });
    expect(chunkCalls().length - before, 'one FFmpeg per chunk, both renditions from one decode').toBe(2);
    for (const r of ['hi', 'lo']) {
      const playlist = readFileSync(gw.storage.host(`/storage/out/ladder/${r}/index.m3u8`), 'utf8');
      expect(playlist.match(/#EXTINF:2\.000000,/g), `${r}: four 2 s segments`).toHaveLength(4);
    }
    expect(existsSync(splitFolder(body.job.id))).toBe(false);
  }, 120_000);

  it('"auto" on an input under a minute runs as one FFmpeg', async () => {
    const before = chunkCalls().length;
    const id = await create({ input: '/storage/in/eight.mp4', output: { path: '/storage/out/auto.mp4', video: { preset: 'ultrafast' } }, options: { parallelism: 'auto' } });
    const job = await waitForJob(gw, id, { timeoutMs: 60_000 });
    expect(job['status']).toBe('completed');
    expect(job['chunking']).toMatchObject({ count: 1 });
    expect(chunkCalls().length - before).toBe(0);
  }, 90_000);
});

describe('what cannot be split is refused before a job exists', () => {
  it.each([
    { why: 'parallelism 0', options: { parallelism: 0 }, message: /at least 1/ },
    { why: 'parallelism 65', options: { parallelism: 65 }, message: /at most 64/ },
    { why: 'parallelism "fast"', options: { parallelism: 'fast' }, message: /"auto"/ },
    { why: 'a stream copy', options: { parallelism: 2 }, output: { path: '/storage/out/x.mp4', video: { codec: 'copy' } }, message: /stream copy/ },
    { why: 'a GIF', options: { parallelism: 2 }, output: { path: '/storage/out/x.gif', format: 'gif' }, message: /GIF/ },
    { why: 'an audio-only input', options: { parallelism: 2 }, input: '/storage/in/tone.m4a', output: { path: '/storage/out/x.mp4' }, message: /no video stream/ },
  ])('$why → 400 naming options.parallelism', async ({ options, output, input, message }) => {
    const res = await gw.api('/api/v1/convert', { method: 'POST', json: { input: input ?? '/storage/in/eight.mp4', output: output ?? { path: '/storage/out/x.mp4' }, options } });
    const body = (await res.json()) as { error: { details: { field: string }; message: string } };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error.details.field).toBe('options.parallelism');
    expect(body.error.message).toMatch(message);
  });

  it('a ladder of an audio-only input → 400 naming options.parallelism', async () => {
    const res = await gw.api('/api/v1/stream', { method: 'POST', json: { input: '/storage/in/tone.m4a', output: '/storage/out/tone-ladder', options: { parallelism: 2 } } });
    const body = (await res.json()) as { error: { details: { field: string }; message: string } };
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(body.error.details.field).toBe('options.parallelism');
    expect(body.error.message).toMatch(/no video stream/);
  });

  it('chunk_seconds without a split → 400 naming options.chunk_seconds', async () => {
    const res = await gw.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/in/eight.mp4', output: { path: '/storage/out/x.mp4' }, options: { chunk_seconds: 10 } } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { details: { field: string } } }).error.details.field).toBe('options.chunk_seconds');
  });
});
