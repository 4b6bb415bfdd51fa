// How the gateway behaves over a real port: live progress and resume, cancellation, key
// isolation, rate limits, idempotency, admin keys, listing, and a suite of bad input.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSource } from '../support/media.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
  makeSource(gw.storage.host('/storage/in/short.mp4'), { seconds: 2 });
  makeSource(gw.storage.host('/storage/in/long.mp4'), { seconds: 20, width: 640, height: 480 });
});
afterAll(async () => gw.stop());

async function create(body: unknown, key = gw.keys.client, path = '/api/v1/convert'): Promise<string> {
  const res = await gw.api(path, { method: 'POST', json: body, key });
  const json = (await res.json()) as { job: { id: string } };
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json.job.id;
}

interface SseEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** Reads SSE events from a response until `until` says stop or the stream ends (bounded). */
async function readSse(res: Response, until: (e: SseEvent) => boolean, timeoutMs = 60_000): Promise<{ events: SseEvent[]; comments: number }> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let comments = 0;
  let buf = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (block.startsWith(':')) {
          comments++;
          continue;
        }
        const f = Object.fromEntries(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
        if (f['id'] === undefined) continue;
        const e = { id: Number(f['id']), event: String(f['event']), data: JSON.parse(String(f['data'])) as Record<string, unknown> };
        events.push(e);
        if (until(e)) return { events, comments };
      }
    }
    return { events, comments };
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe('server-sent events', () => {
  it('delivers progress and then complete, each with an id, and closes', async () => {
    const id = await create({ input: '/storage/in/short.mp4', output: { path: '/storage/sse/a.mp4', video: { preset: 'ultrafast' } } });
    const res = await gw.api(`/api/v1/jobs/${id}/events`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const { events } = await readSse(res, () => false);
    const names = events.map((e) => e.event);
    expect(names).toContain('progress');
    expect(names.at(-1)).toBe('complete');
    expect(names.indexOf('progress')).toBeLessThan(names.indexOf('complete'));
    const ids = events.map((e) => e.id);
    expect(ids, 'ids strictly increase').toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    const done = events.at(-1)?.data as { status: string; output_path: string };
    expect(done).toMatchObject({ status: 'completed', output_path: '/storage/sse/a.mp4' });
    const progress = events.filter((e) => e.event === 'progress').at(-1)?.data;
    expect(progress).toHaveProperty('percentage');
    expect(progress).toHaveProperty('stage');
  });

  it('resumes after a dropped connection from Last-Event-ID without losing or repeating events', async () => {
    const id = await create({ input: '/storage/in/long.mp4', output: { path: '/storage/sse/b.mp4', video: { preset: 'veryfast' } }, operations: [{ type: 'trim', start: 0, duration: 6 }] });
    const first = await readSse(await gw.api(`/api/v1/jobs/${id}/events`), (e) => e.event === 'progress');
    const lastId = first.events.at(-1)?.id ?? 0;
    expect(lastId).toBeGreaterThan(0);
    // The client is gone for a moment; events keep happening.
    await new Promise((r) => setTimeout(r, 700));
    const second = await readSse(await gw.api(`/api/v1/jobs/${id}/events`, { headers: { 'last-event-id': String(lastId) } }), () => false);
    const all = [...first.events, ...second.events];
    expect(second.events[0]?.id).toBeGreaterThan(lastId);
    expect(all.at(-1)?.event).toBe('complete');
    // Everything stored (but log lines) arrived exactly once across both connections.
    const full = await readSse(await gw.api(`/api/v1/jobs/${id}/events`), () => false);
    expect(all.map((e) => e.id)).toEqual(full.events.map((e) => e.id));
  });

  it('sends keep-alive comments on an idle stream', async () => {
    // A job that waits in the queue behind a full runner is idle for a while.
    const gw2 = await startGateway({ KUBEFF_WORKERS: '1', KUBEFF_SSE_KEEPALIVE_MS: '200' });
    try {
      makeSource(gw2.storage.host('/storage/l.mp4'), { seconds: 20, width: 640, height: 480 });
      const busy = await gw2.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/l.mp4', output: { path: '/storage/o1.mp4', video: { codec: 'h265', preset: 'slow' } } } });
      const waiting = await gw2.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/l.mp4', output: 'mkv' } });
      const wid = ((await waiting.json()) as { job: { id: string } }).job.id;
      const res = await gw2.api(`/api/v1/jobs/${wid}/events`);
      const t0 = Date.now();
      const reader = res.body?.getReader();
      let text = '';
      while (Date.now() - t0 < 1500 && reader) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        if ((text.match(/: keep-alive/g) ?? []).length >= 2) break;
      }
      await reader?.cancel();
      expect((text.match(/: keep-alive/g) ?? []).length).toBeGreaterThanOrEqual(2);
      expect(busy.status).toBe(201);
    } finally {
      await gw2.stop();
    }
  });

  it("replays a finished job's end and closes", async () => {
    const id = await create({ input: '/storage/in/short.mp4', output: { path: '/storage/sse/c.mp4', video: { preset: 'ultrafast' } } });
    await waitForJob(gw, id);
    const { events } = await readSse(await gw.api(`/api/v1/jobs/${id}/events`, { headers: { 'last-event-id': '100000' } }), () => false, 5000);
    expect(events.map((e) => e.event)).toEqual(['complete']);
  });
});

describe('cancellation', () => {
  it('stops a running job within a second and keeps it cancelled', async () => {
    const id = await create({ input: '/storage/in/long.mp4', output: { path: '/storage/cancel/x.mp4', video: { codec: 'h265', preset: 'slow' } } });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const j = (await (await gw.api(`/api/v1/jobs/${id}`)).json()) as { status: string; progress: number };
      if (j.status === 'processing' && j.progress > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = Date.now();
    const res = await gw.api(`/api/v1/jobs/${id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { job: { status: string } }).job.status).toBe('cancelled');
    // FFmpeg really stops: the worker exits and removes its partial output.
    while (gw.s.deps.runtime.runningCount() > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(Date.now() - t0, 'worker gone').toBeLessThan(1000);
    expect(readdirSync(gw.storage.host('/storage/cancel'))).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const after = (await (await gw.api(`/api/v1/jobs/${id}`)).json()) as { status: string };
    expect(after.status, 'terminal state is final').toBe('cancelled');
    const again = await gw.api(`/api/v1/jobs/${id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
  });

  it('cancels a queued job before it starts', async () => {
    const gw2 = await startGateway({ KUBEFF_WORKERS: '1' });
    try {
      makeSource(gw2.storage.host('/storage/l.mp4'), { seconds: 20, width: 640, height: 480 });
      await gw2.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/l.mp4', output: { path: '/storage/o1.mp4', video: { codec: 'h265', preset: 'slow' } } } });
      const r = await gw2.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/l.mp4', output: '/storage/o2.mkv' } });
      const id = ((await r.json()) as { job: { id: string } }).job.id;
      const del = await gw2.api(`/api/v1/jobs/${id}`, { method: 'DELETE' });
      expect(((await del.json()) as { job: { status: string } }).job.status).toBe('cancelled');
    } finally {
      await gw2.stop();
    }
  });
});

describe('keys and ownership', () => {
  it("hides one key's jobs from another key, and shows them to admins", async () => {
    const id = await create({ input: '/storage/in/short.mp4', output: { path: '/storage/own/a.mp4', video: { preset: 'ultrafast' } } });
    for (const path of [`/api/v1/jobs/${id}`, `/api/v1/jobs/${id}/logs`, `/api/v1/jobs/${id}/events`]) {
      const res = await gw.api(path, { key: gw.keys.other });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FOUND');
    }
    expect((await gw.api(`/api/v1/jobs/${id}`, { method: 'DELETE', key: gw.keys.other })).status).toBe(404);
    const list = (await (await gw.api('/api/v1/jobs?per_page=100', { key: gw.keys.other })).json()) as { jobs: { id: string }[] };
    expect(list.jobs.map((j) => j.id)).not.toContain(id);
    expect((await gw.api(`/api/v1/jobs/${id}`, { key: gw.keys.admin })).status).toBe(200);
  });

  it('refuses a missing, unknown or revoked key with 401', async () => {
    expect((await gw.api('/api/v1/jobs', { key: '' })).status).toBe(401);
    expect((await gw.api('/api/v1/jobs', { key: 'not-a-key' })).status).toBe(401);
    const made = (await (await gw.api('/api/v1/admin/keys', { method: 'POST', json: { name: 'temp' }, key: gw.keys.admin })).json()) as { key: string; api_key: { id: string } };
    expect((await gw.api('/api/v1/jobs', { key: made.key })).status).toBe(200);
    await gw.api(`/api/v1/admin/keys/${made.api_key.id}`, { method: 'DELETE', key: gw.keys.admin });
    expect((await gw.api('/api/v1/jobs', { key: made.key })).status).toBe(401);
  });

  it('stores keys hashed: the raw key appears nowhere in the database', async () => {
    const made = (await (await gw.api('/api/v1/admin/keys', { method: 'POST', json: { name: 'hash check' }, key: gw.keys.admin })).json()) as { key: string };
    const db = execFileSync('sh', ['-c', `cat "${gw.dataDir}"/kubeff.db* | strings`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(db.includes(made.key)).toBe(false);
    expect(db.includes(gw.keys.client)).toBe(false);
    const list = await (await gw.api('/api/v1/admin/keys', { key: gw.keys.admin })).text();
    expect(list.includes(made.key)).toBe(false);
  });

  it('rotates a key: the old secret stops working, the new one sees the same jobs', async () => {
    const made = (await (await gw.api('/api/v1/admin/keys', { method: 'POST', json: { name: 'rot' }, key: gw.keys.admin })).json()) as { key: string; api_key: { id: string } };
    const id = await create({ input: '/storage/in/short.mp4', output: { path: '/storage/rot/a.mp4', video: { preset: 'ultrafast' } } }, made.key);
    const rotated = (await (await gw.api(`/api/v1/admin/keys/${made.api_key.id}/rotate`, { method: 'POST', key: gw.keys.admin })).json()) as { key: string };
    expect((await gw.api(`/api/v1/jobs/${id}`, { key: made.key })).status).toBe(401);
    expect((await gw.api(`/api/v1/jobs/${id}`, { key: rotated.key })).status).toBe(200);
  });

  it('refuses to rotate a key that comes from the environment, and a revoked one stays revoked after a restart', async () => {
    const dataDir = gw.dataDir;
    const envKeyId = gw.s.deps.keys.authenticate(gw.keys.other).keyId;
    const rot = await gw.api(`/api/v1/admin/keys/${envKeyId}/rotate`, { method: 'POST', key: gw.keys.admin });
    expect(rot.status).toBe(400);
    const gw2 = await startGateway({}, { dataDir: `${dataDir}-env` });
    try {
      const id = gw2.s.deps.keys.authenticate(gw2.keys.other).keyId;
      expect((await gw2.api(`/api/v1/admin/keys/${id}`, { method: 'DELETE', key: gw2.keys.admin })).status).toBe(200);
      await gw2.s.close();
      const gw3 = await startGateway({}, { dataDir: `${dataDir}-env` });
      try {
        expect((await gw3.api('/api/v1/jobs', { key: gw3.keys.other })).status, 'revoked env key after restart').toBe(401);
        expect((await gw3.api('/api/v1/jobs', { key: gw3.keys.client })).status).toBe(200);
      } finally {
        await gw3.stop();
      }
    } finally {
      gw2.storage.remove();
    }
  });

  it("refuses another key's upload folder as input or output", async () => {
    const otherId = gw.s.deps.keys.authenticate(gw.keys.other).keyId;
    makeSource(gw.storage.host(`/storage/uploads/${otherId}/secret.mp4`), { seconds: 1 });
    const read = await gw.api('/api/v1/convert', { method: 'POST', json: { input: `/storage/uploads/${otherId}/secret.mp4`, output: '/storage/stolen.mkv' } });
    expect(read.status).toBe(403);
    expect(((await read.json()) as { error: { details: { field: string } } }).error.details.field).toBe('input');
    const write = await gw.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/in/short.mp4', output: `/storage/uploads/${otherId}/planted.mkv` } });
    expect(write.status).toBe(403);
    const own = await gw.api('/api/v1/convert', { method: 'POST', json: { input: `/storage/uploads/${otherId}/secret.mp4`, output: `/storage/uploads/${otherId}/mine.mkv` }, key: gw.keys.other });
    expect(own.status).toBe(201);
  });

  it('keeps admin routes from client keys', async () => {
    for (const [method, path] of [['GET', '/api/v1/admin/keys'], ['GET', '/api/v1/admin/stats'], ['POST', '/api/v1/admin/cleanup']] as const) {
      const res = await gw.api(path, { method, key: gw.keys.client, ...(method === 'POST' ? { json: { older_than_hours: 1 } } : {}) });
      expect(res.status, path).toBe(403);
    }
  });

  it('shows health details only to admin keys', async () => {
    const anon = (await (await gw.api('/api/v1/health', { key: '' })).json()) as Record<string, unknown>;
    expect(anon).toEqual({ status: 'ok', version: expect.any(String) });
    const admin = (await (await gw.api('/api/v1/health', { key: gw.keys.admin })).json()) as { details?: unknown };
    expect(admin.details).toBeDefined();
  });
});

describe('rate limits', () => {
  it('answers 429 with Retry-After and rate-limit headers past the per-second limit', async () => {
    const gw2 = await startGateway({ KUBEFF_RATE_LIMIT_PER_SECOND: '3', KUBEFF_RATE_LIMIT_PER_HOUR: '1000' });
    try {
      const statuses: number[] = [];
      let limited: Response | undefined;
      for (let i = 0; i < 6; i++) {
        const r = await gw2.api('/api/v1/jobs');
        statuses.push(r.status);
        if (r.status === 429) limited = r;
        else expect(r.headers.get('x-ratelimit-limit')).toBe('3');
      }
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses).toContain(429);
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited?.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(((await limited?.json()) as { error: { code: string } }).error.code).toBe('QUOTA_EXCEEDED');
      // Another key has its own budget: the limit is per key, not per address.
      expect((await gw2.api('/api/v1/jobs', { key: gw2.keys.other })).status).toBe(200);
      // X-Forwarded-For changes nothing.
      expect((await gw2.api('/api/v1/jobs', { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(429);
    } finally {
      await gw2.stop();
    }
  });

  it('refuses new jobs past the queued-jobs quota with QUOTA_EXCEEDED', async () => {
    const gw2 = await startGateway({ KUBEFF_MAX_QUEUED_JOBS: '1', KUBEFF_WORKERS: '1' });
    try {
      makeSource(gw2.storage.host('/storage/l.mp4'), { seconds: 20, width: 640, height: 480 });
      const a = await gw2.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/l.mp4', output: { path: '/storage/q1.mp4', video: { codec: 'h265', preset: 'slow' } } } });
      expect(a.status).toBe(201);
      const b = await gw2.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/l.mp4', output: '/storage/q2.mkv' } });
      expect(b.status).toBe(429);
      expect(((await b.json()) as { error: { code: string } }).error.code).toBe('QUOTA_EXCEEDED');
    } finally {
      await gw2.stop();
    }
  });
});

describe('idempotency', () => {
  it('replays the first response for the same key and body, and refuses another body with 422', async () => {
    const body = { input: '/storage/in/short.mp4', output: { path: '/storage/idem/a.mp4', video: { preset: 'ultrafast' } } };
    const headers = { 'idempotency-key': 'order-42' };
    const r1 = await gw.api('/api/v1/convert', { method: 'POST', json: body, headers });
    const r2 = await gw.api('/api/v1/convert', { method: 'POST', json: body, headers });
    const j1 = (await r1.json()) as { job: { id: string } };
    const j2 = (await r2.json()) as { job: { id: string } };
    expect(r1.status).toBe(201);
    expect(r2.status).toBe(201);
    expect(j2.job.id).toBe(j1.job.id);
    expect(r2.headers.get('idempotent-replayed')).toBe('true');
    const r3 = await gw.api('/api/v1/convert', { method: 'POST', json: { ...body, output: 'mkv' }, headers });
    expect(r3.status).toBe(422);
    // Keys are per API key: another key may use the same Idempotency-Key for its own request.
    const r4 = await gw.api('/api/v1/convert', { method: 'POST', json: body, headers, key: gw.keys.other });
    expect(((await r4.json()) as { job: { id: string } }).job.id).not.toBe(j1.job.id);
  });

  it('refuses a concurrent duplicate with 409', async () => {
    const store = gw.s.deps.store;
    const owner = gw.s.deps.keys.authenticate(gw.keys.client).keyId;
    // The first request holds the key (claimed, not yet answered).
    store.claimIdempotency(owner, 'in-flight', 'x');
    const res = await gw.api('/api/v1/convert', { method: 'POST', json: { input: '/storage/in/short.mp4', output: 'mkv' }, headers: { 'idempotency-key': 'in-flight' } });
    expect([409, 422]).toContain(res.status);
    expect(res.status).toBe(422); // different body hash than the claim's 'x'
    store.releaseIdempotency(owner, 'in-flight');
  });
});

describe('listing and logs', () => {
  it('filters by status, pages up to 100, sorts, and reports totals', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await create({ input: '/storage/in/short.mp4', output: { path: `/storage/list/${i}.mp4`, video: { preset: 'ultrafast' } } }, gw.keys.other));
    for (const id of ids) await waitForJob(gw, id, { key: gw.keys.other });
    const page = (await (await gw.api('/api/v1/jobs?status=completed&page=1&per_page=2&sort=created_at:asc', { key: gw.keys.other })).json()) as { jobs: { id: string; status: string }[]; total: number; pages: number; per_page: number };
    expect(page.total).toBeGreaterThanOrEqual(3);
    expect(page.jobs).toHaveLength(2);
    expect(page.per_page).toBe(2);
    expect(page.jobs.every((j) => j.status === 'completed')).toBe(true);
    expect((await gw.api('/api/v1/jobs?per_page=101')).status).toBe(400);
    expect((await gw.api('/api/v1/jobs?status=bogus')).status).toBe(400);
    expect((await gw.api('/api/v1/jobs?sort=drop table')).status).toBe(400);
  });

  it("returns the job's last FFmpeg log lines", async () => {
    const id = await create({ input: '/storage/in/short.mp4', output: { path: '/storage/logs/a.mp4', video: { preset: 'ultrafast' } } });
    await waitForJob(gw, id);
    const logs = (await (await gw.api(`/api/v1/jobs/${id}/logs?lines=5`)).json()) as { lines: string[]; count: number };
    expect(logs.count).toBe(5);
    expect(logs.lines.join('\n')).toMatch(/libx264|aac|kb\/s/);
  });
});

describe('bad input', () => {
  const cases: { name: string; path?: string; body: unknown; raw?: string; status: number; code: string; field?: string }[] = [
    { name: 'malformed JSON', body: undefined, raw: '{"input": ', status: 400, code: 'INVALID_REQUEST', field: 'body' },
    { name: 'a JSON array body', body: [1, 2], status: 400, code: 'INVALID_REQUEST' },
    { name: 'a missing input', body: { output: 'mp4' }, status: 400, code: 'INVALID_INPUT', field: 'input' },
    { name: 'a number as input', body: { input: 42, output: 'mp4' }, status: 400, code: 'INVALID_INPUT', field: 'input' },
    { name: 'an input that does not exist', body: { input: '/storage/none.mp4', output: 'mp4' }, status: 400, code: 'INVALID_INPUT', field: 'input' },
    { name: 'an unknown operation', body: { input: '/storage/in/short.mp4', output: 'mp4', operations: [{ type: 'explode' }] }, status: 400, code: 'INVALID_OPERATION', field: 'operations[0].type' },
    { name: 'vp9 in mp4', body: { input: '/storage/in/short.mp4', output: { path: '/storage/x.mp4', video: { codec: 'vp9' } } }, status: 400, code: 'INVALID_CODEC_FORMAT', field: 'output.video.codec' },
    { name: 'a negative crf', body: { input: '/storage/in/short.mp4', output: { path: '/storage/x.mp4', video: { crf: -1 } } }, status: 400, code: 'INVALID_OUTPUT', field: 'output.video.crf' },
    { name: 'a huge width', body: { input: '/storage/in/short.mp4', output: { path: '/storage/x.mp4', video: { width: 1e9 } } }, status: 400, code: 'INVALID_OUTPUT', field: 'output.video.width' },
    { name: 'a path escaping storage', body: { input: '/storage/../../etc/passwd', output: 'mp4' }, status: 400, code: 'INVALID_INPUT', field: 'input' },
    { name: 'a private-network URL input', body: { input: 'http://169.254.169.254/latest/meta-data', output: '/storage/out/x.mp4' }, status: 400, code: 'INVALID_INPUT', field: 'input' },
    { name: 'a private-network webhook URL', body: { input: '/storage/in/short.mp4', output: 'mkv', webhook_url: 'http://10.1.2.3/hook' }, status: 400, code: 'INVALID_REQUEST', field: 'options.webhook_url' },
    { name: 'a cloud-metadata webhook URL', body: { input: '/storage/in/short.mp4', output: 'mkv', options: { webhook_url: 'http://169.254.169.254/latest' } }, status: 400, code: 'INVALID_REQUEST', field: 'options.webhook_url' },
    { name: 'filter injection in brightness', body: { input: '/storage/in/short.mp4', output: 'mkv', operations: [{ type: 'filter', params: { brightness: '0.1,drawtext=textfile=/etc/passwd' } }] }, status: 400, code: 'INVALID_OPERATION', field: 'operations[0].params.brightness' },
    { name: 'argument injection in a codec', body: { input: '/storage/in/short.mp4', output: { path: '/storage/x.mp4', video: { codec: 'h264 -f lavfi -i /etc/passwd' } } }, status: 400, code: 'INVALID_CODEC_FORMAT', field: 'output.video.codec' },
    { name: 'a batch with a bad member', path: '/api/v1/batch', body: { jobs: [{ input: '/storage/in/short.mp4', output: 'mkv' }, { input: '/storage/in/short.mp4', output: 'mp4', operations: [{ type: 'trim', start: -5 }] }] }, status: 400, code: 'INVALID_OPERATION', field: 'jobs[1].operations[0].start' },
    { name: 'a batch of 101 jobs', path: '/api/v1/batch', body: { jobs: Array.from({ length: 101 }, () => ({ input: '/storage/in/short.mp4', output: 'mkv' })) }, status: 400, code: 'INVALID_REQUEST' },
  ];

  it.each(cases)('answers $name with $status $code', async ({ path, body, raw, status, code, field }) => {
    const res = raw !== undefined
      ? await gw.api(path ?? '/api/v1/convert', { method: 'POST', body: raw, headers: { 'content-type': 'application/json' } })
      : await gw.api(path ?? '/api/v1/convert', { method: 'POST', json: body });
    const json = (await res.json()) as { error: { code: string; message: string; details?: { field?: string }; request_id: string } };
    expect(res.status, JSON.stringify(json)).toBe(status);
    expect(json.error.code).toBe(code);
    if (field) expect(json.error.details?.field).toBe(field);
    expect(json.error.request_id).toMatch(/^req_/);
  });

  it('answers an oversized body with 413 and an unknown route with 404', async () => {
    const big = await gw.api('/api/v1/convert', { method: 'POST', body: JSON.stringify({ input: 'x'.repeat(2 * 1024 * 1024) }), headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(413);
    expect((await gw.api('/api/v1/nope')).status).toBe(404);
  });

  it('is still healthy and accepted nothing after all of that', async () => {
    expect((await gw.api('/api/v1/health', { key: '' })).status).toBe(200);
    const id = await create({ input: '/storage/in/short.mp4', output: { path: '/storage/after/ok.mp4', video: { preset: 'ultrafast' } } });
    expect((await waitForJob(gw, id))['status']).toBe('completed');
  });
});
