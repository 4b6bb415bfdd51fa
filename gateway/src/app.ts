// The Fastify app, separate from the server so tests can build it with their own parts.
// Order of concerns per request: request id -> auth -> rate limit -> idempotency -> route.
import { createHash } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { Options as AjvOptions } from 'ajv';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { presentedKey } from './auth.ts';
import type { Deps } from './deps.ts';
import { ApiError, errorHandler } from './errors.ts';
import { plainJson } from './openapi.ts';
import { ErrorEnvelope, WebhookPayloadSchema } from './schemas.ts';
import { isLinkRequest, linkPrincipal, redactedUrl } from './link-auth.ts';
import { RateLimiter } from './rate-limit.ts';
import { RouteMethods } from './route-methods.ts';
import { adminRoutes } from './routes/admin.ts';
import { healthRoutes } from './routes/health.ts';
import { jobRoutes } from './routes/jobs.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for a POST with an Idempotency-Key this replica has not answered yet; `bodyHash` identifies the request. */
    idempotency: { owner: string; key: string; bodyHash: string } | undefined;
  }
}

const coercingPool = AjvCompiler();
const strictPool = AjvCompiler();
/**
 * Query strings and path parameters arrive as text, so their numbers and booleans are coerced
 * (`?page=2`); JSON bodies carry real types and are never coerced: `{"name": false}` is refused,
 * not turned into a key named "false".
 */
function typedBodies(external: Parameters<typeof coercingPool>[0], options?: { customOptions?: AjvOptions; plugins?: NonNullable<Parameters<typeof coercingPool>[1]>['plugins'] }) {
  const coercing = coercingPool(external, options);
  const strict = strictPool(external, { ...options, customOptions: { ...options?.customOptions, coerceTypes: false } });
  return (route: Parameters<typeof coercing>[0]) => (route.httpPart === 'body' ? strict(route) : coercing(route));
}

/** Paths anyone may call without a key. */
const publicPaths = new Set(['/api/v1/health', '/health', '/openapi.json']);
// The dashboard's page and scripts are public; everything it shows comes through the API with a key.
const isPublic = (url: string) => publicPaths.has(url.split('?')[0] ?? '') || url.startsWith('/docs') || url === '/ui' || url.startsWith('/ui/');

export interface AppOptions {
  /** The process's pino logger; the app logs through it with request ids. */
  logger?: Logger;
  /** Extra route registrations (webhooks, files, docs...), each a plain function of the app. */
  plugins?: ((app: FastifyInstance, deps: Deps) => void | Promise<void>)[];
}

export async function buildApp(deps: Deps, opts: AppOptions = {}): Promise<FastifyInstance> {
  let counter = 0;
  // Routes take the plain FastifyInstance; the TypeBox provider only adds compile-time inference.
  const app: FastifyInstance = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger as FastifyBaseLogger } : { logger: { level: deps.config.logLevel } }),
    // Request ids are ours (never taken from a client header), short and sortable.
    genReqId: () => `req_${Date.now().toString(36)}${(counter++).toString(36).padStart(4, '0')}`,
    bodyLimit: 1024 * 1024,
    // One access line per request (below) instead of Fastify's two: half the log volume.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator: typedBodies } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as FastifyInstance;

  // Shared schemas first: routes refer to them by $id.
  app.addSchema(plainJson(ErrorEnvelope));
  app.addSchema(plainJson(WebhookPayloadSchema));
  app.decorateRequest('principal', undefined);
  app.decorateRequest('idempotency', undefined);
  app.setErrorHandler(errorHandler);
  const known = new RouteMethods();
  app.addHook('onRoute', (route) => known.add(route.method, route.url ?? route.path));
  app.setNotFoundHandler((req, reply) => {
    errorHandler(new ApiError(404, 'not_found', 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req, reply);
  });

  const limiter = new RateLimiter(deps.config.limits);
  const sweep = setInterval(() => {
    limiter.sweep();
    deps.store.expireIdempotency(new Date(Date.now() - deps.config.idempotencyHours * 3_600_000).toISOString());
  }, 60_000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
    // A known path asked with a method it does not answer: 405, before auth or body parsing (a
    // QUERY without a Content-Type would otherwise be refused for that instead).
    if (req.is404) {
      const path = req.url.split('?')[0] ?? '';
      const allow = known.allowed(path);
      if (allow.length > 0) {
        throw new ApiError(405, 'validation_error', 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use ${allow.join(', ')}`, { field: 'method', value: req.method, allowed: allow }, { allow: allow.join(', ') });
      }
    }
    if (isPublic(req.url)) return;
    // A signed download link stands in for the key on GET/HEAD /api/v1/files only (link-auth.ts).
    req.principal = isLinkRequest(req) ? linkPrincipal(deps, req) : deps.keys.authenticate(presentedKey(req));
    const rate = limiter.take(req.principal.keyId);
    void reply.header('x-ratelimit-limit', String(rate.limit));
    void reply.header('x-ratelimit-remaining', String(rate.remaining));
    void reply.header('x-ratelimit-reset', String(rate.resetSeconds));
    if (!rate.allowed) {
      throw new ApiError(429, 'rate_limit_error', 'QUOTA_EXCEEDED', `rate limit exceeded: at most ${rate.limit} requests per ${rate.limit === deps.config.limits.perHour ? 'hour' : 'second'} for this key`, { field: 'X-API-Key', allowed: [rate.limit] }, { 'retry-after': String(rate.retryAfterSeconds) });
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    // A link's signature is a credential: it never reaches the logs.
    req.log.info({ method: req.method, url: redactedUrl(req.url), route: req.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, key: req.principal?.keyId }, 'request');
  });

  // Idempotency-Key on POST: same key + same body replays the first response; other body -> 422;
  // a duplicate while the first is still running -> 409.
  app.addHook('preHandler', async (req, reply) => {
    if (req.method !== 'POST' || !req.principal) return;
    const header = req.headers['idempotency-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (key === undefined) return;
    if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 visible ASCII characters', { field: 'Idempotency-Key' });
    const owner = req.principal.keyId;
    const hash = bodyHash(req);
    const prior = deps.store.idempotency(owner, key);
    if (prior) {
      if (prior.bodyHash !== hash) {
        throw new ApiError(422, 'validation_error', 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request', { field: 'Idempotency-Key', value: key });
      }
      if (prior.statusCode === undefined) {
        throw new ApiError(409, 'conflict', 'IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still being processed', { field: 'Idempotency-Key', value: key });
      }
      void reply.header('idempotent-replayed', 'true');
      return reply.status(prior.statusCode).send(prior.response);
    }
    if (!deps.store.claimIdempotency(owner, key, hash)) {
      throw new ApiError(409, 'conflict', 'IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still being processed', { field: 'Idempotency-Key', value: key });
    }
    req.idempotency = { owner, key, bodyHash: hash };
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idempotency;
    if (!idem) return payload;
    req.idempotency = undefined;
    if (reply.statusCode >= 500 || typeof payload !== 'string') deps.store.releaseIdempotency(idem.owner, idem.key);
    else deps.store.completeIdempotency(idem.owner, idem.key, reply.statusCode, JSON.parse(payload) as unknown);
    return payload;
  });

  // Plugins first: the OpenAPI generator must see every route registered after it.
  for (const p of opts.plugins ?? []) await p(app, deps);
  healthRoutes(app, deps);
  jobRoutes(app, deps);
  adminRoutes(app, deps);
  return app;
}

function bodyHash(req: FastifyRequest): string {
  return createHash('sha256').update(`${req.method} ${req.routeOptions.url ?? req.url}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
}
