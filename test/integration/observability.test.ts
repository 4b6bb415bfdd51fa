// Observability of a real standalone gateway: the OpenAPI document and Swagger UI (public), the
// Prometheus metrics (admin keys only, anchor 9), and OpenTelemetry tracing to a local OTLP
// receiver. Jobs run through the real worker and FFmpeg.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../gateway/src/config.ts';
import { otlpReceiver, type OtlpSpan } from '../support/otlp.ts';
import { metricsPlugin } from '../../gateway/src/metrics.ts';
import { apiSecurity, openapiPlugin } from '../../gateway/src/openapi.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import { jobTraceContext, tracingPlugin } from '../../gateway/src/tracing.ts';
import { makeSource, makeStorage, type StorageRoot } from '../support/media.ts';

const clientKey = 'ck';
const adminKey = 'ak';
type Plugin = (app: FastifyInstance, deps: Standalone['deps']) => void | Promise<void>;

interface Gateway {
  s: Standalone;
  app: FastifyInstance;
  storage: StorageRoot;
  /** Every route as registered, seen by an onRoute hook installed before all others. */
  routes: RouteOptions[];
  stop(): Promise<void>;
}

async function startGateway(plugins: Plugin[] = [openapiPlugin, metricsPlugin, tracingPlugin]): Promise<Gateway> {
  const storage = makeStorage('kubeff-obs-');
  const dataDir = mkdtempSync(join(tmpdir(), 'kubeff-obs-data-'));
  const routes: RouteOptions[] = [];
  const recorder: Plugin = (app) => {
    app.addHook('onRoute', (r) => {
      routes.push(r);
    });
  };
  const config = configFromEnv({ PORT: '0', KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_DATA_DIR: dataDir, KUBEFF_API_KEYS: clientKey, KUBEFF_ADMIN_KEYS: adminKey, LOG_LEVEL: 'warn' });
  const s = await startStandalone(config, { plugins: [recorder, ...plugins] });
  await s.app.ready();
  return {
    s,
    app: s.app,
    storage,
    routes,
    async stop() {
      await s.close();
      storage.remove();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One sample of a Prometheus text exposition, matched by name and (a subset of) labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function metricsText(gw: Gateway): Promise<string> {
  const res = await gw.app.inject({ url: '/metrics', headers: { 'x-api-key': adminKey } });
  expect(res.statusCode).toBe(200);
  return res.body;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function finishedJob(gw: Gateway, id: string): Promise<{ status: string }> {
  return waitFor(`job ${id} to finish`, async () => {
    const res = await gw.app.inject({ url: `/api/v1/jobs/${id}`, headers: { 'x-api-key': clientKey } });
    const job = res.json<{ status: string }>();
    return ['completed', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
  });
}

type Operation = { tags?: string[]; summary?: string; security?: unknown; operationId?: string; responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };
type Document = { openapi: string; info: { title: string; version: string }; servers?: unknown[]; security?: unknown; tags?: { name: string }[]; components?: { securitySchemes?: Record<string, unknown> }; paths: Record<string, Record<string, Operation>> };

const operations = (doc: Document) => Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method: method.toUpperCase(), op })));

let gw: Gateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.stop();
});

describe('the OpenAPI document', () => {
  let doc: Document;
  beforeAll(async () => {
    const res = await gw.app.inject({ url: '/openapi.json' });
    expect(res.statusCode, 'served without a key').toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = JSON.parse(res.body) as Document;
  });

  it('is OpenAPI 3.1 with the API keys as security schemes, required by default', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'kubeff', version: expect.stringMatching(/^\d+\.\d+\.\d+/) as unknown });
    expect(doc.servers?.length).toBeGreaterThan(0);
    expect(doc.components?.securitySchemes).toEqual({
      ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      bearerAuth: expect.objectContaining({ type: 'http', scheme: 'bearer' }) as unknown,
    });
    expect(doc.security).toEqual(apiSecurity);
    expect(doc.tags?.map((t) => t.name)).toEqual(expect.arrayContaining(['jobs', 'admin', 'system', 'files']));
  });

  it('lists every route of the app and nothing else', () => {
    const documented = operations(doc).map((o) => o.key).sort();
    const registered = gw.routes
      .filter((r) => (r.schema as { hide?: boolean } | undefined)?.hide !== true)
      .flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => `${String(m)} ${r.url.replace(/:(\w+)/g, '{$1}')}`))
      .filter((k) => !k.startsWith('HEAD '))
      .sort();
    expect(documented).toEqual([...new Set(registered)]);
    // A floor that does not depend on the recorder: the routes a client of the reference uses.
    expect(documented).toEqual(expect.arrayContaining([
      'POST /api/v1/convert', 'POST /api/v1/stream', 'POST /api/v1/analyze', 'POST /api/v1/estimate',
      'POST /api/v1/batch', 'GET /api/v1/batch/{id}', 'DELETE /api/v1/batch/{id}',
      'GET /api/v1/jobs', 'GET /api/v1/jobs/{id}', 'DELETE /api/v1/jobs/{id}', 'GET /api/v1/jobs/{id}/events', 'GET /api/v1/jobs/{id}/logs',
      'GET /api/v1/health', 'GET /api/v1/admin/keys', 'POST /api/v1/admin/keys', 'POST /api/v1/admin/keys/{id}/rotate', 'DELETE /api/v1/admin/keys/{id}',
      'GET /api/v1/admin/stats', 'POST /api/v1/admin/cleanup', 'GET /metrics',
    ]));
    expect(documented.some((k) => k.includes('/docs') || k.includes('/openapi.json')), 'the docs themselves are hidden').toBe(false);
  });

  it('gives every operation a tag, a summary, a unique id, a success response with a schema, and its security', () => {
    const ids = new Set<string>();
    const problems: string[] = [];
    for (const { key, op } of operations(doc)) {
      if (!op.tags?.length) problems.push(`${key}: no tag`);
      if (!op.summary) problems.push(`${key}: no summary`);
      if (!op.operationId || ids.has(op.operationId)) problems.push(`${key}: missing or duplicate operationId ${String(op.operationId)}`);
      if (op.operationId) ids.add(op.operationId);
      if (!Array.isArray(op.security)) problems.push(`${key}: no security`);
      const success = Object.entries(op.responses ?? {}).filter(([code]) => /^2\d\d$/.test(code));
      const typed = success.filter(([, r]) => Object.values(r.content ?? {}).some((media) => media.schema !== undefined));
      if (!typed.length) problems.push(`${key}: no 2xx response with a content schema`);
    }
    expect(problems).toEqual([]);
  });

  it('marks as public exactly the operations that answer without a key', async () => {
    const mismatched: string[] = [];
    for (const { key, path, method, op } of operations(doc)) {
      const res = await gw.app.inject({ method: method as 'GET', url: path.replace(/\{\w+\}/g, randomUUID()) });
      const documentedPublic = Array.isArray(op.security) && op.security.length === 0;
      if (documentedPublic !== (res.statusCode !== 401)) mismatched.push(`${key}: documented ${documentedPublic ? 'public' : 'keyed'}, answered ${res.statusCode} without a key`);
    }
    expect(mismatched).toEqual([]);
    expect(operations(doc).filter((o) => Array.isArray(o.op.security) && o.op.security.length === 0).map((o) => o.key)).toEqual(['GET /api/v1/health']);
  });

  it('documents request bodies, path parameters and the error envelope from the route schemas', () => {
    const convert = doc.paths['/api/v1/convert']?.['post'] as Operation & { requestBody?: { content?: Record<string, { schema?: { type?: string } }> } };
    expect(convert.requestBody?.content?.['application/json']?.schema?.type).toBe('object');
    const job = doc.paths['/api/v1/jobs/{id}']?.['get'] as Operation & { parameters?: { in: string; name: string; required: boolean }[] };
    expect(job.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'path', name: 'id', required: true })]));
    // Every error answer refers to the one envelope in components.schemas.
    const notFound = job.responses?.['404']?.content?.['application/json']?.schema as { $ref?: string };
    expect(notFound.$ref).toBe('#/components/schemas/ErrorResponse');
    const envelope = (doc as unknown as { components: { schemas: Record<string, { properties?: { error?: { required?: string[] } } }> } }).components.schemas['ErrorResponse'];
    expect(envelope?.properties?.error?.required).toEqual(expect.arrayContaining(['type', 'code', 'message', 'doc_url', 'request_id']));
    expect(doc.paths['/metrics']?.['get']?.responses?.['200']?.content).toHaveProperty(['text/plain']);
  });
});

describe('Swagger UI', () => {
  it('is served at /docs without a key', async () => {
    const res = await gw.app.inject({ url: '/docs' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/swagger/i);
    // A strict CSP, minus upgrade-insecure-requests, which would break the page on plain HTTP.
    expect(res.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(res.headers['content-security-policy']).not.toMatch(/upgrade-insecure-requests/);
    const init = await gw.app.inject({ url: '/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
  });
});

describe('metrics', () => {
  it('refuses a request without a key (401) and a client key (403)', async () => {
    const none = await gw.app.inject({ url: '/metrics' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    const client = await gw.app.inject({ url: '/metrics', headers: { 'x-api-key': clientKey } });
    expect(client.statusCode).toBe(403);
    expect(client.json()).toMatchObject({ error: { type: 'authorization_error', code: 'ACCESS_DENIED' } });
    expect(client.body).not.toContain('kubeff_');
  });

  it('answers an admin key, as X-API-Key or bearer token, in the Prometheus text format', async () => {
    for (const headers of [{ 'x-api-key': adminKey }, { authorization: `Bearer ${adminKey}` }]) {
      const res = await gw.app.inject({ url: '/metrics', headers });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatch(/^# HELP process_cpu_user_seconds_total /m);
      expect(res.body).toMatch(/^# TYPE kubeff_http_request_duration_seconds histogram$/m);
      expect(sample(res.body, 'kubeff_workers_running')).toBe(0);
    }
  });

  it('labels HTTP requests by route pattern and status, never by the raw URL', async () => {
    const id = randomUUID();
    const stray = `/no-such-route-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await gw.app.inject({ url: `/api/v1/jobs/${id}`, headers: { 'x-api-key': clientKey } });
    await gw.app.inject({ url: stray, headers: { 'x-api-key': clientKey } });
    await gw.app.inject({ url: '/api/v1/health' });
    const text = await metricsText(gw);
    expect(sample(text, 'kubeff_http_requests_total', { method: 'GET', route: '/api/v1/jobs/:id', status_code: '404' })).toBe(3);
    expect(sample(text, 'kubeff_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/jobs/:id', status_code: '404' })).toBe(3);
    expect(sample(text, 'kubeff_http_requests_total', { method: 'GET', route: '/api/v1/health', status_code: '200' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'kubeff_http_requests_total', { route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
    expect(text).not.toContain(stray);
  });

  it('counts jobs created, completed, failed and cancelled, with durations and phases', async () => {
    makeSource(gw.storage.host('/storage/in/clip.mp4'), { seconds: 1 });
    const corrupt = gw.storage.host('/storage/in/corrupt.mp4');
    mkdirSync(dirname(corrupt), { recursive: true });
    writeFileSync(corrupt, 'not a video at all '.repeat(200));
    const submit = async (input: string, out: string) => {
      const res = await gw.app.inject({ method: 'POST', url: '/api/v1/convert', headers: { 'x-api-key': clientKey }, payload: { input, output: { path: out, video: { preset: 'ultrafast' } } } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<{ job: { id: string } }>().job.id;
    };

    const ok = await submit('/storage/in/clip.mp4', '/storage/out/ok.mp4');
    const bad = await submit('/storage/in/corrupt.mp4', '/storage/out/bad.mp4');
    const cancelled = await submit('/storage/in/clip.mp4', '/storage/out/cancelled.mp4');
    // Cancelled at once: the worker process has not even started FFmpeg yet.
    const del = await gw.app.inject({ method: 'DELETE', url: `/api/v1/jobs/${cancelled}`, headers: { 'x-api-key': clientKey } });
    expect(del.statusCode, del.body).toBe(200);
    expect((await finishedJob(gw, ok)).status).toBe('completed');
    expect((await finishedJob(gw, bad)).status).toBe('failed');

    // The last terminal event and the scrape race only by microseconds, but wait for it all the same.
    const text = await waitFor('job metrics', async () => {
      const t = await metricsText(gw);
      return sample(t, 'kubeff_jobs_failed_total', { type: 'convert' }) === 1 && sample(t, 'kubeff_workers_running') === 0 ? t : undefined;
    }, 10_000);
    expect(sample(text, 'kubeff_jobs_created_total', { type: 'convert' })).toBe(3);
    expect(sample(text, 'kubeff_jobs_completed_total', { type: 'convert' })).toBe(1);
    expect(sample(text, 'kubeff_jobs_failed_total', { type: 'convert' })).toBe(1);
    expect(sample(text, 'kubeff_jobs_cancelled_total', { type: 'convert' })).toBe(1);
    expect(sample(text, 'kubeff_jobs_created_total', { type: 'stream' })).toBe(0);
    expect(sample(text, 'kubeff_job_duration_seconds_count', { type: 'convert', outcome: 'completed' })).toBe(1);
    expect(sample(text, 'kubeff_job_duration_seconds_sum', { type: 'convert', outcome: 'completed' })).toBeGreaterThan(0);
    expect(sample(text, 'kubeff_jobs', { phase: 'completed' })).toBe(1);
    expect(sample(text, 'kubeff_jobs', { phase: 'failed' })).toBe(1);
    expect(sample(text, 'kubeff_jobs', { phase: 'cancelled' })).toBe(1);
    expect(sample(text, 'kubeff_jobs', { phase: 'queued' })).toBe(0);
  });

  it('keeps one registry per app, so two apps in a process do not share counts', async () => {
    const other = await startGateway([metricsPlugin]);
    try {
      expect(other.app.metricsRegistry).not.toBe(gw.app.metricsRegistry);
      const res = await other.app.inject({ url: '/metrics', headers: { 'x-api-key': adminKey } });
      expect(res.statusCode).toBe(200);
      expect(sample(res.body, 'kubeff_jobs_created_total', { type: 'convert' })).toBe(0);
    } finally {
      await other.stop();
    }
  });
});

// --- Tracing -------------------------------------------------------------------------------

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : v?.boolValue);
};

/** The Fastify hook lists (an internal field, read only to prove that none were added). */
function hookCounts(app: FastifyInstance): Record<string, number> {
  const sym = Object.getOwnPropertySymbols(app).find((s) => s.description === 'fastify.hooks');
  if (!sym) throw new Error('fastify hooks symbol not found');
  const hooks = (app as unknown as Record<symbol, Record<string, unknown[]>>)[sym] ?? {};
  return Object.fromEntries(Object.entries(hooks).filter(([, v]) => Array.isArray(v)).map(([k, v]) => [k, v.length]));
}

const otelVars = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_BSP_SCHEDULE_DELAY', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER'] as const;

describe('tracing', () => {
  const saved = Object.fromEntries(otelVars.map((k) => [k, process.env[k]]));
  beforeAll(() => {
    for (const k of otelVars) delete process.env[k];
  });
  afterAll(() => {
    for (const k of otelVars) {
      const v = saved[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  /** Records the traceparent a handler would store with a job, with and without the request. */
  const probeRoute: Plugin = (app) => {
    app.post('/api/v1/trace-probe', async (req: FastifyRequest) => ({ fromRequest: jobTraceContext(req) ?? null, fromContext: jobTraceContext() ?? null, body: req.body }));
  };

  it('adds no hooks and starts no tracer when no OTLP endpoint is set', async () => {
    const plain = await startGateway([]);
    const traced = await startGateway([tracingPlugin, probeRoute]);
    try {
      expect(hookCounts(traced.app)).toEqual(hookCounts(plain.app));
      expect(trace.getTracer('probe').startSpan('probe').isRecording(), 'the global tracer is the no-op one').toBe(false);
      const res = await traced.app.inject({ method: 'POST', url: '/api/v1/trace-probe', headers: { 'x-api-key': clientKey, traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` }, payload: { x: 1 } });
      expect(res.json()).toEqual({ fromRequest: null, fromContext: null, body: { x: 1 } });
    } finally {
      await plain.stop();
      await traced.stop();
    }
  });

  it('loads no OpenTelemetry module until tracing is configured', () => {
    // A fresh process, which records every @opentelemetry/* import it resolves.
    const tracing = join(import.meta.dirname, '../../gateway/src/tracing.ts');
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(spec, ctx, next) { if (spec.startsWith('@opentelemetry/')) seen.push(spec); return next(spec, ctx); } });
      const t = await import(${JSON.stringify(tracing)});
      const off = await t.startTracing({});
      const tp = t.jobTraceContext();
      const before = [...seen];
      const on = await t.startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
      await t.stopTracing();
      console.log(JSON.stringify({ off: off === undefined, tp: tp ?? null, before, on: on !== undefined, after: [...new Set(seen)] }));`;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env, timeout: 30_000 })) as { off: boolean; tp: string | null; before: string[]; on: boolean; after: string[] };
    expect(out).toMatchObject({ off: true, tp: null, before: [], on: true });
    expect(out.after, 'the check itself works: starting does load the SDK').toEqual(expect.arrayContaining(['@opentelemetry/api', '@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-http']));
  });

  it('exports a server span per request to the OTLP endpoint, continuing the incoming trace', async () => {
    const receiver = await otlpReceiver();
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = receiver.url;
    process.env['OTEL_BSP_SCHEDULE_DELAY'] = '50';
    const traced = await startGateway([tracingPlugin, probeRoute]);
    let stopped = false;
    try {
      const traceId = randomUUID().replace(/-/g, '');
      const parentId = randomUUID().replace(/-/g, '').slice(0, 16);
      const jobId = randomUUID();
      const got = await traced.app.inject({ url: `/api/v1/jobs/${jobId}`, headers: { 'x-api-key': clientKey, traceparent: `00-${traceId}-${parentId}-01` } });
      expect(got.statusCode).toBe(404);
      const refused = await traced.app.inject({ url: '/api/v1/jobs' });
      expect(refused.statusCode).toBe(401);
      const probe = await traced.app.inject({ method: 'POST', url: '/api/v1/trace-probe', headers: { 'x-api-key': clientKey, traceparent: `00-${traceId}-${parentId}-01` }, payload: { x: 1 } });
      const tp = probe.json<{ fromRequest: string | null; fromContext: string | null }>();
      // The handler sees the request's own span: same trace, a new span id, sampled.
      expect(tp.fromRequest).toMatch(new RegExp(`^00-${traceId}-(?!${parentId})[0-9a-f]{16}-01$`));
      expect(tp.fromContext, 'the active context inside a handler after body parsing').toBe(tp.fromRequest);

      const spans = await waitFor('exported spans', () => {
        const all = receiver.spans();
        return all.some((s) => s.name === 'GET /api/v1/jobs/:id') && all.some((s) => s.name === 'GET /api/v1/jobs') && all.some((s) => s.name === 'POST /api/v1/trace-probe') ? all : undefined;
      }, 15_000);
      expect(receiver.posts.every((p) => p.path === '/v1/traces')).toBe(true);

      const jobSpan = spans.find((s) => s.name === 'GET /api/v1/jobs/:id');
      expect(jobSpan).toMatchObject({ kind: 2, traceId, parentSpanId: parentId });
      expect(jobSpan && attr(jobSpan, 'http.route')).toBe('/api/v1/jobs/:id');
      expect(jobSpan && attr(jobSpan, 'http.request.method')).toBe('GET');
      expect(jobSpan && attr(jobSpan, 'http.response.status_code')).toBe(404);
      expect(jobSpan && attr(jobSpan, 'kubeff.job.id')).toBe(jobId);
      expect(jobSpan && attr(jobSpan, 'url.path')).toBe(`/api/v1/jobs/${jobId}`);
      expect(jobSpan && attr(jobSpan, 'kubeff.aborted')).toBeUndefined();

      // Refused by the auth hook before the tracing hook ran: still one span, with its status.
      const refusedSpan = spans.find((s) => s.name === 'GET /api/v1/jobs');
      expect(refusedSpan && attr(refusedSpan, 'http.response.status_code')).toBe(401);
      expect(refusedSpan?.traceId).not.toBe(traceId);

      const probeSpan = spans.find((s) => s.name === 'POST /api/v1/trace-probe');
      expect(tp.fromRequest).toBe(`00-${traceId}-${probeSpan?.spanId}-01`);

      await traced.stop();
      stopped = true;
      // Closed: tracing is stopped and the globals are free again.
      expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    } finally {
      if (!stopped) await traced.stop();
      delete process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
      delete process.env['OTEL_BSP_SCHEDULE_DELAY'];
      await receiver.close();
    }
  });

  it('ends the span of an event stream when the client leaves it, and counts the request', async () => {
    const receiver = await otlpReceiver();
    process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = receiver.url;
    process.env['OTEL_BSP_SCHEDULE_DELAY'] = '50';
    const traced = await startGateway([tracingPlugin, metricsPlugin]);
    try {
      makeSource(traced.storage.host('/storage/in/long.mp4'), { seconds: 4 });
      // A slow encode, so the job is still running when the client hangs up.
      const res = await traced.app.inject({ method: 'POST', url: '/api/v1/convert', headers: { 'x-api-key': clientKey }, payload: { input: '/storage/in/long.mp4', output: { path: '/storage/out/long.mp4', video: { preset: 'veryslow', resolution: '720p' } } } });
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json<{ job: { id: string } }>().job.id;
      await traced.app.listen({ port: 0, host: '127.0.0.1' });
      const addr = traced.app.server.address();
      if (!addr || typeof addr === 'string') throw new Error('no port');
      const abort = new AbortController();
      const stream = await fetch(`http://127.0.0.1:${addr.port}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': clientKey }, signal: abort.signal });
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = stream.body?.getReader();
      await reader?.read(); // the stream is open and flowing
      abort.abort();
      const span = await waitFor('the event stream span', () => receiver.spans().find((s) => s.name === 'GET /api/v1/jobs/:id/events'), 15_000);
      expect(attr(span, 'http.response.status_code')).toBe(200);
      expect(attr(span, 'kubeff.job.id')).toBe(id);
      expect(attr(span, 'kubeff.aborted')).toBe(true);
      // Fastify runs no onResponse for a stream the client left; the metrics count it anyway.
      const text = await waitFor('the event stream request in the metrics', async () => {
        const res = await traced.app.inject({ url: '/metrics', headers: { 'x-api-key': adminKey } });
        return sample(res.body, 'kubeff_http_requests_total', { route: '/api/v1/jobs/:id/events' }) !== undefined ? res.body : undefined;
      }, 10_000);
      expect(sample(text, 'kubeff_http_requests_total', { method: 'GET', route: '/api/v1/jobs/:id/events', status_code: '200' })).toBe(1);
    } finally {
      await traced.stop();
      delete process.env['OTEL_EXPORTER_OTLP_ENDPOINT'];
      delete process.env['OTEL_BSP_SCHEDULE_DELAY'];
      await receiver.close();
    }
  });

  it('names the job created by a submission on its span', async () => {
    const receiver = await otlpReceiver();
    process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] = `${receiver.url}/v1/traces`;
    process.env['OTEL_BSP_SCHEDULE_DELAY'] = '50';
    const traced = await startGateway([tracingPlugin]);
    try {
      makeSource(traced.storage.host('/storage/in/clip.mp4'), { seconds: 1 });
      const res = await traced.app.inject({ method: 'POST', url: '/api/v1/convert', headers: { 'x-api-key': clientKey }, payload: { input: '/storage/in/clip.mp4', output: 'mkv' } });
      expect(res.statusCode, res.body).toBe(201);
      const id = res.json<{ job: { id: string } }>().job.id;
      const span = await waitFor('the submission span', () => receiver.spans().find((s) => s.name === 'POST /api/v1/convert'), 15_000);
      expect(attr(span, 'kubeff.job.id')).toBe(id);
      expect(attr(span, 'http.response.status_code')).toBe(201);
    } finally {
      await traced.stop();
      delete process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
      delete process.env['OTEL_BSP_SCHEDULE_DELAY'];
      await receiver.close();
    }
  });
});
