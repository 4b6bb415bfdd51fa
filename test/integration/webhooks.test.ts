// Webhooks end to end: a real gateway (standalone, real FFmpeg jobs) on a loopback port, a real
// receiver on 127.0.0.1, deliveries signed per Standard Webhooks, the webhook_events filter,
// retries with backoff, the delivery log, redelivery, ownership, the SSRF guard at send time, and
// deliveries that survive a restart. Private targets are allowed here only because the receiver
// is on loopback; nothing connects anywhere else.
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { hashKey } from '../../gateway/src/auth.ts';
import { configFromEnv } from '../../gateway/src/config.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import { DeliveryStore } from '../../gateway/src/webhooks/deliveries.ts';
import { verify } from '../../gateway/src/webhooks/signing.ts';
import type { JobRecord } from '../../operator/src/local/store.ts';
import { Store } from '../../operator/src/local/store.ts';
import { makeSource, makeStorage, type StorageRoot } from '../support/media.ts';

const keys = { a: 'webhook-test-client-a-0001', b: 'webhook-test-client-b-0002', admin: 'webhook-test-admin-0003' };
const ownerA = `env-${hashKey(keys.a).slice(0, 12)}`;
const src = '/storage/input/video.mp4';

// ---------------------------------------------------------------------------------------------
// The receiver: records every request; answers each path from a plan of statuses (the last one
// repeats), 204 when the path has none.

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

const received: Received[] = [];
const plans = new Map<string, number[]>();
let receiver: http.Server;
let receiverUrl = '';
let receiverPort = 0;

function startReceiver(): Promise<void> {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ path, headers: req.headers, body, at: Date.now() });
      const plan = plans.get(path) ?? [];
      const status = plan.length > 1 ? (plan.shift() as number) : (plan[0] ?? 204);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? `planned ${status}` : '');
    });
  });
  return new Promise((resolve) => receiver.listen(0, '127.0.0.1', () => {
    receiverPort = (receiver.address() as AddressInfo).port;
    receiverUrl = `http://127.0.0.1:${receiverPort}`;
    resolve();
  }));
}

const at = (path: string) => received.filter((r) => r.path === path);
const payloadOf = (r: Received) => JSON.parse(r.body) as { event: string; job_id: string; timestamp: string; data: Record<string, unknown> };

/** Polls until `check` returns a value (not undefined), at most `timeoutMs`. */
async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------------
// The gateway

let storage: StorageRoot;
let dataDir: string;
let gw: Standalone;
let api = '';

async function startGateway(): Promise<void> {
  const config = configFromEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    KUBEFF_STORAGE_ROOT: storage.root,
    KUBEFF_DATA_DIR: dataDir,
    KUBEFF_API_KEYS: `${keys.a},${keys.b}`,
    KUBEFF_ADMIN_KEYS: keys.admin,
    KUBEFF_WEBHOOK_ALLOW_PRIVATE: 'true',
    KUBEFF_RATE_LIMIT_PER_SECOND: '1000',
    KUBEFF_RATE_LIMIT_PER_HOUR: '1000000',
    LOG_LEVEL: 'warn',
  });
  gw = await startStandalone(config, {
    logger: pino({ level: 'warn' }),
    // Milliseconds instead of minutes; env {}: the secret is generated and kept in the database.
    webhooks: { retryDelaysMs: [300, 600, 1200], tickMs: 50, progressIntervalMs: 2000, env: {} },
  });
  await gw.app.listen({ port: 0, host: '127.0.0.1' });
  api = `http://127.0.0.1:${(gw.app.server.address() as AddressInfo).port}`;
}

async function call(path: string, init: { key?: string; method?: string; json?: unknown } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'x-api-key': init.key ?? keys.a };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${api}${path}`, { method: init.method ?? 'GET', headers, ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function submit(name: string, options: Record<string, unknown>): Promise<string> {
  const res = await call('/api/v1/convert', { method: 'POST', json: { input: src, output: { path: `/storage/out/${name}.mp4`, video: { preset: 'ultrafast' } }, options } });
  if (res.status !== 201) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
  return String((res.body['job'] as { id: string }).id);
}

async function finished(id: string): Promise<string> {
  return waitFor(`job ${id} to finish`, async () => {
    const s = String((await call(`/api/v1/jobs/${id}`)).body['status']);
    return ['completed', 'failed', 'cancelled'].includes(s) ? s : undefined;
  }, 60_000);
}

interface DeliveryJson {
  id: string;
  event: string;
  url: string;
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  payload: { event: string; job_id: string; timestamp: string; data: Record<string, unknown> };
  attempt_log: { attempt: number; started_at: string; status: number | null; error: string | null; redelivery: boolean }[];
}

async function log(jobId: string, key = keys.a): Promise<DeliveryJson[]> {
  const res = await call(`/api/v1/jobs/${jobId}/webhooks`, { key });
  if (res.status !== 200) throw new Error(`delivery log answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body['deliveries'] as DeliveryJson[];
}

/** Waits until no delivery of the job is pending and returns the log. */
async function settled(jobId: string, count: number): Promise<DeliveryJson[]> {
  return waitFor(`${count} settled deliveries of job ${jobId}`, async () => {
    const l = await log(jobId);
    return l.length === count && l.every((d) => d.state !== 'pending') ? l : undefined;
  });
}

/** A job created as `kubectl apply` would: straight into the runtime, without the gateway's checks. */
function submitDirectly(options: Record<string, unknown>, extra: Partial<JobRecord> = {}): string {
  const spec = normalizeRequest('convert', { input: src, output: { path: `/storage/out/direct-${randomUUID()}.mp4`, video: { preset: 'ultrafast' } }, options });
  const now = new Date().toISOString();
  const job: JobRecord = { id: randomUUID(), owner: ownerA, spec, status: { phase: 'queued', stage: 'queued', progress: 0, queuedAt: now, attempts: 0 }, priority: 'normal', createdAt: now, updatedAt: now, batchId: undefined, notBefore: undefined, ...extra };
  if (extra.notBefore) {
    // Never admitted: the test plays the runtime's part by publishing events itself.
    gw.deps.store.createJob(job);
  } else {
    gw.deps.runtime.submit(job);
  }
  return job.id;
}

let secret = '';

beforeAll(async () => {
  storage = makeStorage('kubeff-webhooks-');
  makeSource(storage.host(src), { seconds: 1 });
  dataDir = mkdtempSync(join(tmpdir(), 'kubeff-webhooks-data-'));
  await startReceiver();
  await startGateway();
  const res = await call('/api/v1/admin/webhook-secret', { key: keys.admin });
  expect(res.status).toBe(200);
  secret = String(res.body['secret']);
});

afterAll(async () => {
  await gw?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  storage?.remove();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('webhook deliveries', () => {
  it('signs every delivery per Standard Webhooks, verifiable with the secret admins can read', async () => {
    const id = await submit('signed', { webhook_url: `${receiverUrl}/signed` });
    expect(await finished(id)).toBe('completed');
    const deliveries = await settled(id, 2);
    const got = at('/signed');

    // No webhook_events: the default set, started then complete (no queued, no progress).
    expect(got.map((r) => payloadOf(r).event)).toEqual(['started', 'complete']);
    expect(deliveries.map((d) => [d.event, d.state, d.attempts, d.last_status])).toEqual([['started', 'delivered', 1, 204], ['complete', 'delivered', 1, 204]]);

    for (const [i, r] of got.entries()) {
      const wid = String(r.headers['webhook-id']);
      const ts = String(r.headers['webhook-timestamp']);
      const sig = String(r.headers['webhook-signature']);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['user-agent']).toBe('kubeff-webhooks/0.1');
      expect(wid).toBe(deliveries[i]?.id);
      expect(wid).toMatch(/^msg_[0-9a-f-]{36}$/);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(120);
      expect(verify(secret, wid, ts, r.body, sig)).toBe(true);
      // Independently of our verify(): HMAC-SHA256 keyed with the base64 part of whsec_.
      const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
      expect(sig).toBe(`v1,${createHmac('sha256', key).update(`${wid}.${ts}.${r.body}`).digest('base64')}`);
      expect(verify(secret, wid, ts, r.body.replace('}', ' }'), sig)).toBe(false);
    }

    const complete = payloadOf(got[1] as Received);
    expect(Object.keys(complete).sort()).toEqual(['data', 'event', 'job_id', 'timestamp']);
    expect(complete).toMatchObject({ event: 'complete', job_id: id, data: { status: 'completed', output_path: '/storage/out/signed.mp4' } });
    expect(new Date(complete.timestamp).toISOString()).toBe(complete.timestamp);
    expect(deliveries[1]?.payload).toEqual(complete);
  });

  it('sends only the events a job asked for, in order', async () => {
    const id = await submit('filtered', { webhook_url: `${receiverUrl}/filtered`, webhook_events: ['queued', 'completed'] });
    expect(await finished(id)).toBe('completed');
    const deliveries = await settled(id, 2);
    expect(deliveries.map((d) => d.event)).toEqual(['queued', 'complete']);
    expect(at('/filtered').map((r) => payloadOf(r).event)).toEqual(['queued', 'complete']);
    expect(payloadOf(at('/filtered')[0] as Received).data).toMatchObject({ status: 'queued' });
  });

  it('retries a receiver answering 500 after a backoff, holding the job\'s later deliveries until then', async () => {
    plans.set('/flaky', [500, 204]);
    const id = await submit('flaky', { webhook_url: `${receiverUrl}/flaky`, webhook_events: ['queued', 'started', 'complete'] });
    expect(await finished(id)).toBe('completed');
    const deliveries = await settled(id, 3);

    const [queued, started, complete] = deliveries;
    expect(queued).toMatchObject({ event: 'queued', state: 'delivered', attempts: 2, last_status: 204, last_error: null, next_attempt_at: null });
    expect(queued?.attempt_log.map((a) => [a.attempt, a.status, a.error, a.redelivery])).toEqual([[1, 500, 'HTTP 500: planned 500', false], [2, 204, null, false]]);
    const gap = Date.parse(queued?.attempt_log[1]?.started_at ?? '') - Date.parse(queued?.attempt_log[0]?.started_at ?? '');
    expect(gap).toBeGreaterThanOrEqual(300);
    expect(started).toMatchObject({ event: 'started', state: 'delivered', attempts: 1 });
    expect(complete).toMatchObject({ event: 'complete', state: 'delivered', attempts: 1 });

    // Arrival order: the job's deliveries wait for the failing first one.
    const got = at('/flaky');
    expect(got.map((r) => payloadOf(r).event)).toEqual(['queued', 'queued', 'started', 'complete']);
    expect(got[0]?.headers['webhook-id']).toBe(got[1]?.headers['webhook-id']);
  });

  it('redelivers a delivery on request: same webhook-id, fresh signature, recorded as a redelivery', async () => {
    const id = await submit('redeliver', { webhook_url: `${receiverUrl}/redeliver`, webhook_events: ['complete'] });
    expect(await finished(id)).toBe('completed');
    const [d] = await settled(id, 1);
    expect(d?.state).toBe('delivered');

    const res = await call(`/api/v1/jobs/${id}/webhooks/${d?.id}/redeliver`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect((res.body['delivery'] as DeliveryJson).state).toBe('pending');

    const after = await waitFor('the redelivery', async () => {
      const [x] = await log(id);
      return x && x.state === 'delivered' && x.attempts === 2 ? x : undefined;
    });
    expect(after.attempt_log.map((a) => [a.attempt, a.status, a.redelivery])).toEqual([[1, 204, false], [2, 204, true]]);
    const got = at('/redeliver');
    expect(got).toHaveLength(2);
    expect(got[1]?.headers['webhook-id']).toBe(d?.id);
    expect(got[1]?.body).toBe(got[0]?.body);
    const second = got[1] as Received;
    expect(verify(secret, String(second.headers['webhook-id']), String(second.headers['webhook-timestamp']), second.body, String(second.headers['webhook-signature']))).toBe(true);

    expect((await call(`/api/v1/jobs/${id}/webhooks/msg_${randomUUID()}/redeliver`, { method: 'POST' })).status).toBe(404);
    expect((await call(`/api/v1/jobs/${id}/webhooks/not-a-delivery/redeliver`, { method: 'POST' })).status).toBe(400);
  });

  it("hides a job's deliveries from other keys and lets admins see them", async () => {
    const id = await submit('owned', { webhook_url: `${receiverUrl}/owned`, webhook_events: ['queued'] });
    const [d] = await settled(id, 1);

    const other = await call(`/api/v1/jobs/${id}/webhooks`, { key: keys.b });
    expect(other.status).toBe(404);
    expect(other.body['error']).toMatchObject({ code: 'JOB_NOT_FOUND' });
    expect((await call(`/api/v1/jobs/${id}/webhooks/${d?.id}/redeliver`, { key: keys.b, method: 'POST' })).status).toBe(404);
    expect(at('/owned')).toHaveLength(1);

    // A delivery id must belong to the job in the path, even for its owner.
    const mine = await submit('owned-2', { webhook_url: `${receiverUrl}/owned-2`, webhook_events: ['queued'] });
    expect((await call(`/api/v1/jobs/${mine}/webhooks/${d?.id}/redeliver`, { method: 'POST' })).status).toBe(404);

    const admin = await call(`/api/v1/jobs/${id}/webhooks`, { key: keys.admin });
    expect(admin.status).toBe(200);
    expect((admin.body['deliveries'] as DeliveryJson[]).map((x) => x.id)).toEqual([d?.id]);
    await finished(id);
    await finished(mine);
  });

  it('shows the signing secret to admins only', async () => {
    const client = await call('/api/v1/admin/webhook-secret', { key: keys.a });
    expect(client.status).toBe(403);
    const admin = await call('/api/v1/admin/webhook-secret', { key: keys.admin });
    expect(admin.body).toEqual({ secret, format: 'whsec', source: 'generated' });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });

  it('fails a target the SSRF guard refuses at once, without retrying or connecting', async () => {
    // 0.0.0.0 is refused even with private targets allowed. (Were the guard broken, the attempt
    // would land on this machine's own receiver, never elsewhere.)
    const id = submitDirectly({ webhook_url: `http://0.0.0.0:${receiverPort}/unspecified`, webhook_events: ['queued'] });
    const [d] = await settled(id, 1);
    expect(d).toMatchObject({ event: 'queued', state: 'failed', attempts: 1, last_status: null, next_attempt_at: null });
    expect(d?.last_error).toMatch(/^refused: 0\.0\.0\.0 is an unspecified/);
    expect(at('/unspecified')).toEqual([]);
    await finished(id);
  });

  it('throttles progress webhooks to one per interval and sends nothing for log events', async () => {
    const id = submitDirectly({ webhook_url: `${receiverUrl}/progress`, webhook_events: ['progress', 'complete'] }, { notBefore: '2999-01-01T00:00:00.000Z' });
    const publish = (type: string, data: unknown) => gw.deps.bus.publish(gw.deps.store.appendEvent(id, type, data));
    for (let i = 1; i <= 20; i++) {
      publish('progress', { percentage: i * 5, stage: 'encoding', fps: 25 });
      publish('log', { line: `frame=${i}` });
    }
    publish('retry', { status: 'queued' });
    publish('complete', { status: 'completed' });
    const deliveries = await settled(id, 2);
    expect(deliveries.map((d) => [d.event, d.state])).toEqual([['progress', 'delivered'], ['complete', 'delivered']]);
    expect(deliveries[0]?.payload).toMatchObject({ event: 'progress', job_id: id, data: { percentage: 5, stage: 'encoding', fps: 25 } });
    expect(at('/progress').map((r) => payloadOf(r).event)).toEqual(['progress', 'complete']);
  });
});

describe('the delivery table', () => {
  let dir: string;
  let store: Store;
  let table: DeliveryStore;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubeff-deliveries-'));
    store = new Store(dir);
    table = new DeliveryStore(store);
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const row = (id: string, jobId: string, event: string, createdAt = '2025-01-01T00:00:00.000Z') => table.insert({ id, jobId, event, url: 'http://127.0.0.1:9/', payload: '{}', createdAt });

  it("offers only the first pending delivery of each job, in the job's order", () => {
    row('msg_a1', 'job-a', 'queued');
    row('msg_a2', 'job-a', 'started');
    row('msg_b1', 'job-b', 'queued');
    expect(table.due('2025-01-01T00:00:01.000Z', 10).map((d) => d.id)).toEqual(['msg_a1', 'msg_b1']);
    const a1 = table.get('msg_a1');
    if (!a1) throw new Error('missing row');
    table.recordAttempt(a1, { startedAt: '2025-01-01T00:00:01.000Z', durationMs: 5, status: 204, error: undefined }, { state: 'delivered', nextAttemptAt: undefined, deliveredAt: '2025-01-01T00:00:01.005Z' });
    expect(table.due('2025-01-01T00:00:01.000Z', 10).map((d) => d.id)).toEqual(['msg_a2', 'msg_b1']);
    expect(table.due('2025-01-01T00:00:01.000Z', 1).map((d) => d.id)).toHaveLength(1);
    // Not before its time.
    expect(table.due('2024-12-31T23:59:59.000Z', 10)).toEqual([]);
  });

  it('supersedes progress deliveries waiting for a retry, but not one being sent or not yet tried', () => {
    for (const id of ['msg_p1', 'msg_p2', 'msg_p3', 'msg_p4']) row(id, 'job-p', 'progress');
    for (const id of ['msg_p1', 'msg_p2', 'msg_p3']) {
      const d = table.get(id);
      if (!d) throw new Error('missing row');
      table.recordAttempt(d, { startedAt: '2025-01-01T00:00:01.000Z', durationMs: 5, status: 503, error: 'HTTP 503' }, { state: 'pending', nextAttemptAt: '2025-01-01T00:00:02.000Z', deliveredAt: undefined });
    }
    expect(table.supersedeProgress('job-p', new Set(['msg_p1']))).toBe(2);
    expect(['msg_p1', 'msg_p2', 'msg_p3', 'msg_p4'].map((id) => table.get(id)?.state)).toEqual(['pending', 'failed', 'failed', 'pending']);
    expect(table.get('msg_p2')?.lastError).toMatch(/superseded/);
  });

  it('restarts the retry budget on redelivery and marks the attempt', () => {
    row('msg_r1', 'job-r', 'complete');
    let d = table.get('msg_r1');
    if (!d) throw new Error('missing row');
    table.recordAttempt(d, { startedAt: '2025-01-01T00:00:01.000Z', durationMs: 5, status: 500, error: 'HTTP 500' }, { state: 'failed', nextAttemptAt: undefined, deliveredAt: undefined });
    expect(table.roundStart('msg_r1')).toBe(0);
    d = table.redeliver('msg_r1', 'key-1', '2025-01-01T00:01:00.000Z');
    expect(d).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: '2025-01-01T00:01:00.000Z' });
    expect(table.roundStart('msg_r1')).toBe(1);
    if (!d) throw new Error('missing row');
    table.recordAttempt(d, { startedAt: '2025-01-01T00:01:00.000Z', durationMs: 5, status: 200, error: undefined }, { state: 'delivered', nextAttemptAt: undefined, deliveredAt: '2025-01-01T00:01:00.005Z' });
    expect(table.attempts('msg_r1').map((a) => [a.attempt, a.status, a.redelivery])).toEqual([[1, 500, false], [2, 200, true]]);
  });

  it('keeps the generated secret once created', () => {
    const first = table.setting('signing_secret', () => 'whsec_first');
    expect(table.setting('signing_secret', () => 'whsec_second')).toBe(first);
    expect(first).toBe('whsec_first');
  });
});

describe('durability', () => {
  it('delivers after a restart what was still pending before it, with the same secret', async () => {
    plans.set('/later', [503]);
    const id = await submit('later', { webhook_url: `${receiverUrl}/later`, webhook_events: ['complete'] });
    expect(await finished(id)).toBe('completed');
    const before = await waitFor('a failed first attempt', async () => {
      const [d] = await log(id);
      return d && d.attempts >= 1 && d.state === 'pending' ? d : undefined;
    });
    expect(before.last_status).toBe(503);

    await gw.close();
    plans.set('/later', [204]);
    await startGateway();

    const after = await waitFor('the delivery after the restart', async () => {
      const [d] = await log(id);
      return d && d.state === 'delivered' ? d : undefined;
    });
    expect(after.id).toBe(before.id);
    expect(after.last_status).toBe(204);
    // Every attempt before the restart was refused (503); the first one after it went through.
    expect(after.attempt_log.map((a) => a.status)).toEqual([...new Array<number>(after.attempts - 1).fill(503), 204]);
    expect(after.attempts).toBeGreaterThanOrEqual(2);
    const last = at('/later').at(-1) as Received;
    expect(last.headers['webhook-id']).toBe(before.id);
    expect(verify(secret, before.id, String(last.headers['webhook-timestamp']), last.body, String(last.headers['webhook-signature']))).toBe(true);
    expect((await call('/api/v1/admin/webhook-secret', { key: keys.admin })).body['secret']).toBe(secret);
  });
});
