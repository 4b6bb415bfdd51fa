// The gateway in cluster mode on a real control plane: the same HTTP API, now writing MediaJobs
// that the operator runs as Jobs on the process node, with SSE and webhooks fed from NATS
// JetStream. Two gateway replicas serve one namespace (with the kubeff-gateway ServiceAccount's
// least-privilege token); a webhook is delivered once, an SSE stream resumes on the other replica,
// an API key created on one works on the other and is stored only as a hash in a Secret.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Cluster } from '../../gateway/src/cluster.ts';
import { ffprobe, makeSource, type StorageRoot } from '../support/media.ts';
import type { ControlPlane } from './control-plane.ts';
import type { ProcessNode } from './process-node.ts';
import { startStack, workerBundle, type Stack } from './stack.ts';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, terminalEvent, type SseEvent } from '../support/sse.ts';
import { verify } from '../../gateway/src/webhooks/signing.ts';
import { eventually } from '../support/eventually.ts';
import { startNats } from '../support/nats.ts';
import { otlpReceiver } from '../support/otlp.ts';
import { startTracing } from '../../gateway/src/tracing.ts';
import { jetstream } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import { StreamName } from '../../operator/src/nats/subjects.ts';

const repo = join(import.meta.dirname, '..', '..');
const ns = 'kubeff';
const adminKey = 'kff_admin0000000_clusteradminsecretclusteradminsecret';
const clientKey = 'kff_client000000_clusterclientsecretclusterclientsecret';
const otherKey = 'kff_other0000000_clusterothersecretclusterothersecret';
const webhookSecret = 'whsec_' + Buffer.from('kubeff cluster webhook test secret').toString('base64');


const terminal = terminalEvent;

function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('curl', ['-sS', '--noproxy', '*', '--max-time', '30', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, stdout: out }));
  });
}

describe('the gateway in cluster mode', () => {
  let stack: Stack;
  let cp: ControlPlane;
  let node: ProcessNode;
  let storage: StorageRoot;
  let a: Cluster;
  let b: Cluster;
  let urlA: string;
  let urlB: string;
  let hooks: Server;
  let hookUrl: string;
  const received: { id: string; body: string; signature: string; timestamp: string }[] = [];
  let flakyFailed = false;
  let otlp: Awaited<ReturnType<typeof otlpReceiver>>;

  const call = async (base: string, method: string, path: string, body?: unknown, key = clientKey, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method, headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, any> }; // any: response bodies are checked field by field
  };
  const finished = (base: string, id: string, key = clientKey) => eventually(`job ${id} finished`, async () => {
    const r = await call(base, 'GET', `/api/v1/jobs/${id}`, undefined, key);
    return ['completed', 'failed', 'cancelled'].includes(r.body?.['status']) ? r.body : undefined;
  }, 120_000);
  const podsOf = async (name: string) =>
    (JSON.parse((await cp.kubectl(['get', 'pods', '-n', ns, '-l', `kubeff.io/mediajob=${name}`, '-o', 'json'])).stdout) as { items: { spec: { nodeName?: string } }[] }).items;

  const replicaEnv = { KUBEFF_API_KEYS: `${clientKey},${otherKey}`, KUBEFF_ADMIN_KEYS: adminKey, KUBEFF_WEBHOOK_ALLOW_PRIVATE: 'true', KUBEFF_RATE_LIMIT_PER_SECOND: '1000' };
  const replicaOptions = { webhooks: { env: { KUBEFF_WEBHOOK_SECRET: webhookSecret }, retryDelaysMs: [200, 200], tickMs: 50 }, finalEventGraceMs: 1500 };

  beforeAll(async () => {
    stack = await startStack({
      namespace: ns,
      worker: (c) => {
        // The first attempt of a job named flaky-*: a transient failure (exit 75) before FFmpeg runs.
        const id = c.env?.find((e) => e.name === 'KUBEFF_JOB_ID')?.value ?? '';
        if (id.startsWith('flaky-') && !flakyFailed) {
          flakyFailed = true;
          return { command: '/bin/sh', args: ['-c', 'echo "storage not reachable yet" >&2; exit 75', 'sh'] };
        }
        return { command: process.execPath, args: [workerBundle] };
      },
    });
    ({ cp, node, storage } = stack);
    makeSource(storage.host('/storage/in.mp4'), { seconds: 2, width: 320, height: 240 });
    makeSource(storage.host('/storage/long.mp4'), { seconds: 20, width: 640, height: 480 });
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ id: String(req.headers['webhook-id']), body, signature: String(req.headers['webhook-signature']), timestamp: String(req.headers['webhook-timestamp']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const addr = hooks.address();
    hookUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hook`;
    // Tracing on for this process (gateway and in-process operator share the provider).
    otlp = await otlpReceiver();
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = otlp.url;
    process.env['OTEL_BSP_SCHEDULE_DELAY'] = '100';
    ({ gw: a, url: urlA } = await stack.startReplica('a', replicaEnv, replicaOptions));
    ({ gw: b, url: urlB } = await stack.startReplica('b', replicaEnv, replicaOptions));
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
    await new Promise((r) => (hooks ? hooks.close(r) : r(undefined)));
    await otlp?.close();
    delete process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
    delete process.env['OTEL_BSP_SCHEDULE_DELAY'];
  });

  it('reports cluster mode in the health details (admin)', async () => {
    const r = await call(urlA, 'GET', '/api/v1/health', undefined, adminKey);
    expect(r.body['details']).toMatchObject({ mode: 'cluster' });
  });

  it('serves the dashboard in cluster mode too: its page under the CSP, its script bundled, hls.js', async () => {
    const page = await fetch(`${urlA}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const script = await fetch(`${urlB}/ui/app.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length, 'the bundled dashboard').toBeGreaterThan(10_000);
    expect((await fetch(`${urlA}/ui/vendor/hls.mjs`)).status).toBe(200);
  });

  it('runs POST /convert (curl) → MediaJob → Job → pod on the CPU node → real output; SSE shows progress and completion; a signed webhook arrives once', async () => {
    const submitted = await curl(['-X', 'POST', `${urlA}/api/v1/convert`, '-H', `X-API-Key: ${clientKey}`, '-H', 'content-type: application/json', '-w', '\n%{http_code}',
      '-d', JSON.stringify({ input: '/storage/in.mp4', output: { path: '/storage/out/curl.mp4', video: { codec: 'h264', preset: 'ultrafast' } }, webhook_url: hookUrl })]);
    const [body, code] = submitted.stdout.trimEnd().split('\n') as [string, string];
    expect(code, body).toBe('201');
    const id = (JSON.parse(body) as { job: { id: string } }).job.id;

    // The MediaJob exists in the Kubernetes API, owned by the submitting key.
    const mj = JSON.parse((await cp.kubectl(['get', 'mj', id, '-n', ns, '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string> }; spec: { output: { path: string } } };
    expect(mj.spec.output.path).toBe('/storage/out/curl.mp4');
    expect(mj.metadata.labels['kubeff.io/owner']).toMatch(/^env-[0-9a-f]{12}$/);

    const res = await fetch(`${urlB}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': clientKey } });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = await readEvents(res, terminal);
    const names = events.map((e) => e.event);
    expect(names, names.join(',')).toContain('progress');
    expect(names.at(-1)).toBe('complete');
    const ids = events.map((e) => Number(e.id));
    expect(ids, 'SSE ids strictly increase').toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);

    const done = await finished(urlA, id);
    expect(done['status'], JSON.stringify(done)).toBe('completed');
    expect(ffprobe(storage.host('/storage/out/curl.mp4')).streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');
    expect((await podsOf(id)).map((p) => p.spec.nodeName)).toEqual(['cpu-node']);

    // Default webhook events: started and complete, each delivered once across both replicas.
    const mine = await eventually('the complete webhook', async () => {
      const r = received.filter((h) => (JSON.parse(h.body) as { job_id: string }).job_id === id);
      return r.some((h) => (JSON.parse(h.body) as { event: string }).event === 'complete') ? r : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive within this
    const again = received.filter((h) => (JSON.parse(h.body) as { job_id: string }).job_id === id);
    expect(again.map((h) => (JSON.parse(h.body) as { event: string }).event).sort()).toEqual(['complete', 'started']);
    expect(mine.length).toBeLessThanOrEqual(2);
    for (const h of again) expect(verify(webhookSecret, h.id, h.timestamp, h.body, h.signature), 'signature verifies').toBe(true);
  });

  it('joins one trace: the request span → the operator creating the Job → the attempt; the pod and its NATS messages carry it', async () => {
    const r = await call(urlA, 'POST', '/api/v1/convert', { input: '/storage/in.mp4', output: { path: '/storage/out/traced.mp4', video: { preset: 'ultrafast' } } });
    expect(r.status).toBe(201);
    const id = r.body['job']['id'] as string;
    await finished(urlA, id);
    const mj = JSON.parse((await cp.kubectl(['get', 'mj', id, '-n', ns, '-o', 'json'])).stdout) as { metadata: { annotations: Record<string, string> } };
    const [, traceId, requestSpanId] = (mj.metadata.annotations['kubeff.io/traceparent'] ?? '').split('-');
    expect(traceId, 'the MediaJob carries the request trace').toMatch(/^[0-9a-f]{32}$/);
    const spans = await eventually('the spans are exported', async () => {
      await (await startTracing())?.forceFlush();
      const all = otlp.spans().filter((sp) => sp.traceId === traceId);
      return all.some((sp) => sp.name === 'job convert') ? all : undefined;
    }, 20_000);
    const server = spans.find((sp) => sp.spanId === requestSpanId);
    expect(server, spans.map((sp) => sp.name).join(', ')).toBeDefined();
    const create = spans.find((sp) => sp.name === 'operator create Job');
    expect(create?.parentSpanId, 'the operator span is a child of the request span').toBe(requestSpanId);
    const attempt = spans.find((sp) => sp.name === 'job convert');
    expect(attempt?.parentSpanId, 'the attempt is a child of the Job creation').toBe(create?.spanId);
    const job = JSON.parse((await cp.kubectl(['get', 'job', id, '-n', ns, '-o', 'json'])).stdout) as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
    const podTrace = job.spec.template.spec.containers[0]?.env.find((e) => e.name === 'TRACEPARENT')?.value;
    expect(podTrace?.split('-').slice(1, 3)).toEqual([traceId, create?.spanId]);
    // The worker's progress messages on NATS carry the pod's traceparent as a header.
    const nc = await natsConnect({ servers: stack.nats.url });
    try {
      const consumer = await jetstream(nc).consumers.get(StreamName, { filter_subjects: `kubeff.jobs.${ns}.${id}.progress` });
      const m = await consumer.next({ expires: 5000 });
      expect(m?.headers?.get('traceparent')).toBe(podTrace);
    } finally {
      await nc.close();
    }
  });

  it('resumes an SSE stream on the other replica with Last-Event-ID: no event lost or repeated', async () => {
    const r = await call(urlA, 'POST', '/api/v1/convert', { input: '/storage/in.mp4', output: { path: '/storage/out/resume.mp4', video: { preset: 'ultrafast' } } });
    expect(r.status).toBe(201);
    const id = r.body['job']['id'] as string;
    await finished(urlA, id);
    const all = await readEvents(await fetch(`${urlA}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': clientKey } }), terminal);
    expect(all.length, all.map((e) => e.event).join(',')).toBeGreaterThanOrEqual(3);
    const cut = all[1] as SseEvent;
    const rest = await readEvents(await fetch(`${urlB}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': clientKey, 'last-event-id': cut.id } }), terminal);
    expect(rest.map((e) => e.id)).toEqual(all.slice(2).map((e) => e.id));
    expect(rest.map((e) => e.event)).toEqual(all.slice(2).map((e) => e.event));
  });

  it('keeps an Idempotency-Key across replicas: a retry on the other replica returns the same job, a different body is refused', async () => {
    const body = { input: '/storage/in.mp4', output: { path: '/storage/out/idem.mp4', video: { preset: 'ultrafast' } } };
    const first = await call(urlA, 'POST', '/api/v1/convert', body, clientKey, { 'idempotency-key': 'order-4711' });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const retry = await call(urlB, 'POST', '/api/v1/convert', body, clientKey, { 'idempotency-key': 'order-4711' });
    expect(retry.status, JSON.stringify(retry.body)).toBe(201);
    expect(retry.body['job']['id'], 'the same job, not a second one').toBe(first.body['job']['id']);
    const other = await call(urlB, 'POST', '/api/v1/convert', { ...body, output: { path: '/storage/out/idem-2.mp4' } }, clientKey, { 'idempotency-key': 'order-4711' });
    expect(other.status).toBe(422);
    expect(other.body['error']['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    // Another key may use the same Idempotency-Key for its own job.
    const theirs = await call(urlB, 'POST', '/api/v1/convert', body, otherKey, { 'idempotency-key': 'order-4711' });
    expect(theirs.status).toBe(201);
    expect(theirs.body['job']['id']).not.toBe(first.body['job']['id']);
    const all = JSON.parse((await cp.kubectl(['get', 'mj', '-n', ns, '-o', 'json'])).stdout) as { items: { spec: { output?: { path: string } } }[] };
    expect(all.items.filter((m) => m.spec.output?.path === '/storage/out/idem.mp4'), 'one MediaJob per key, none for the retry').toHaveLength(2);
    await finished(urlA, first.body['job']['id'] as string);
  });

  it('keeps one key from seeing another key\'s jobs, on either replica', async () => {
    const r = await call(urlA, 'POST', '/api/v1/convert', { input: '/storage/in.mp4', output: { path: '/storage/out/private.mp4', video: { preset: 'ultrafast' } } });
    const id = r.body['job']['id'] as string;
    await eventually('replica b knows the job', async () => ((await call(urlB, 'GET', `/api/v1/jobs/${id}`)).status === 200 ? true : undefined), 10_000);
    expect((await call(urlB, 'GET', `/api/v1/jobs/${id}`, undefined, otherKey)).status).toBe(404);
    expect((await call(urlA, 'DELETE', `/api/v1/jobs/${id}`, undefined, otherKey)).status).toBe(404);
    const list = await call(urlB, 'GET', '/api/v1/jobs?per_page=100', undefined, otherKey);
    expect((list.body['jobs'] as { id: string }[]).map((j) => j.id)).not.toContain(id);
    await finished(urlA, id);
  });

  it('stores a created API key only as a hash in a Secret, and the key works on the other replica; revoked, it stops there too', async () => {
    const created = await call(urlA, 'POST', '/api/v1/admin/keys', { name: 'ci robot', scope: 'client' }, adminKey);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const key = created.body['key'] as string;
    const keyId = created.body['api_key']['id'] as string;
    const secret = JSON.parse((await cp.kubectl(['get', 'secret', `kubeff-api-key-${keyId}`, '-n', ns, '-o', 'json'])).stdout) as { data: Record<string, string> };
    const stored = Object.values(secret.data).map((v) => Buffer.from(v, 'base64').toString('utf8'));
    expect(stored.some((v) => v.includes(key.split('_')[2] as string)), 'the secret part of the key is not stored').toBe(false);
    expect(Buffer.from(secret.data['hash'] ?? '', 'base64').toString()).toMatch(/^[0-9a-f]{64}$/);
    await eventually('replica b accepts the new key', async () => ((await call(urlB, 'GET', '/api/v1/jobs', undefined, key)).status === 200 ? true : undefined), 10_000);
    expect((await call(urlB, 'DELETE', `/api/v1/admin/keys/${keyId}`, undefined, adminKey)).status).toBe(200);
    await eventually('replica a refuses the revoked key', async () => ((await call(urlA, 'GET', '/api/v1/jobs', undefined, key)).status === 401 ? true : undefined), 10_000);
  });

  it('cancels a running job: the worker process stops, the Job and pod go, the phase is cancelled and final', async () => {
    const r = await call(urlA, 'POST', '/api/v1/convert', { input: '/storage/long.mp4', output: { path: '/storage/out/cancel.mp4', video: { codec: 'h265', preset: 'slow' } } });
    const id = r.body['job']['id'] as string;
    await eventually('the worker runs', async () => (node.processes().some((p) => p.pod.startsWith(id) && p.running) ? true : undefined), 60_000);
    const del = await call(urlB, 'DELETE', `/api/v1/jobs/${id}`);
    expect(del.status).toBe(200);
    expect(del.body['job']['status']).toBe('cancelled');
    await eventually('the worker process is gone', async () => (node.processes().some((p) => p.pod.startsWith(id) && p.running) ? undefined : true), 30_000);
    await eventually('the Job is deleted', async () => ((await cp.kubectl(['get', 'job', id, '-n', ns])).code !== 0 ? true : undefined), 30_000);
    await eventually('the pod is deleted', async () => ((await podsOf(id)).length === 0 ? true : undefined), 30_000);
    const done = await finished(urlA, id);
    expect(done['status']).toBe('cancelled');
    expect((await call(urlA, 'DELETE', `/api/v1/jobs/${id}`)).status, 'a finished job cannot be cancelled again').toBe(409);
  });

  it('retries a transient failure (exit 75) and records the attempts in status', async () => {
    const apply = await cp.kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify({ apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', metadata: { name: 'flaky-1' }, spec: { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: '/storage/out/flaky.mp4', format: 'mp4', video: { preset: 'ultrafast' } }, operations: [], options: { priority: 'normal', hardwareAcceleration: 'auto' } } }) });
    expect(apply.code, apply.stderr).toBe(0);
    const done = await finished(urlA, 'flaky-1', adminKey);
    expect(done['status'], JSON.stringify(done)).toBe('completed');
    expect(flakyFailed).toBe(true);
    const mj = JSON.parse((await cp.kubectl(['get', 'mj', 'flaky-1', '-n', ns, '-o', 'json'])).stdout) as { status: { attempts: number; conditions: { type: string; status: string }[] } };
    expect(mj.status.attempts, 'the second pod succeeded').toBe(2);
    expect((await podsOf('flaky-1')).length).toBe(2);
    const events = await readEvents(await fetch(`${urlB}/api/v1/jobs/flaky-1/events`, { headers: { 'x-api-key': adminKey } }), terminal);
    const statuses = events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data) as { status: string; attempt?: number });
    expect(statuses.some((s) => s.attempt === 2), JSON.stringify(statuses)).toBe(true);
  });

  it('ends a job with the right final status when NATS stops during it; SSE still ends; the outbox publishes once NATS is back', async () => {
    const r = await call(urlA, 'POST', '/api/v1/convert', { input: '/storage/long.mp4', output: { path: '/storage/out/nonats.mp4', video: { preset: 'veryfast' } } });
    const id = r.body['job']['id'] as string;
    await eventually('the job is processing', async () => ((await call(urlA, 'GET', `/api/v1/jobs/${id}`)).body['status'] === 'processing' ? true : undefined), 60_000);
    const { port, storeDir } = stack.nats;
    await stack.nats.stop();
    const done = await finished(urlB, id);
    expect(done['status'], JSON.stringify(done)).toBe('completed');
    expect(ffprobe(storage.host('/storage/out/nonats.mp4')).duration).toBeGreaterThan(19);
    // With NATS down the stream's final event was made from the MediaJob status.
    const events = await readEvents(await fetch(`${urlA}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': clientKey } }), terminal, 30_000);
    expect(events.at(-1)?.event).toBe('complete');
    stack.nats = await startNats({ port, storeDir });
    // The operator's outbox publishes the lifecycle events it could not send; the mirror stores them.
    await eventually('the published complete event arrives', async () => {
      const all = a.deps.store.events(id, 0).filter((e) => e.type === 'complete');
      return all.some((e) => e.seq < Number.MAX_SAFE_INTEGER) ? true : undefined;
    }, 60_000);
  });

  it('reads its job list from the informer cache: a MediaJob deleted with kubectl disappears from the API', async () => {
    const r = await call(urlA, 'POST', '/api/v1/convert', { input: '/storage/in.mp4', output: { path: '/storage/out/gone.mp4', video: { preset: 'ultrafast' } } });
    const id = r.body['job']['id'] as string;
    await finished(urlA, id);
    expect((await cp.kubectl(['delete', 'mj', id, '-n', ns])).code).toBe(0);
    await eventually('both replicas forget it', async () => ((await call(urlA, 'GET', `/api/v1/jobs/${id}`)).status === 404 && (await call(urlB, 'GET', `/api/v1/jobs/${id}`)).status === 404 ? true : undefined), 20_000);
    expect(readFileSync(storage.host('/storage/out/gone.mp4')).length, 'the output file stays').toBeGreaterThan(0);
  });
});
