// Admin routes: API keys (create, list, rotate, revoke), stats, cleanup. Admin keys only: a
// client key cannot see keys or raise its own limits.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { ApiKeyRecord } from '../../../operator/src/local/store.ts';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { ErrorResponse } from '../schemas.ts';

function requireAdmin(req: FastifyRequest): void {
  if (req.principal?.scope !== 'admin') throw new ApiError(403, 'authorization_error', 'ACCESS_DENIED', 'this route needs an admin key', { field: 'X-API-Key' });
}

const KeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scope: Type.String(),
  created_at: Type.String(),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
  last_used_at: Type.Union([Type.String(), Type.Null()]),
});
const keyView = (k: ApiKeyRecord) => ({ id: k.id, name: k.name, scope: k.scope, created_at: k.createdAt, revoked_at: k.revokedAt ?? null, last_used_at: k.lastUsedAt ?? null });
const KeyParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }) });
const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 429: ErrorResponse };

export function adminRoutes(app: FastifyInstance, deps: Deps): void {
  app.get('/api/v1/admin/keys', { schema: { tags: ['admin'], summary: 'List API keys (never the keys themselves)', response: { 200: Type.Object({ keys: Type.Array(KeyView) }), ...errors } } }, async (req) => {
    requireAdmin(req);
    return { keys: deps.keys.list().map(keyView) };
  });

  app.post('/api/v1/admin/keys', {
    schema: {
      tags: ['admin'],
      summary: 'Create an API key; the key is shown only in this response',
      body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), scope: Type.Optional(Type.Union([Type.Literal('client'), Type.Literal('admin')])) }, { additionalProperties: false }),
      response: { 201: Type.Object({ key: Type.String(), api_key: KeyView }), ...errors },
    },
  }, async (req, reply) => {
    requireAdmin(req);
    const body = req.body as { name: string; scope?: 'client' | 'admin' };
    const { record, key } = await deps.keys.create(body.name, body.scope ?? 'client');
    req.log.info({ keyId: record.id, scope: record.scope }, 'api key created');
    return reply.status(201).send({ key, api_key: keyView(record) });
  });

  app.post('/api/v1/admin/keys/:id/rotate', { schema: { tags: ['admin'], summary: 'Replace the secret of a key; its jobs stay its own', params: KeyParams, response: { 200: Type.Object({ key: Type.String(), api_key: KeyView }), ...errors } } }, async (req) => {
    requireAdmin(req);
    const { record, key } = await deps.keys.rotate((req.params as { id: string }).id);
    req.log.info({ keyId: record.id }, 'api key rotated');
    return { key, api_key: keyView(record) };
  });

  app.delete('/api/v1/admin/keys/:id', { schema: { tags: ['admin'], summary: 'Revoke a key', params: KeyParams, response: { 200: Type.Object({ api_key: KeyView }), ...errors } } }, async (req) => {
    requireAdmin(req);
    const id = (req.params as { id: string }).id;
    if (id === req.principal?.keyId) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', 'a key cannot revoke itself', { field: 'id', value: id });
    const record = await deps.keys.revoke(id);
    req.log.info({ keyId: id }, 'api key revoked');
    return { api_key: keyView(record) };
  });

  app.get('/api/v1/admin/stats', { schema: { tags: ['admin'], summary: 'Jobs per status and running workers', response: { 200: Type.Object({ jobs: Type.Record(Type.String(), Type.Integer()), running: Type.Integer(), keys: Type.Integer() }), ...errors } } }, async (req) => {
    requireAdmin(req);
    return { jobs: deps.store.stats(), running: deps.runtime.runningCount(), keys: deps.keys.list().filter((k) => !k.revokedAt).length };
  });

  app.post('/api/v1/admin/cleanup', {
    schema: {
      tags: ['admin'],
      summary: 'Delete the records of finished jobs older than a number of hours (files stay)',
      body: Type.Object({ older_than_hours: Type.Number({ minimum: 0, maximum: 100_000 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ deleted: Type.Integer() }), ...errors },
    },
  }, async (req) => {
    requireAdmin(req);
    const { older_than_hours } = req.body as { older_than_hours: number };
    const ids = deps.store.deleteJobsBefore(new Date(Date.now() - older_than_hours * 3_600_000).toISOString(), ['completed', 'failed', 'cancelled']);
    await deps.runtime.removed?.(ids);
    req.log.info({ deleted: ids.length }, 'cleanup');
    return { deleted: ids.length };
  });
}
