// Output verification with real FFmpeg: a good output passes and the check is recorded; an output
// FFmpeg wrote "successfully" but broken — truncated, a stream missing, the wrong length, a
// corrupt or missing HLS segment — fails the job with OUTPUT_VERIFICATION_FAILED (exit 70, never
// retried) and what was expected and found, and nothing is left at the output path.
// The breakage comes from an FFmpeg wrapper that runs the real FFmpeg, then damages what it wrote.
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { toolsFromEnv } from '../../worker-image/src/tools.ts';
import { ffmpegBin, makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';
import { expectCompleted, runSpec } from '../support/worker.ts';

let storage: StorageRoot;
let wrapperDir: string;

/** An FFmpeg that damages the main output it wrote, the way `mode` says (files named by the job's staging). */
function breakingFfmpeg(mode: string): string {
  const path = join(wrapperDir, `ffmpeg-${mode}`);
  writeFileSync(path, `#!/bin/sh
'${ffmpegBin}' "$@" || exit $?
for last; do :; done
case "$last" in
  file:*kubeff-partial-*)
    f="\${last#file:}"
    case '${mode}' in
      truncate) head -c $(( $(wc -c < "$f") / 2 )) "$f" > "$f.tmp" && mv "$f.tmp" "$f" ;;
      drop-audio) '${ffmpegBin}' -v error -y -i "$f" -map 0:v -c copy -f mp4 "$f.tmp" && mv "$f.tmp" "$f" ;;
      shorten) '${ffmpegBin}' -v error -y -i "$f" -t 1 -c copy -f mp4 "$f.tmp" && mv "$f.tmp" "$f" ;;
    esac ;;
  *index.m3u8)
    case '${mode}' in
      corrupt-segment) f=hi/segment_00001.ts; dd if=/dev/urandom of="$f" bs=1 count=4000 seek=600 conv=notrunc 2>/dev/null ;;
      missing-segment) rm -f lo/segment_00002.ts ;;
    esac ;;
esac
exit 0
`);
  chmodSync(path, 0o755);
  return path;
}

const convert = (out: string, options: Record<string, unknown> = {}) =>
  normalizeRequest('convert', { input: '/storage/in/src.mp4', output: { path: out, video: { preset: 'ultrafast' } }, options: { hardware_acceleration: 'none', ...options } });
const ladder = (out: string) => normalizeRequest('stream', {
  input: '/storage/in/src.mp4', output: out, segment_duration: 1,
  variants: [{ name: 'hi', resolution: '320x240', bitrate: '500k' }, { name: 'lo', resolution: '160x120', bitrate: '200k' }],
  options: { hardware_acceleration: 'none' },
});

beforeAll(() => {
  storage = makeStorage('kubeff-verify-');
  wrapperDir = mkdtempSync(join(tmpdir(), 'kubeff-verify-ffmpeg-'));
  makeSource(storage.host('/storage/in/src.mp4'), { seconds: 4 });
});
afterAll(() => storage.remove());

describe('output verification', () => {
  it('passes a good output and records what was checked', async () => {
    const r = expectCompleted(await runSpec(storage, convert('/storage/out/good.mp4')));
    expect(r.result.verification).toMatchObject({ outputs: 1 });
    expect(r.result.verification?.checks.sort()).toEqual(['decode', 'duration', 'streams']);
    expect(r.result.verification?.seconds).toBeGreaterThan(0);
    expect(r.events.some((e) => e.type === 'stage' && e.stage === 'verifying')).toBe(true);
  });

  it('passes a good HLS ladder: every playlist, segment and length checked', async () => {
    const r = expectCompleted(await runSpec(storage, ladder('/storage/out/good-ladder')));
    expect(r.result.verification?.checks.sort()).toEqual(['decode', 'duration', 'segments']);
  });

  it.each([
    { mode: 'truncate', check: 'decode', found: /corrupt|partial|Invalid|error/i, why: 'a file cut in half (its header still says 4 s)' },
    { mode: 'drop-audio', check: 'streams', found: /no audio stream/, why: 'the audio stream missing' },
    { mode: 'shorten', check: 'duration', found: /^1\.\d+ s$/, why: 'a 1 s file where 4 s were asked for' },
  ])('fails $why with OUTPUT_VERIFICATION_FAILED at its $check check, never retried, nothing published', async ({ mode, check, found }) => {
    const out = `/storage/out/broken-${mode}.mp4`;
    const r = await runSpec(storage, convert(out), { tools: { ...toolsFromEnv(), ffmpeg: breakingFfmpeg(mode) } });
    expect(r.result.status).toBe('failed');
    expect(r.exitCode, 'exit 70: the output is rejected, a retry would not help').toBe(70);
    expect(r.result.error).toMatchObject({ code: 'OUTPUT_VERIFICATION_FAILED', field: 'output', retryable: false, details: { check, path: out } });
    expect(r.result.error?.details?.found).toMatch(found);
    expect(r.result.error?.message).toContain(`failed its ${check} check`);
    expect(existsSync(storage.host(out)), 'nothing at the output path').toBe(false);
    expect(readdirSync(storage.host('/storage/out')).filter((n) => n.includes('partial')), 'no staging file left').toEqual([]);
  });

  it.each([
    { mode: 'corrupt-segment', check: 'decode', path: /\/hi\/segment_00001\.ts$/, why: 'a corrupt segment, named' },
    { mode: 'missing-segment', check: 'segments', path: /\/lo\/index\.m3u8$/, why: 'a segment the playlist lists but that is missing' },
  ])('fails an HLS ladder with $why', async ({ mode, check, path }) => {
    const out = `/storage/out/ladder-${mode}`;
    const r = await runSpec(storage, ladder(out), { tools: { ...toolsFromEnv(), ffmpeg: breakingFfmpeg(mode) } });
    expect(r.result.error).toMatchObject({ code: 'OUTPUT_VERIFICATION_FAILED', details: { check } });
    expect(r.result.error?.details?.path).toMatch(path);
    expect(existsSync(storage.host(out)), 'no folder published').toBe(false);
  });

  it('publishes without checking when options.verify is false', async () => {
    const r = await runSpec(storage, convert('/storage/out/unchecked.mp4', { verify: false }), { tools: { ...toolsFromEnv(), ffmpeg: breakingFfmpeg('shorten') } });
    expect(r.result.status).toBe('completed');
    expect(r.result.verification).toBeUndefined();
    expect(existsSync(storage.host('/storage/out/unchecked.mp4'))).toBe(true);
  });
});

describe('output verification through the API', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ FFMPEG_PATH: breakingFfmpeg('drop-audio') }, { retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 100 } });
    makeSource(gw.storage.host('/storage/in/src.mp4'), { seconds: 2 });
  }, 60_000);
  afterAll(async () => gw?.stop());

  it('fails the job once (no retry) with the code, the check and what was found', async () => {
    const res = await gw.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/in/src.mp4', output: { path: '/storage/out/api.mp4', video: { preset: 'ultrafast' } } } });
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { job: { id: string } }).job.id;
    const job = await waitForJob(gw, id);
    expect(job).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'OUTPUT_VERIFICATION_FAILED', retryable: false, details: { check: 'streams', expected: 'an audio stream', found: 'no audio stream' } } });
    expect(existsSync(gw.storage.host('/storage/out/api.mp4'))).toBe(false);
  });
});
