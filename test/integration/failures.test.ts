// How the worker fails: exit codes that tell retry from no-retry, refusals made before FFmpeg
// starts, cancellation that really stops FFmpeg and leaves no partial output.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { ExitCode } from '../../worker-image/src/exit-codes.ts';
import { toolsFromEnv, type Tools } from '../../worker-image/src/tools.ts';
import { makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { runSpec } from '../support/worker.ts';

let storage: StorageRoot;
let spy: { tools: Tools; calls: () => string[] };
const src = '/storage/input/video.mp4';
const repo = join(import.meta.dirname, '../..');
const node = join(repo, 'node_modules/.bin/node');

/** An FFMPEG_PATH that records every invocation before running the real FFmpeg. */
function ffmpegSpy(dir: string): { tools: Tools; calls: () => string[] } {
  const log = join(dir, 'ffmpeg-calls.log');
  const script = join(dir, 'ffmpeg-spy.sh');
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ffmpeg "$@"\n`);
  chmodSync(script, 0o755);
  writeFileSync(log, '');
  return {
    tools: { ...toolsFromEnv(), ffmpeg: script, vmafCandidates: [script] },
    calls: () => readFileSync(log, 'utf8').split('\n').filter((l) => l && !/^-hide_banner -(encoders|filters|hwaccels|h )|^-version/.test(l)),
  };
}

const base = { operations: [], options: { priority: 'normal', hardwareAcceleration: 'auto' } };

beforeAll(() => {
  storage = makeStorage();
  makeSource(storage.host(src));
  spy = ffmpegSpy(storage.root);
  mkdirSync(storage.host('/storage/bad'), { recursive: true });
  writeFileSync(storage.host('/storage/bad/corrupt.mp4'), Buffer.from('this is not a video file at all, just text pretending'.repeat(100)));
  symlinkSync('/etc/passwd', storage.host('/storage/bad/passwd.mp4'));
});
afterAll(() => storage.remove());

describe('worker exit codes', () => {
  it.each([
    { name: 'a missing input', spec: { type: 'convert', input: { path: '/storage/nope.mp4' }, output: { path: '/storage/o/1.mp4', format: 'mp4' }, ...base }, code: 'INVALID_INPUT', exit: ExitCode.invalidInput, field: 'input.path' },
    { name: 'a corrupt input', spec: { type: 'convert', input: { path: '/storage/bad/corrupt.mp4' }, output: { path: '/storage/o/2.mp4', format: 'mp4' }, ...base }, code: 'INVALID_INPUT', exit: ExitCode.invalidInput, field: 'input.path' },
    { name: 'a symlink out of storage', spec: { type: 'convert', input: { path: '/storage/bad/passwd.mp4' }, output: { path: '/storage/o/3.mp4', format: 'mp4' }, ...base }, code: 'INVALID_INPUT', exit: ExitCode.invalidSpec, field: 'input.path' },
    { name: 'a schema violation from a hand-written MediaJob', spec: { type: 'convert', input: { path: src }, output: { path: '/storage/o/4.mp4', format: 'mp4', video: { crf: 'high' } }, ...base }, code: 'INVALID_REQUEST', exit: ExitCode.invalidSpec, field: 'output.video.crf' },
    { name: 'a codec/container mismatch from a hand-written MediaJob', spec: { type: 'convert', input: { path: src }, output: { path: '/storage/o/5.mp4', format: 'mp4', video: { codec: 'vp9' } }, ...base }, code: 'INVALID_CODEC_FORMAT', exit: ExitCode.invalidSpec, field: 'output.video.codec' },
    { name: 'a trim past the end', spec: { type: 'convert', input: { path: src }, output: { path: '/storage/o/6.mp4', format: 'mp4' }, ...base, operations: [{ type: 'trim', start: 30 }] }, code: 'INVALID_INPUT', exit: ExitCode.invalidInput, field: 'operations[0].start' },
    { name: 'a crop outside the frame', spec: { type: 'convert', input: { path: src }, output: { path: '/storage/o/7.mp4', format: 'mp4' }, ...base, operations: [{ type: 'crop', width: 300, height: 200, x: 100, y: 0 }] }, code: 'INVALID_INPUT', exit: ExitCode.invalidInput, field: 'operations[0]' },
    { name: 'nvenc on a machine without a GPU', spec: { type: 'convert', input: { path: src }, output: { path: '/storage/o/8.mp4', format: 'mp4' }, operations: [], options: { priority: 'normal', hardwareAcceleration: 'nvenc' } }, code: 'UNSUPPORTED_CAPABILITY', exit: ExitCode.unavailable, field: 'options.hardware_acceleration' },
  ])('fails $name without retry and without running a transcode', async ({ spec, code, exit, field }) => {
    const before = spy.calls().length;
    const r = await runSpec(storage, spec, { tools: spy.tools });
    expect(r.result.status).toBe('failed');
    expect(r.result.error).toMatchObject({ code, field, retryable: false });
    expect(r.exitCode).toBe(exit);
    expect(spy.calls().slice(before), 'FFmpeg was never asked to transcode').toEqual([]);
    expect(existsSync(storage.host('/storage/o')) ? readdirSync(storage.host('/storage/o')) : [], 'no output was written').toEqual([]);
  });

  it('explains that NVENC is unavailable even though this FFmpeg lists NVENC encoders', async () => {
    const r = await runSpec(storage, { type: 'convert', input: { path: src }, output: { path: '/storage/o/9.mp4', format: 'mp4' }, operations: [], options: { priority: 'normal', hardwareAcceleration: 'nvenc' } });
    expect(r.result.error?.message).toMatch(/NVENC cannot be used here/);
  });

  it('runs on the CPU under "auto" when no GPU is present, and says why', async () => {
    const r = await runSpec(storage, { type: 'convert', input: { path: src }, output: { path: '/storage/cpu/ok.mp4', format: 'mp4', video: { preset: 'ultrafast' } }, operations: [], options: { priority: 'normal', hardwareAcceleration: 'auto' } });
    expect(r.result.status).toBe('completed');
    expect(r.result.acceleration).toMatchObject({ decode: 'cpu', encode: 'cpu' });
    expect(r.result.acceleration?.reason).toMatch(/no NVIDIA device/);
  });
});

describe('refusals before FFmpeg starts', () => {
  // Specs that bypass the gateway (kubectl apply) are checked again by the worker itself.
  const injection = '0.1,drawtext=textfile=/etc/passwd';
  it.each([
    ['brightness as a string', { type: 'color', brightness: injection }],
    ['watermark position', { type: 'watermark', image: '/storage/a.png', position: `bottom-right;movie=/etc/passwd`, opacity: 1, scale: 0.1, margin: 0 }],
    ['sharpen amount', { type: 'sharpen', amount: injection }],
    ['an unknown operation', { type: 'drawtext', text: injection }],
    ['an extra field on an operation', { type: 'blur', sigma: 1, filter: injection }],
    ['a watermark image outside storage', { type: 'watermark', image: '/etc/passwd', position: 'top', opacity: 1, scale: 0.1, margin: 0 }],
  ])('refuses %s in a hand-written MediaJob', async (_name, op) => {
    const before = spy.calls().length;
    const r = await runSpec(storage, { type: 'convert', input: { path: src }, output: { path: '/storage/x/out.mp4', format: 'mp4' }, operations: [op], options: { priority: 'normal', hardwareAcceleration: 'auto' } }, { tools: spy.tools });
    expect(r.result.status).toBe('failed');
    expect(r.exitCode).toBe(ExitCode.invalidSpec);
    expect(r.result.error?.field).toMatch(/^operations/);
    expect(spy.calls().slice(before)).toEqual([]);
  });

  it.each([
    ['a parent-directory path', '/storage/../../etc/passwd'],
    ['an absolute path outside storage', '/etc/passwd'],
    ['an http URL', 'http://127.0.0.1:9/x.mp4'],
    ['a concat protocol URL', 'concat:/storage/input/video.mp4|/etc/passwd'],
  ])('refuses %s as input', async (_name, path) => {
    const before = spy.calls().length;
    const r = await runSpec(storage, { type: 'convert', input: { path }, output: { path: '/storage/x/out.mp4', format: 'mp4' }, ...base }, { tools: spy.tools });
    expect(r.result.status).toBe('failed');
    expect(r.result.error?.field).toMatch(/^input/);
    expect(spy.calls().slice(before)).toEqual([]);
  });

  it('passes every path to FFmpeg as a file: URL behind a file-only protocol whitelist', async () => {
    const before = spy.calls().length;
    const odd = '/storage/odd name, [x]; y=1/in put.mp4';
    makeSource(storage.host(odd), { seconds: 1 });
    const r = await runSpec(storage, normalizeRequest('convert', { input: odd, output: { path: '/storage/odd name, [x]; y=1/out.mp4', video: { preset: 'ultrafast' } }, operations: [{ type: 'scale', width: 160 }] }), { tools: spy.tools });
    expect(r.result.status).toBe('completed');
    const call = spy.calls().slice(before).find((c) => c.includes('-filter_complex'));
    expect(call).toContain(`-protocol_whitelist file -i file:${storage.host(odd)}`);
    const graph = call?.split('-filter_complex ')[1]?.split(' -map')[0];
    expect(graph).toBe('[0:v:0]scale=w=160:h=120[vout];[0:a:0]anull[aout]');
  });
});

/** Starts the worker entrypoint as a child process, the way the runtimes do. */
function startWorker(spec: unknown, resultPath: string) {
  const child = spawn(node, [join(repo, 'worker-image/src/main.ts'), '--result', resultPath, '--job-id', 'cancel1'], {
    env: { ...process.env, KUBEFF_SPEC: JSON.stringify(spec), KUBEFF_STORAGE_ROOT: storage.root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: { type: string; percentage?: number }[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, i)) as { type: string });
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, events, exited };
}

describe('cancellation', () => {
  it('stops FFmpeg on SIGTERM, removes the partial output and exits with the cancelled code', async () => {
    makeSource(storage.host('/storage/input/long.mp4'), { seconds: 20, width: 640, height: 480 });
    const spec = normalizeRequest('convert', { input: '/storage/input/long.mp4', output: { path: '/storage/cancel/out.mp4', video: { codec: 'h265', preset: 'slow' } } });
    const resultPath = join(storage.root, 'cancel-result.json');
    const w = startWorker(spec, resultPath);
    const deadline = Date.now() + 30_000;
    while (!w.events.some((e) => e.type === 'progress' && (e.percentage ?? 0) > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(w.events.some((e) => e.type === 'progress'), 'the encode had started').toBe(true);
    const sent = Date.now();
    w.child.kill('SIGTERM');
    const code = await w.exited;
    const tookMs = Date.now() - sent;
    expect(code).toBe(ExitCode.cancelled);
    expect(tookMs, 'stopped promptly').toBeLessThan(5000);
    const result = JSON.parse(readFileSync(resultPath, 'utf8')) as { status: string; error: { code: string } };
    expect(result.status).toBe('cancelled');
    expect(result.error.code).toBe('CANCELLED');
    expect(readdirSync(storage.host('/storage/cancel')), 'no partial output left behind').toEqual([]);
    expect(w.events.at(-1)?.type).toBe('cancelled');
  });
});
