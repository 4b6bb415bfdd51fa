// The worker publishes live events to a real nats-server, and still finishes correctly when NATS
// cannot be reached (the result never depends on NATS).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { startNats } from '../support/nats.ts';
import { freePort } from '../support/ports.ts';

const repo = join(import.meta.dirname, '../..');
let storage: StorageRoot;
let nats: Awaited<ReturnType<typeof startNats>>;

beforeAll(async () => {
  storage = makeStorage();
  makeSource(storage.host('/storage/in.mp4'), { seconds: 2 });
  nats = await startNats();
});
afterAll(async () => {
  await nats?.stop();
  storage.remove();
});

function runWorker(env: Record<string, string>, name: string): Promise<{ code: number | null; result: { status: string; outputs: unknown[] } }> {
  const spec = normalizeRequest('convert', { input: '/storage/in.mp4', output: { path: `/storage/${name}.mp4`, video: { preset: 'ultrafast' } } });
  const resultPath = join(storage.root, `${name}.result.json`);
  return new Promise((resolve) => {
    const child = spawn(join(repo, 'node_modules/.bin/node'), [join(repo, 'worker-image/src/main.ts'), '--job-id', name, '--result', resultPath, '--events', '/dev/null'], {
      env: { ...process.env, KUBEFF_SPEC: JSON.stringify(spec), KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_NAMESPACE: 'media', ...env },
      stdio: 'ignore',
    });
    child.on('close', (code) => resolve({ code, result: JSON.parse(readFileSync(resultPath, 'utf8')) as never }));
  });
}

describe('worker events on NATS', () => {
  it('publishes progress, logs and lifecycle events on kubeff.jobs.<namespace>.<name>.*, with the trace context', async () => {
    const nc = await connect({ servers: nats.url });
    const got: { subject: string; type: string; traceparent: string | undefined }[] = [];
    const sub = nc.subscribe('kubeff.jobs.>');
    const reading = (async () => {
      for await (const m of sub) {
        got.push({ subject: m.subject, type: (m.json() as { type: string }).type, traceparent: m.headers?.get('traceparent') || undefined });
      }
    })();
    await nc.flush();
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const run = await runWorker({ NATS_URL: nats.url, TRACEPARENT: tp }, 'job-a');
    expect(run.code).toBe(0);
    const deadline = Date.now() + 5000;
    while (!got.some((g) => g.type === 'completed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    await reading;
    await nc.close();
    expect(got.filter((g) => g.type === 'progress').every((g) => g.subject === 'kubeff.jobs.media.job-a.progress')).toBe(true);
    expect(got.some((g) => g.type === 'progress')).toBe(true);
    expect(got.some((g) => g.subject === 'kubeff.jobs.media.job-a.log')).toBe(true);
    expect(got.find((g) => g.type === 'completed')?.subject).toBe('kubeff.jobs.media.job-a.event');
    expect(got.every((g) => g.traceparent === tp)).toBe(true);
  });

  it('finishes with the correct result when NATS is unreachable', async () => {
    const closedPort = await freePort();
    const run = await runWorker({ NATS_URL: `nats://127.0.0.1:${closedPort}` }, 'job-b');
    expect(run.code).toBe(0);
    expect(run.result.status).toBe('completed');
    expect(run.result.outputs).toHaveLength(1);
  });
});
