// The gateway's tracing, on when the process-wide setup (operator/src/tracing.ts) is configured:
// every request becomes a server span (continuing an incoming W3C `traceparent`), and
// `jobTraceContext()` gives the traceparent to store with a job and hand to its worker as
// TRACEPARENT, so the worker's spans join the request's trace. Off, no hook is added.
import type { Context, Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from './deps.ts';
import type { JobTracer } from '../../operator/src/local/runtime.ts';
import { activeTracingApi, startTracing, stopTracing } from '../../operator/src/tracing.ts';

export { startTracing, stopTracing, tracingConfig } from '../../operator/src/tracing.ts';

// Stable OpenTelemetry semantic-convention names (HTTP, URL, client), spelled out rather than
// imported from @opentelemetry/semantic-conventions: stable names do not change, and the off
// path should load nothing.
const ATTR_CLIENT_ADDRESS = 'client.address';
const ATTR_ERROR_TYPE = 'error.type';
const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
const ATTR_HTTP_ROUTE = 'http.route';
const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version';
const ATTR_URL_PATH = 'url.path';
const ATTR_URL_SCHEME = 'url.scheme';
const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original';

interface RequestSpan {
  span: Span;
  ctx: Context;
  jobId: string | undefined;
  batchId: string | undefined;
  ended: boolean;
}

// Keyed by request, so nothing is added to requests when tracing is off.
const requestSpans = new WeakMap<FastifyRequest, RequestSpan>();

/**
 * The W3C traceparent of the request's span (or, without a request, of the active context), to
 * store with a job and pass to its worker as TRACEPARENT. Undefined when tracing is off.
 */
export function jobTraceContext(req?: FastifyRequest): string | undefined {
  const api = activeTracingApi();
  if (!api) return undefined;
  const ctx = (req ? requestSpans.get(req)?.ctx : undefined) ?? api.context.active();
  const carrier: Record<string, string> = {};
  api.propagation.inject(ctx, carrier);
  return carrier['traceparent'];
}

const idPattern = /^[A-Za-z0-9-]{1,64}$/;
// Submit responses start with the new job's (or batch's) id: the response schemas list `id`
// first, and fast-json-stringify writes properties in schema order. Matching the prefix avoids
// parsing every response body.
const createdPrefix = /^\{"(job|batch)":\{"id":"([A-Za-z0-9-]{1,64})"/;

function startAttributes(req: FastifyRequest) {
  const ua = req.headers['user-agent'];
  return {
    [ATTR_HTTP_REQUEST_METHOD]: req.method,
    [ATTR_URL_PATH]: req.url.split('?')[0] ?? req.url,
    [ATTR_URL_SCHEME]: req.protocol,
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.raw.httpVersion,
    [ATTR_CLIENT_ADDRESS]: req.ip,
    ...(req.routeOptions.url ? { [ATTR_HTTP_ROUTE]: req.routeOptions.url } : {}),
    ...(typeof ua === 'string' ? { [ATTR_USER_AGENT_ORIGINAL]: ua } : {}),
    'kubeff.request_id': String(req.id),
  };
}

/** Job and batch ids named by the route's :id parameter. */
function idsFromParams(req: FastifyRequest): { jobId: string | undefined; batchId: string | undefined } {
  const route = req.routeOptions.url ?? '';
  const id = (req.params as Record<string, unknown> | undefined)?.['id'];
  const valid = typeof id === 'string' && idPattern.test(id) ? id : undefined;
  return {
    jobId: route.startsWith('/api/v1/jobs/:id') ? valid : undefined,
    batchId: route.startsWith('/api/v1/batch/:id') ? valid : undefined,
  };
}

export async function tracingPlugin(app: FastifyInstance, _deps: Deps): Promise<void> {
  const tracing = await startTracing();
  if (!tracing) return; // off: no hooks at all, so requests pay nothing
  const { tracer, api } = tracing;
  const { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } = api;

  const begin = (req: FastifyRequest, startTime?: number): RequestSpan => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const route = req.routeOptions.url;
    const span = tracer.startSpan(route ? `${req.method} ${route}` : req.method, { kind: SpanKind.SERVER, attributes: startAttributes(req), ...(startTime !== undefined ? { startTime } : {}) }, parent);
    const state: RequestSpan = { span, ctx: trace.setSpan(parent, span), ...idsFromParams(req), ended: false };
    requestSpans.set(req, state);
    return state;
  };

  const end = (req: FastifyRequest, reply: FastifyReply): void => {
    const state = requestSpans.get(req);
    if (!state || state.ended) return;
    state.ended = true; // once, whichever of onResponse or 'close' comes first
    const { span } = state;
    // raw.statusCode is what was written, also for hijacked replies (SSE).
    const status = reply.raw.statusCode;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (state.jobId) span.setAttribute('kubeff.job.id', state.jobId);
    if (state.batchId) span.setAttribute('kubeff.batch.id', state.batchId);
    if (req.principal) span.setAttribute('kubeff.key.id', req.principal.keyId);
    // Server spans: a 4xx is the client's mistake, not this server's error (HTTP semconv).
    if (status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    // Closed before the response was ended: the client left (an SSE stream usually ends so).
    if (!reply.raw.writableEnded) span.setAttribute('kubeff.aborted', true);
    span.end();
  };

  // Runs after the auth hook of app.ts (hooks run in order of registration): a request refused
  // there gets its span in onResponse below instead, back-dated to its arrival.
  app.addHook('onRequest', (req, reply, done) => {
    const state = begin(req);
    // Hijacked replies (SSE) and aborted requests may never reach onResponse.
    reply.raw.once('close', () => end(req, reply));
    context.with(state.ctx, done);
  });
  // Body parsing runs in the socket's async context, which loses the span: restore it, so the
  // handler (and jobTraceContext() without arguments) runs inside the request's span.
  app.addHook('preHandler', (req, _reply, done) => {
    const state = requestSpans.get(req);
    if (state) context.with(state.ctx, done);
    else done();
  });
  app.addHook('onError', (req, _reply, err, done) => {
    const code = (err as { statusCode?: unknown }).statusCode;
    if (typeof code !== 'number' || code >= 500) requestSpans.get(req)?.span.recordException(err);
    done();
  });
  app.addHook('onSend', (req, reply, payload, done) => {
    const state = requestSpans.get(req);
    if (state && reply.statusCode === 201 && typeof payload === 'string') {
      const m = createdPrefix.exec(payload);
      if (m?.[1] === 'job') state.jobId = m[2];
      else if (m?.[1] === 'batch') state.batchId = m[2];
    }
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    if (!requestSpans.has(req)) begin(req, Date.now() - reply.elapsedTime);
    end(req, reply);
    done();
  });
  app.addHook('onClose', async () => {
    await stopTracing();
  });
}

/**
 * Spans for job attempts in the local runtime, children of the span of the request that created
 * the job (its stored traceparent). Undefined when tracing is off: the runtime then does nothing.
 */
export async function jobAttemptTracer(): Promise<JobTracer | undefined> {
  const t = await startTracing();
  if (!t) return undefined;
  const { api, tracer } = t;
  return {
    startAttempt(job, attempt) {
      const parent = job.traceparent ? api.propagation.extract(api.context.active(), { traceparent: job.traceparent }) : api.context.active();
      const span = tracer.startSpan(`job ${job.spec.type}`, {
        kind: api.SpanKind.INTERNAL,
        attributes: { 'kubeff.job.id': job.id, 'kubeff.job.type': job.spec.type, 'kubeff.job.attempt': attempt, 'kubeff.job.priority': job.priority },
      }, parent);
      return {
        end(outcome, error) {
          span.setAttribute('kubeff.job.outcome', outcome);
          if (outcome !== 'completed' && outcome !== 'cancelled') span.setStatus({ code: api.SpanStatusCode.ERROR, ...(error ? { message: error } : {}) });
          span.end();
        },
      };
    },
  };
}
