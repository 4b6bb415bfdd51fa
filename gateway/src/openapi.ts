// The OpenAPI 3.1 document, generated from the routes' own TypeBox schemas (so it cannot drift
// from what the server validates and serializes), served at /openapi.json, with Swagger UI at
// /docs. Both are public: the auth hook in app.ts lets /openapi.json and /docs* through.
// Must run as a plugin (before the core routes are registered) so @fastify/swagger's onRoute
// hook sees every route.
import { STATUS_CODES } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import type { Deps } from './deps.ts';
import { kubeffVersion } from './version.ts';

/** Requests without a key are accepted on these (kept in step with app.ts; a test checks it). */
export const publicOperationPaths: readonly string[] = ['/api/v1/health', '/health', '/openapi.json'];
const isPublicPath = (url: string) => publicOperationPaths.includes(url) || url.startsWith('/docs');

/** Either scheme authenticates: the same key sent as X-API-Key or as a bearer token. */
export const apiSecurity: Record<string, string[]>[] = [{ ApiKeyAuth: [] }, { bearerAuth: [] }];

/**
 * A value reduced to plain JSON. TypeBox 1.x marks its schemas with non-enumerable `~kind` and
 * `~optional` properties; JSON.stringify drops them, but anything that walks own keys (YAML
 * output, a client generator fed the in-memory object) would not. @fastify/swagger 9.9 happens
 * to copy enumerable keys only; the JSON round trip makes that a guarantee of ours instead of a
 * detail of its version, and costs nothing that matters: the document is built once and cached.
 */
export function plainJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** `post /api/v1/jobs/:id/events` -> `postJobsIdEvents`: stable ids for generated clients. */
export function operationId(method: string, url: string): string {
  const words = url.replace(/^\/api\/v1(?=\/|$)/, '').split(/[/:_.{}-]+/).filter(Boolean);
  return method.toLowerCase() + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * A route serving several methods (GET and HEAD of /files) goes through `transform` once, so each
 * of its operations got the first method's id; OpenAPI wants ids unique, so each is renamed for
 * its own method.
 */
function uniqueOperationIds<T>(doc: T): T {
  const paths = (doc as { paths?: Record<string, Record<string, { operationId?: string }>> }).paths ?? {};
  for (const [url, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const id = op.operationId;
      const named = id === undefined ? undefined : httpMethods.find((m) => id.startsWith(m) && /^[A-Z]/.test(id.slice(m.length)));
      if (id !== undefined && named !== undefined && named !== method && httpMethods.includes(method)) op.operationId = operationId(method, url);
    }
  }
  return doc;
}

/**
 * Responses whose schema has no description get @fastify/swagger's "Default Response"; the
 * status code's reason phrase ("Created", "Not Found") tells a reader more.
 */
function describeResponses<T>(doc: T): T {
  const paths = (doc as { paths?: Record<string, Record<string, { responses?: Record<string, { description?: string }> }>> }).paths ?? {};
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      for (const [code, res] of Object.entries(op.responses ?? {})) {
        if (res.description === 'Default Response') res.description = STATUS_CODES[Number(code)] ?? res.description;
      }
    }
  }
  return doc;
}

/**
 * The requests the server makes: one webhook delivery per job event (OpenAPI 3.1 `webhooks`), so
 * receivers and generated clients get its payload and headers from this document too.
 */
function withWebhooks<T>(doc: T): T {
  const header = (name: string, description: string) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  (doc as { webhooks?: unknown }).webhooks = {
    jobEvent: {
      post: {
        operationId: 'webhookJobEvent',
        summary: 'A job event, POSTed to the job\'s webhook_url',
        description: 'Sent for the events in webhook_events (default started, complete, error, cancelled; progress at most every 2 s), in order per job, at least once: retried with backoff until a 2xx answer. Verify the signature before trusting the body (the SDK\'s verifyWebhook).',
        parameters: [
          header('webhook-id', 'The delivery id, the same on every attempt (deduplicate on it)'),
          header('webhook-timestamp', 'Seconds since the epoch when this attempt was signed'),
          header('webhook-signature', 'v1,<base64 HMAC-SHA256 of "id.timestamp.body"> with the webhook secret'),
        ],
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookPayload' } } } },
        responses: { 200: { description: 'Any 2xx acknowledges the delivery; anything else is retried' } },
      },
    },
  };
  return doc;
}

const tags = [
  { name: 'jobs', description: 'Create, follow and cancel media jobs (convert, stream, analyze, batch, estimate)' },
  { name: 'files', description: 'Upload and download files in storage' },
  { name: 'admin', description: 'API keys, statistics and cleanup; admin keys only' },
  { name: 'system', description: 'Health, metrics and this document' },
];

export async function openapiPlugin(app: FastifyInstance, _deps: Deps): Promise<void> {
  const version = kubeffVersion;
  await app.register(swagger, {
    mode: 'dynamic',
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'kubeff',
        version,
        description: 'FFmpeg as a REST API, compatible with the Rendiff API. Send an API key as `X-API-Key` or `Authorization: Bearer`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: the document is right whatever host, port or proxy serves it.
      servers: [{ url: '/', description: 'this server' }],
      components: {
        securitySchemes: {
          ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'The API key as a bearer token' },
        },
      },
      security: apiSecurity,
      tags,
    },
    // 3.1 has `const`, but Swagger UI renders `enum` better; both mean the same to a validator.
    convertConstToEnum: true,
    // Shared schemas keep their own names in components.schemas (ErrorResponse, not def-0).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url: routeUrl, route }: { schema: FastifySchema; url: string; route: RouteOptions }) => {
      let url = routeUrl;
      const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
      // A copy: the route's own schema object is also Fastify's validator input.
      const s: Record<string, unknown> = { ...(schema as Record<string, unknown> | undefined) };
      if (s['hide'] === true) return { schema: s as FastifySchema, url };
      // A wildcard route (/api/v1/storage/*) is documented with a named parameter: `{*}` is not a
      // name URI templates or client generators can fill in.
      if (url.endsWith('/*')) {
        url = `${url.slice(0, -1)}:path`;
        const params = s['params'] as { properties?: Record<string, unknown>; required?: string[] } | undefined;
        if (params?.properties?.['*'] !== undefined) {
          const { '*': wildcard, ...rest } = params.properties;
          s['params'] = { ...params, properties: { ...rest, path: wildcard }, required: (params.required ?? []).map((r) => (r === '*' ? 'path' : r)) };
        }
      }
      // A body the route streams instead of parsing, documented without a validator seeing it.
      if (s['documentedBody'] !== undefined) {
        s['body'] = s['documentedBody'];
        delete s['documentedBody'];
      }
      s['operationId'] ??= operationId(method, url);
      // Every operation states its security: [] marks the public ones, so a client generator
      // does not attach a key where none is read, and a reader sees what each call needs.
      s['security'] ??= isPublicPath(url) ? [] : apiSecurity;
      const admin = Array.isArray(s['tags']) && (s['tags'] as unknown[]).includes('admin');
      if (admin && typeof s['description'] !== 'string') s['description'] = 'Requires an admin key; a client key gets 403 ACCESS_DENIED.';
      return { schema: s as FastifySchema, url };
    },
    transformObject: (doc) => withWebhooks(uniqueOperationIds(describeResponses(plainJson('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject)))),
  });

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { deepLinking: true, persistAuthorization: false, displayOperationId: false },
    // The UI's scripts and styles come from /docs/static (nothing from a CDN), so a strict CSP
    // fits; but not its `upgrade-insecure-requests`, which would break the page on the plain
    // HTTP that in-cluster and local deployments serve.
    staticCSP: true,
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/, ''),
  });

  app.get('/openapi.json', { schema: { hide: true } }, async (_req, reply) => {
    void reply.header('cache-control', 'no-cache');
    return app.swagger();
  });
}
