// A restart in the middle of a job loses nothing: the server runs as a real process, is killed
// (or stopped) mid-job, and the next start requeues and finishes what was accepted.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';
import { freePort } from '../support/ports.ts';

const repo = join(import.meta.dirname, '../..');
const key = 'restart-client-key-123456';
let storage: StorageRoot;
let dataDir: string;

async function startServer(port: number, env: Record<string, string> = {}, data = dataDir): Promise<ChildProcess> {
  const child = spawn(join(repo, 'node_modules/.bin/node'), [join(repo, 'gateway/src/server.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_DATA_DIR: data, KUBEFF_API_KEYS: key, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/api/v1/health`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('server did not start');
}

const api = (port: number, path: string, init: RequestInit = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { 'x-api-key': key, 'content-type': 'application/json', ...init.headers } });

async function job(port: number, id: string): Promise<{ status: string; progress: number; attempts: number; outputs: { path: string }[] }> {
  return (await (await api(port, `/api/v1/jobs/${id}`)).json()) as never;
}

async function waitFor(port: number, id: string, pred: (j: Awaited<ReturnType<typeof job>>) => boolean, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const j = await job(port, id);
    if (pred(j)) return j;
    if (Date.now() > deadline) throw new Error(`job ${id} stuck at ${JSON.stringify(j).slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

beforeAll(() => {
  storage = makeStorage('kubeff-restart-');
  dataDir = mkdtempSync(join(tmpdir(), 'kubeff-restart-data-'));
  makeSource(storage.host('/storage/long.mp4'), { seconds: 8, width: 640, height: 480 });
});
afterAll(() => {
  storage.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('restarts', () => {
  it.each([
    { how: 'killed (SIGKILL)', signal: 'SIGKILL' as const, name: 'crash' },
    { how: 'stopped (SIGTERM)', signal: 'SIGTERM' as const, name: 'graceful' },
  ])('finishes a job whose server was $how mid-job, once, with nothing lost', async ({ signal, name }) => {
    const port = await freePort();
    let server = await startServer(port);
    try {
      const res = await api(port, '/api/v1/convert', { method: 'POST', body: JSON.stringify({ input: '/storage/long.mp4', output: { path: `/storage/out/${name}.mp4`, video: { preset: 'medium' } } }) });
      const id = ((await res.json()) as { job: { id: string } }).job.id;
      await waitFor(port, id, (j) => j.status === 'processing' && j.progress > 0);
      server.kill(signal);
      await exited(server);
      server = await startServer(port);
      const done = await waitFor(port, id, (j) => ['completed', 'failed', 'cancelled'].includes(j.status));
      expect(done.status).toBe('completed');
      expect(done.attempts, 'a crash counts as an attempt; a clean stop does not').toBe(signal === 'SIGKILL' ? 2 : 1);
      const v = videoStream(ffprobe(storage.host(`/storage/out/${name}.mp4`)));
      expect([v.width, v.height]).toEqual([640, 480]);
      expect(readdirSync(storage.host('/storage/out')).filter((f) => f.startsWith('.kubeff-partial')), 'no partial files left').toEqual([]);
      const list = (await (await api(port, '/api/v1/jobs?status=processing')).json()) as { total: number };
      expect(list.total).toBe(0);
    } finally {
      server.kill('SIGKILL');
      await exited(server);
    }
  });
});

describe('durability of accepted jobs', () => {
  it('loses none of the jobs it answered 201 to when killed with SIGKILL amid a stream of submissions', async () => {
    const data = mkdtempSync(join(tmpdir(), 'kubeff-crash-data-'));
    const port = await freePort();
    // No workers: every accepted job stays queued, so what the restart finds is exactly what was stored.
    const env = { KUBEFF_WORKERS: '0', KUBEFF_RATE_LIMIT_PER_SECOND: '100000', KUBEFF_RATE_LIMIT_PER_HOUR: '10000000' };
    let server = await startServer(port, env, data);
    try {
      const n = 400;
      const answered: string[] = [];
      let killed = false;
      const body = JSON.stringify({ input: '/storage/long.mp4', output: 'mkv' });
      // 16 lanes keep submitting; the server is killed the moment the n-th 201 arrives, with
      // other submissions still in flight (their fate is open; the answered ones' is not).
      const lane = async () => {
        for (let i = 0; i < 10 * n && !killed; i++) {
          let res: Response;
          try {
            res = await api(port, '/api/v1/convert', { method: 'POST', body });
          } catch {
            return; // the connection died with the server
          }
          if (killed) return;
          expect(res.status).toBe(201);
          const text = await res.text().catch(() => undefined);
          if (killed || text === undefined) return;
          answered.push((JSON.parse(text) as { job: { id: string } }).job.id);
          if (answered.length >= n) {
            killed = true;
            server.kill('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, lane));
      expect(killed, 'the stream reached n answered submissions').toBe(true);
      await exited(server);
      server = await startServer(port, env, data);
      const missing: string[] = [];
      for (const id of answered) {
        const res = await api(port, `/api/v1/jobs/${id}`);
        if (res.status !== 200) missing.push(id);
        else expect(((await res.json()) as { status: string }).status).toBe('queued');
      }
      expect(missing, `jobs answered 201 but gone after the crash (of ${answered.length})`).toEqual([]);
      const list = (await (await api(port, '/api/v1/jobs?per_page=1')).json()) as { total: number };
      expect(list.total, 'every answered job is listed (in-flight ones may be too)').toBeGreaterThanOrEqual(answered.length);
    } finally {
      server.kill('SIGKILL');
      await exited(server);
      rmSync(data, { recursive: true, force: true });
    }
  });
});
