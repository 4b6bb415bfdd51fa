// Prometheus metrics at GET /metrics, for admin keys only (anchor 9: the reference exposed
// detailed health and metrics publicly). HTTP traffic is labelled by route pattern, never by the
// raw URL, so job ids and query strings cannot explode the series count. Job metrics come from
// the event bus, so they count what the runtime did, not what a request asked for.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoredEvent } from '../../operator/src/local/store.ts';
import type { Deps } from './deps.ts';
import { ApiError } from './errors.ts';
import { ErrorResponse } from './schemas.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** This app's metrics registry (one per app, so tests can build several apps in a process). */
    metricsRegistry: Registry;
  }
}

const jobTypes = ['convert', 'stream', 'analyze'] as const;
const phases = ['queued', 'processing', 'completed', 'failed', 'cancelled'] as const;

/** The label for requests that matched no route: one series, whatever was asked for. */
export const unmatchedRoute = 'unmatched';

export interface MetricsOptions {
  /** Prefix of kubeff's own metrics; process and Node.js metrics keep their standard names. */
  prefix?: string;
}

export function createMetrics(deps: Pick<Deps, 'store' | 'runtime'>, opts: MetricsOptions = {}) {
  const p = opts.prefix ?? 'kubeff_';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: `${p}http_requests_total`,
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: `${p}http_request_duration_seconds`,
    help: 'Time from receiving a request to finishing its response, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  const jobsCreated = new Counter({ name: `${p}jobs_created_total`, help: 'Jobs accepted, by type', labelNames: ['type'] as const, registers: [registry] });
  const jobsCompleted = new Counter({ name: `${p}jobs_completed_total`, help: 'Jobs that completed, by type', labelNames: ['type'] as const, registers: [registry] });
  const jobsFailed = new Counter({ name: `${p}jobs_failed_total`, help: 'Jobs that failed for good (after any retries), by type', labelNames: ['type'] as const, registers: [registry] });
  const jobsCancelled = new Counter({ name: `${p}jobs_cancelled_total`, help: 'Jobs cancelled, by type', labelNames: ['type'] as const, registers: [registry] });
  const jobRetries = new Counter({ name: `${p}job_retries_total`, help: 'Failed attempts scheduled to run again, by type', labelNames: ['type'] as const, registers: [registry] });
  const jobDuration = new Histogram({
    name: `${p}job_duration_seconds`,
    help: 'Processing time of finished jobs, from the start of the last attempt to the end, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    // Media jobs run from under a second (a probe) to hours (a long transcode).
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200],
    registers: [registry],
  });
  // Zero series from the start, so rate() and absent() work before the first job of a type.
  for (const type of jobTypes) for (const c of [jobsCreated, jobsCompleted, jobsFailed, jobsCancelled, jobRetries]) c.inc({ type }, 0);

  // Read at scrape time: the store is the truth, and a counter cannot go down when jobs are deleted.
  new Gauge({
    name: `${p}jobs`,
    help: 'Jobs in the store, by phase',
    labelNames: ['phase'] as const,
    registers: [registry],
    collect() {
      const stats = deps.store.stats();
      for (const phase of phases) this.set({ phase }, stats[phase] ?? 0);
    },
  });
  new Gauge({
    name: `${p}workers_running`,
    help: 'Worker processes running now',
    registers: [registry],
    collect() {
      this.set(deps.runtime.runningCount());
    },
  });

  const typeOf = (jobId: string): string => {
    const t = deps.store.getJob(jobId)?.spec.type;
    return t ?? 'unknown';
  };

  /** One stored job event. Progress and log events (the frequent ones) cost nothing. */
  function onJobEvent(e: StoredEvent): void {
    switch (e.type) {
      case 'queued':
        jobsCreated.inc({ type: typeOf(e.jobId) });
        return;
      case 'retry':
        jobRetries.inc({ type: typeOf(e.jobId) });
        return;
      case 'complete':
      case 'error':
      case 'cancelled': {
        const job = deps.store.getJob(e.jobId);
        const type = job?.spec.type ?? 'unknown';
        const outcome = e.type === 'complete' ? 'completed' : e.type === 'error' ? 'failed' : 'cancelled';
        (outcome === 'completed' ? jobsCompleted : outcome === 'failed' ? jobsFailed : jobsCancelled).inc({ type });
        // A job cancelled while queued never started: it has no processing time to report.
        const started = job?.status.startedAt ? Date.parse(job.status.startedAt) : NaN;
        const ended = Date.parse(e.time);
        if (Number.isFinite(started) && Number.isFinite(ended) && ended >= started) jobDuration.observe({ type, outcome }, (ended - started) / 1000);
        return;
      }
      default:
        return;
    }
  }

  function observeRequest(req: FastifyRequest, statusCode: number, seconds: number): void {
    const labels = { method: req.method, route: req.routeOptions.url ?? unmatchedRoute, status_code: String(statusCode) };
    httpRequests.inc(labels);
    httpDuration.observe(labels, seconds);
  }

  return { registry, onJobEvent, observeRequest };
}

export async function metricsPlugin(app: FastifyInstance, deps: Deps): Promise<void> {
  const m = createMetrics(deps);
  app.decorate('metricsRegistry', m.registry);

  const unsubscribe = deps.bus.subscribeAll((e) => {
    // The bus calls subscribers inside the runtime's own bookkeeping: a metrics bug must not
    // break a job, so it is logged and swallowed here.
    try {
      m.onJobEvent(e);
    } catch (err) {
      app.log.warn({ err, jobId: e.jobId, event: e.type }, 'metrics: job event not counted');
    }
  });
  app.addHook('onClose', async () => unsubscribe());

  // Each request is counted once, by whichever comes first: onResponse, or the response's
  // 'close', which is all a client that leaves early produces (an event stream usually ends so;
  // Fastify runs no onResponse for it). A request refused before this onRequest hook ran (by
  // the auth hook) still reaches onResponse.
  const counted = new WeakSet<FastifyRequest>();
  const observe = (req: FastifyRequest, reply: FastifyReply) => {
    if (counted.has(req)) return;
    counted.add(req);
    // Left before any header went out: nginx's 499, "client closed request".
    const status = reply.raw.headersSent ? reply.raw.statusCode : 499;
    m.observeRequest(req, status, reply.elapsedTime / 1000);
  };
  app.addHook('onRequest', async (req, reply) => {
    reply.raw.once('close', () => observe(req, reply));
  });
  app.addHook('onResponse', async (req, reply) => observe(req, reply));

  app.get('/metrics', {
    schema: {
      tags: ['system'],
      summary: 'Prometheus metrics (admin keys only)',
      description: 'The Prometheus text exposition format. Requires an admin key; a client key gets 403 ACCESS_DENIED.',
      response: {
        200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
        401: ErrorResponse,
        403: ErrorResponse,
        429: ErrorResponse,
      },
    },
  }, async (req, reply) => {
    if (req.principal?.scope !== 'admin') throw new ApiError(403, 'authorization_error', 'ACCESS_DENIED', 'metrics need an admin key', { field: 'X-API-Key' });
    const body = await m.registry.metrics();
    void reply.header('content-type', m.registry.contentType).header('cache-control', 'no-store');
    return body;
  });
}
