// Spare worker processes (standalone mode): started before there is a job, handed a job on stdin,
// and running it exactly as a freshly started worker would.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { defaultWorkerCommand } from '../../gateway/src/standalone.ts';
import { WarmWorkers } from '../../operator/src/local/warm-workers.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';
import { ffprobe, makeSource, makeStorage, type StorageRoot } from '../support/media.ts';

let storage: StorageRoot;
let scratch: string;

beforeAll(() => {
  storage = makeStorage('kubeff-warm-');
  scratch = mkdtempSync(join(tmpdir(), 'kubeff-warm-results-'));
  makeSource(storage.host('/storage/in.mp4'), { seconds: 1, width: 320, height: 240 });
});
afterAll(() => {
  storage.remove();
  rmSync(scratch, { recursive: true, force: true });
});

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
const pool = (spares: number) => new WarmWorkers({ command: defaultWorkerCommand(), env: { ...process.env, KUBEFF_STORAGE_ROOT: storage.root }, spares, log: pino({ level: 'silent' }) });

/** The children of this process started with --await-job (the gateway's spares). */
function spares(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--await-job');
    } catch {
      return false; // gone meanwhile
    }
  });
}

async function until<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('warm workers', () => {
  it('runs a job handed to a spare exactly as a freshly started worker runs it', async () => {
    const spec = normalizeRequest('convert', { input: '/storage/in.mp4', output: '/storage/out/from-spare.mp4' });
    const warm = pool(1);
    warm.fill();
    // Loaded and waiting, then given the job: the arguments and environment a fresh worker gets.
    await new Promise((r) => setTimeout(r, 500));
    const result = join(scratch, 'spare.json');
    const child = warm.take(['--job-id', 'spare-job', '--result', result, '--exit-with-parent'], { KUBEFF_SPEC: JSON.stringify(spec), KUBEFF_JOB_ID: 'spare-job' });
    expect(child, 'a spare was ready').toBeDefined();
    child?.stdout?.resume();
    child?.stderr?.resume();
    const code = await exited(child as ChildProcess);
    warm.stop();
    expect(code).toBe(0);
    const r = JSON.parse(readFileSync(result, 'utf8')) as { status: string; outputs: { path: string; width: number; durationSeconds: number }[] };
    expect(r.status).toBe('completed');
    expect(r.outputs[0]).toMatchObject({ path: '/storage/out/from-spare.mp4', width: 320 });
    const v = ffprobe(storage.host('/storage/out/from-spare.mp4'));
    expect(v.duration).toBeCloseTo(1, 1);
  });

  it('lets a spare exit when no job will come, and hands out no dead spare', async () => {
    const warm = pool(1);
    warm.fill();
    const pid = await until('a spare', () => spares()[0]);
    warm.stop();
    await until('the spare to exit', () => (existsSync(`/proc/${pid}`) ? undefined : true));
    expect(warm.take(['--job-id', 'x'], {}), 'a stopped pool hands out nothing').toBeUndefined();
  });

  it('gives a job to a spare started before it was submitted, and starts the next spare once the job is done', async () => {
    let gw: TestGateway | undefined;
    try {
      gw = await startGateway({ KUBEFF_WORKERS: '1', KUBEFF_SPARE_WORKERS: '1' }, { storage });
      const before = await until('the gateway\'s spare', () => spares()[0]);
      const res = await gw.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/in.mp4', output: '/storage/out/via-api.mkv' } });
      expect(res.status).toBe(201);
      const id = ((await res.json()) as { job: { id: string } }).job.id;
      const job = await waitForJob(gw, id);
      expect(job['status']).toBe('completed');
      expect(existsSync(`/proc/${before}`), 'the spare ran the job and exited').toBe(false);
      const after = await until('a new spare', () => spares().find((p) => p !== before));
      expect(after).not.toBe(before);
    } finally {
      await gw?.stop();
    }
    await until('no spare to outlive the server', () => (spares().length === 0 ? true : undefined));
  });

  it('starts no spares when the server runs no jobs (KUBEFF_WORKERS=0)', async () => {
    const gw = await startGateway({ KUBEFF_WORKERS: '0', KUBEFF_SPARE_WORKERS: '2' }, { storage });
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(spares()).toEqual([]);
    } finally {
      await gw.stop();
    }
  });
});

// A worker that is not a spare still runs when given its job on the command line (the cold path).
describe('cold workers', () => {
  it('still run a job given on the command line', async () => {
    const spec = normalizeRequest('convert', { input: '/storage/in.mp4', output: '/storage/out/cold.mp4' });
    const [cmd, ...args] = defaultWorkerCommand() as [string, ...string[]];
    const result = join(scratch, 'cold.json');
    const child = spawn(cmd, [...args, '--job-id', 'cold', '--result', result], { env: { ...process.env, KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_SPEC: JSON.stringify(spec) }, stdio: ['ignore', 'ignore', 'ignore'] });
    expect(await exited(child)).toBe(0);
    expect((JSON.parse(readFileSync(result, 'utf8')) as { status: string }).status).toBe('completed');
  });
});
