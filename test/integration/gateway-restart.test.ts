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

async function startServer(port: number): Promise<ChildProcess> {
  const child = spawn(join(repo, 'node_modules/.bin/node'), [join(repo, 'gateway/src/server.ts')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_DATA_DIR: dataDir, KUBEFF_API_KEYS: key, LOG_LEVEL: 'warn' },
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
