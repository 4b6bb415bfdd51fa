// The `kubeff` CLI as a user runs it: a child process (the repo's Node 24, running the TypeScript
// directly) against a real standalone gateway on a loopback port, real worker, real FFmpeg.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../gateway/src/config.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import { ffmpegBin, ffprobe, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';

const repo = join(import.meta.dirname, '..', '..');
const nodeBin = join(repo, 'node_modules', '.bin', 'node');
const cliEntry = join(repo, 'cli', 'src', 'cli.ts');
const adminKey = 'admin-key-1';
const clientKey = 'client-key-1';
const clip = '/storage/input/clip.mp4'; // 640x360, 25 fps, 6 s, stereo
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A generated key: kff_<id>_<secret>. A secret must never appear in list or export output. */
const secretShape = /kff_[A-Za-z0-9]+_[A-Za-z0-9_-]{16,}/;

let storage: StorageRoot;
let dataDir: string;
let s: Standalone;
let url: string;

beforeAll(async () => {
  storage = makeStorage('kubeff-cli-');
  dataDir = mkdtempSync(join(tmpdir(), 'kubeff-cli-data-'));
  makeSource(storage.host(clip), { seconds: 6, width: 640, height: 360 });
  // The same picture encoded badly, for quality metrics against the clip.
  execFileSync(ffmpegBin, ['-v', 'error', '-y', '-i', storage.host(clip), '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '40', '-c:a', 'copy', storage.host('/storage/input/clip-low.mp4')]);
  writeFileSync(storage.host('/storage/input/notes.txt'), 'not a video\n');
  s = await startStandalone(configFromEnv({ PORT: '0', KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_DATA_DIR: dataDir, KUBEFF_API_KEYS: clientKey, KUBEFF_ADMIN_KEYS: adminKey, LOG_LEVEL: 'warn' }));
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await s?.close();
  storage?.remove();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI. Asynchronously, on purpose: the gateway lives in this process, and a synchronous
 * child would block the very event loop that has to answer it. Killed after `timeoutMs`.
 */
function kubeff(args: string[], o: { key?: string | null; stdin?: string; timeoutMs?: number } = {}): Promise<Ran> {
  // Nothing of the developer's own KUBEFF_* settings may leak into a test.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KUBEFF_')));
  env['KUBEFF_URL'] = url;
  const key = o.key === undefined ? clientKey : o.key;
  if (key !== null) env['KUBEFF_API_KEY'] = key;
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [cliEntry, ...args], { env, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubeff ${args.join(' ')} ran past ${o.timeoutMs ?? 90_000} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, o.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
  });
}

/** Fails with the CLI's own output when the exit status is not the expected one. */
function expectExit(r: Ran, code: number): Ran {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r;
}

async function generate(args: string[] = []): Promise<{ key: string; id: string }> {
  const r = expectExit(await kubeff(['keys', 'generate', '--json', ...args], { key: adminKey }), 0);
  const body = JSON.parse(r.stdout) as { key: string; api_key: { id: string } };
  return { key: body.key, id: body.api_key.id };
}

describe('kubeff keys', () => {
  it('generates a client key that works at once, printing only the key on stdout', async () => {
    const r = expectExit(await kubeff(['keys', 'generate', '--name', 'ci runner'], { key: adminKey }), 0);
    const key = r.stdout.trim();
    expect(key).toMatch(/^kff_[0-9a-f]{12}_\S+$/);
    expect(r.stderr).toMatch(/shown only now/);

    const t = expectExit(await kubeff(['keys', 'test'], { key }), 0);
    expect(t.stdout).toMatch(/key accepted/);
    expect(t.stdout).toMatch(/scope: +client/);
    expect(t.stdout).toContain(key.split('_')[1]);
  });

  it('generates an admin key with --admin, and test reports each scope in JSON', async () => {
    const { key, id } = await generate(['--name', 'ops', '--admin']);
    const t = JSON.parse(expectExit(await kubeff(['keys', 'test', '--json'], { key }), 0).stdout) as { ok: boolean; scope: string; id: string; name: string };
    expect(t).toMatchObject({ ok: true, scope: 'admin', id, name: 'ops' });
    const c = JSON.parse(expectExit(await kubeff(['keys', 'test', '--json'], { key: clientKey }), 0).stdout) as { ok: boolean; scope: string };
    expect(c).toMatchObject({ ok: true, scope: 'client' });
  });

  it('rotates a key: the old secret is refused (exit 1) and the new one works', async () => {
    const { key: old, id } = await generate(['--name', 'to rotate']);
    const r = expectExit(await kubeff(['keys', 'rotate', id], { key: adminKey }), 0);
    const fresh = r.stdout.trim();
    expect(fresh).toMatch(new RegExp(`^kff_${id}_\\S+$`));
    expect(fresh).not.toBe(old);

    const refused = expectExit(await kubeff(['keys', 'test'], { key: old }), 1);
    expect(refused.stdout).toMatch(/key refused.*invalid API key.*HTTP 401/);
    expectExit(await kubeff(['keys', 'test'], { key: fresh }), 0);
  });

  it('rotates every generated key with --all, skipping keys from the environment and the key in use last', async () => {
    const a = await generate(['--name', 'incident a']);
    const b = await generate(['--name', 'incident b', '--admin']);
    const r = expectExit(await kubeff(['keys', 'rotate', '--all'], { key: b.key }), 0);
    const rotated = new Map(r.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]));
    expect(rotated.get(a.id)).toMatch(new RegExp(`^kff_${a.id}_`));
    // The key that did the rotating comes last, so nothing after it ran on a dead key.
    expect([...rotated.keys()].at(-1)).toBe(b.id);
    expect([...rotated.keys()].some((id) => id.startsWith('env-'))).toBe(false);
    expect(r.stderr).toMatch(/skipped env-[0-9a-f]{12}: .*KUBEFF_API_KEYS/);

    expectExit(await kubeff(['keys', 'test'], { key: a.key }), 1);
    expectExit(await kubeff(['keys', 'test'], { key: rotated.get(a.id) ?? '' }), 0);
    expectExit(await kubeff(['keys', 'test'], { key: rotated.get(b.id) ?? '' }), 0);
    expectExit(await kubeff(['keys', 'test'], { key: clientKey }), 0);
  });

  it('deletes (revokes) a key: it is refused from then on and listed as revoked', async () => {
    const { key, id } = await generate(['--name', 'to delete']);
    expectExit(await kubeff(['keys', 'test'], { key }), 0);
    const d = expectExit(await kubeff(['keys', 'delete', id], { key: adminKey }), 0);
    expect(d.stdout).toContain(`revoked client key ${id}`);
    expectExit(await kubeff(['keys', 'test'], { key }), 1);
    const listed = JSON.parse(expectExit(await kubeff(['keys', 'list', '--json'], { key: adminKey }), 0).stdout) as { keys: { id: string; revoked_at: string | null }[] };
    expect(listed.keys.find((k) => k.id === id)?.revoked_at).toEqual(expect.any(String));
  });

  it('lists and exports metadata only: no secret, in any format', async () => {
    const secrets = [adminKey, clientKey, (await generate(['--name', 'secret holder'])).key, (await generate(['--name', 'admin holder', '--admin'])).key];
    const outputs = await Promise.all([
      kubeff(['keys', 'list'], { key: adminKey }),
      kubeff(['keys', 'list', '--json'], { key: adminKey }),
      kubeff(['keys', 'export'], { key: adminKey }),
      kubeff(['keys', 'export', '--format', 'json'], { key: adminKey }),
    ]);
    for (const r of outputs) {
      expectExit(r, 0);
      for (const secret of secrets) {
        expect(r.stdout).not.toContain(secret);
        expect(r.stderr).not.toContain(secret);
      }
      expect(r.stdout).not.toMatch(secretShape);
    }
    const [table, listJson, env, exportJson] = outputs as [Ran, Ran, Ran, Ran];
    const keys = (JSON.parse(listJson.stdout) as { keys: { id: string; name: string }[] }).keys;
    expect(table.stdout).toMatch(/^ID +NAME +SCOPE +STATUS/);
    for (const k of keys) expect(table.stdout).toContain(k.id);

    // env: a comment saying why there are no secrets, then sh-quoted variables for every key.
    expect(env.stdout).toMatch(/^# .*SHA-256 hashes/m);
    expect(env.stdout).toContain(`KUBEFF_KEY_COUNT=${keys.length}`);
    expect(env.stdout).toContain(`KUBEFF_KEY_0_ID='${keys[0]?.id}'`);
    expect(env.stdout).toMatch(/KUBEFF_KEY_\d+_NAME='secret holder'/);
    const sourced = execFileSync('sh', ['-c', `${env.stdout}\nprintf %s "$KUBEFF_KEY_COUNT"`], { encoding: 'utf8' });
    expect(sourced).toBe(String(keys.length));

    const exported = JSON.parse(exportJson.stdout) as { secrets_included: boolean; note: string; keys: unknown[] };
    expect(exported.secrets_included).toBe(false);
    expect(exported.note).toMatch(/SHA-256 hashes/);
    expect(exported.keys).toHaveLength(keys.length);
  });

  it('shows the API\'s refusal when a client key tries to manage keys (exit 2)', async () => {
    const r = expectExit(await kubeff(['keys', 'list'], { key: clientKey }), 2);
    expect(r.stderr).toContain('HTTP 403 ACCESS_DENIED: this route needs an admin key');
    expect(r.stderr).toContain('field: X-API-Key');
  });

  it('refuses to test without a key (exit 2) and reports an unknown key as refused (exit 1)', async () => {
    const none = expectExit(await kubeff(['keys', 'test'], { key: null }), 2);
    expect(none.stderr).toMatch(/no API key: set KUBEFF_API_KEY or pass --key/);
    const wrong = expectExit(await kubeff(['keys', 'test', '--json'], { key: 'kff_000000000000_nope' }), 1);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ ok: false, status: 401, error: { code: 'UNAUTHORIZED' } });
  });
});

describe('kubeff convert|stream|analyze', () => {
  it('converts a real file with --wait: exit 0, the output path, progress lines on a non-TTY stderr', async () => {
    const out = '/storage/out/clip-480p.mp4';
    const r = expectExit(await kubeff(['convert', clip, out, '--codec', 'h264', '--preset', 'veryfast', '--crf', '26', '--resolution', '480p', '--audio-codec', 'aac', '--wait']), 0);
    const [id, ...rest] = r.stdout.split('\n');
    expect(id).toMatch(uuid);
    expect(rest.join('\n')).toMatch(new RegExp(`job ${id} \\(convert\\) completed`));
    expect(rest.join('\n')).toContain(`output:  ${out}`);
    expect(rest.join('\n')).toMatch(/h264\/aac, 854x480/);

    // Not a terminal: whole lines, no carriage returns or escape sequences.
    expect(r.stderr).toMatch(/^status processing$/m);
    expect(r.stderr).toMatch(/^progress +\d+\.\d%  encoding/m);
    expect(r.stderr).toMatch(/^status completed$/m);
    expect(r.stderr).not.toMatch(/[\r\x1b]/);

    const probe = ffprobe(storage.host(out));
    expect([videoStream(probe).codec_name, videoStream(probe).width, videoStream(probe).height]).toEqual(['h264', 854, 480]);
  });

  it('packages HLS variants with --wait --json: one JSON document, the finished job', async () => {
    const r = expectExit(await kubeff(['stream', clip, '/storage/out/hls', '--type', 'hls', '--variant', '360p:800k', '--variant', '240p:400k:small', '--segment-duration', '2', '--wait', '--quiet', '--json']), 0);
    const job = JSON.parse(r.stdout) as { status: string; type: string; outputs: { path: string; role: string }[] };
    expect(job).toMatchObject({ status: 'completed', type: 'stream' });
    expect(job.outputs.map((o) => o.role)).toContain('playlist');
    expect(job.outputs.some((o) => o.path.includes('/small/'))).toBe(true);
    expect(r.stderr).toBe('');
  });

  it('analyzes quality against a reference with --wait and prints the metrics', async () => {
    const r = expectExit(await kubeff(['analyze', '/storage/input/clip-low.mp4', '--reference', clip, '--metric', 'psnr,ssim', '--wait', '--quiet']), 0);
    expect(r.stdout).toMatch(/\(analyze\) completed/);
    const psnr = /psnr ([\d.]+)/.exec(r.stdout);
    expect(Number(psnr?.[1])).toBeGreaterThan(15);
    expect(Number(psnr?.[1])).toBeLessThan(60);
    expect(r.stdout).toMatch(/ssim 0\.\d+/);
  });

  it('exits 2 with the API\'s message and field when a submission is refused', async () => {
    const missing = expectExit(await kubeff(['convert', '/storage/input/missing.mp4', '/storage/out/x.mp4', '--wait']), 2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain('HTTP 400 INVALID_INPUT: input: file not found');
    expect(missing.stderr).toMatch(/^ {2}field: input$/m);

    const codec = expectExit(await kubeff(['convert', clip, '/storage/out/x.mp4', '--codec', 'vp9']), 2);
    expect(codec.stderr).toContain('INVALID_CODEC_FORMAT');
    expect(codec.stderr).toMatch(/^ {2}field: output\.video\.codec$/m);

    const json = expectExit(await kubeff(['convert', clip, '/storage/out/x.mp4', '--crf', '99', '--json']), 2);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 400, error: { code: 'INVALID_OUTPUT', details: { field: 'output.video.crf' } } });
  });

  it('exits 1 and shows the error and field when the job fails (a trim past the end)', async () => {
    const r = expectExit(await kubeff(['convert', clip, '/storage/out/late.mp4', '--start', '30', '--wait']), 1);
    expect(r.stdout).toMatch(/\(convert\) failed/);
    expect(r.stdout).toMatch(/error: +INVALID_INPUT: trim starts at 30s/);
    expect(r.stdout).toMatch(/field: +operations\[0\]\.start/);
    expect(r.stderr).toMatch(/^status failed$/m);
  });

  it('exits 1 when the input is not media: accepted, then failed by the worker', async () => {
    const r = expectExit(await kubeff(['convert', '/storage/input/notes.txt', '/storage/out/notes.mp4', '--wait', '--json', '--quiet']), 1);
    const job = JSON.parse(r.stdout) as { status: string; error: { code: string; field?: string } };
    expect(job.status).toBe('failed');
    expect(job.error.code).toBe('INVALID_INPUT');
  });
});

describe('kubeff jobs', () => {
  it('submits a body from stdin, then waits for, gets, lists and reads the logs of the job', async () => {
    const body = { input: clip, output: { path: '/storage/out/from-stdin.mkv', video: { codec: 'h264', preset: 'ultrafast' } } };
    const submitted = expectExit(await kubeff(['convert', '--body', '-'], { stdin: JSON.stringify(body) }), 0);
    const id = submitted.stdout.trim();
    expect(id).toMatch(uuid);
    expect(submitted.stderr).toContain(`kubeff jobs wait ${id}`);

    const waited = expectExit(await kubeff(['jobs', 'wait', id]), 0);
    expect(waited.stdout).toContain('/storage/out/from-stdin.mkv');
    const got = JSON.parse(expectExit(await kubeff(['jobs', 'get', id, '--json']), 0).stdout) as { id: string; status: string };
    expect(got).toMatchObject({ id, status: 'completed' });
    const listed = expectExit(await kubeff(['jobs', 'list', '--status', 'completed']), 0);
    expect(listed.stdout).toMatch(/^ID +TYPE +STATUS/);
    expect(listed.stdout).toContain(id);
    const logs = expectExit(await kubeff(['jobs', 'logs', id, '--lines', '3']), 0);
    const lines = logs.stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(3);
  });

  it('cancels a running job: wait then exits 1, and a finished job cannot be cancelled (exit 2)', async () => {
    // Upscaled with the slowest preset: runs long enough to be cancelled while it works.
    const id = expectExit(await kubeff(['convert', clip, '/storage/out/slow.mp4', '--resolution', '1080p', '--preset', 'veryslow']), 0).stdout.trim();
    const cancelled = expectExit(await kubeff(['jobs', 'cancel', id]), 0);
    expect(cancelled.stdout).toBe(`job ${id} cancelled\n`);
    const waited = expectExit(await kubeff(['jobs', 'wait', id]), 1);
    expect(waited.stdout).toMatch(/\(convert\) cancelled/);
    const again = expectExit(await kubeff(['jobs', 'cancel', id]), 2);
    expect(again.stderr).toContain('HTTP 409 JOB_ALREADY_FINISHED');
  });

  it('reports an unknown job as the API does (exit 2)', async () => {
    const r = expectExit(await kubeff(['jobs', 'wait', '00000000-0000-0000-0000-000000000000']), 2);
    expect(r.stderr).toContain('HTTP 404 JOB_NOT_FOUND');
  });
});

describe('kubeff usage', () => {
  it('prints help with every command, and per-command help with its flags', async () => {
    const main = expectExit(await kubeff(['--help'], { key: null }), 0);
    for (const c of ['convert', 'stream', 'analyze', 'jobs list', 'jobs cancel', 'keys generate', 'keys rotate', 'keys export']) expect(main.stdout).toContain(c);
    const convert = expectExit(await kubeff(['convert', '--help'], { key: null }), 0);
    expect(convert.stdout).toContain('--codec');
    expect(convert.stdout).toContain('--wait');
    const keys = expectExit(await kubeff(['help', 'keys'], { key: null }), 0);
    expect(keys.stdout).toContain('kubeff keys rotate <id> | --all');
  });

  it('exits 2 on usage errors without calling the server', async () => {
    const flagErr = expectExit(await kubeff(['convert', clip, '/storage/out/x.mp4', '--codecc', 'h264'], { key: null }), 2);
    expect(flagErr.stderr).toContain("Unknown option '--codecc'");
    const nan = expectExit(await kubeff(['convert', clip, '/storage/out/x.mp4', '--crf', 'high'], { key: null }), 2);
    expect(nan.stderr).toContain("--crf: 'high' is not a number");
    const both = expectExit(await kubeff(['convert', clip, '/storage/out/x.mp4', '--body', '-'], { key: null, stdin: '{}' }), 2);
    expect(both.stderr).toMatch(/--body is the whole request/);
    const unknown = expectExit(await kubeff(['transmogrify'], { key: null }), 2);
    expect(unknown.stderr).toContain("no command 'transmogrify'");
  });

  it('prints the request body with --dry-run', async () => {
    const r = expectExit(await kubeff(['stream', clip, '/storage/out/s', '--variant', '720p:2.5M', '--segment-duration', '4', '--priority', 'high', '--dry-run'], { key: null }), 0);
    expect(JSON.parse(r.stdout)).toEqual({ input: clip, output: '/storage/out/s', variants: [{ resolution: '720p', bitrate: '2.5M' }], segment_duration: 4, options: { priority: 'high' } });
  });
});
