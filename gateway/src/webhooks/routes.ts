// Webhook routes: a job's delivery log, redelivery of one delivery, and (admins only) the signing
// secret receivers need to verify deliveries. A job another key owns is "not found" (ownedJob).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { Deps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { ownedJob } from '../routes/jobs.ts';
import { ErrorResponse, WebhookPayloadRef, type WebhookPayload } from '../schemas.ts';
import type { AttemptRow, DeliveryRow } from './deliveries.ts';
import type { WebhookDispatcher } from './dispatcher.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const JobParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }) });
const DeliveryParams = Type.Object({
  id: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }),
  deliveryId: Type.String({ pattern: '^msg_[A-Za-z0-9-]{1,64}$' }),
});

const Attempt = Type.Object({
  attempt: Type.Integer(),
  started_at: Type.String(),
  duration_ms: Type.Integer(),
  status: Nullable(Type.Integer({ description: 'HTTP status of the answer; null when none came' })),
  error: Nullable(Type.String()),
  redelivery: Type.Boolean({ description: 'Asked for by a redeliver call' }),
});

export const DeliveryView = Type.Object({
  id: Type.String({ description: 'Also the webhook-id header of every attempt' }),
  event: Type.String(),
  url: Type.String(),
  state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  last_status: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  next_attempt_at: Nullable(Type.String()),
  created_at: Type.String(),
  delivered_at: Nullable(Type.String()),
  payload: WebhookPayloadRef,
  attempt_log: Type.Array(Attempt),
});

function attemptView(a: AttemptRow) {
  return { attempt: a.attempt, started_at: a.startedAt, duration_ms: a.durationMs, status: a.status ?? null, error: a.error ?? null, redelivery: a.redelivery };
}

function deliveryView(d: DeliveryRow, attempts: AttemptRow[]) {
  return {
    id: d.id,
    event: d.event,
    url: d.url,
    state: d.state,
    attempts: d.attempts,
    last_status: d.lastStatus ?? null,
    last_error: d.lastError ?? null,
    next_attempt_at: d.nextAttemptAt ?? null,
    created_at: d.createdAt,
    delivered_at: d.deliveredAt ?? null,
    payload: JSON.parse(d.payload) as WebhookPayload,
    attempt_log: attempts.map(attemptView),
  };
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 429: ErrorResponse };

function requireAdmin(req: FastifyRequest): void {
  if (req.principal?.scope !== 'admin') throw new ApiError(403, 'authorization_error', 'ACCESS_DENIED', 'this route needs an admin key', { field: 'X-API-Key' });
}

export function webhookRoutes(app: FastifyInstance, deps: Deps, dispatcher: WebhookDispatcher, secret: { value: string; source: 'env' | 'generated' }): void {
  const view = (d: DeliveryRow) => deliveryView(d, dispatcher.deliveries.attempts(d.id));

  app.get('/api/v1/jobs/:id/webhooks', {
    schema: {
      tags: ['webhooks'],
      summary: "The job's webhook deliveries with every attempt, in sending order",
      params: JobParams,
      querystring: Type.Object({
        page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
        per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ job_id: Type.String(), deliveries: Type.Array(DeliveryView), total: Type.Integer(), page: Type.Integer(), per_page: Type.Integer() }), ...errors },
    },
  }, async (req) => {
    const job = ownedJob(deps, req, (req.params as { id: string }).id);
    const q = req.query as { page?: number; per_page?: number };
    const page = q.page ?? 1;
    const perPage = q.per_page ?? 100;
    const { deliveries, total } = dispatcher.deliveries.listForJob(job.id, perPage, (page - 1) * perPage);
    return { job_id: job.id, deliveries: deliveries.map(view), total, page, per_page: perPage };
  });

  app.post('/api/v1/jobs/:id/webhooks/:deliveryId/redeliver', {
    schema: {
      tags: ['webhooks'],
      summary: 'Send a delivery again now (same webhook-id, fresh signature, fresh retry schedule)',
      params: DeliveryParams,
      response: { 202: Type.Object({ delivery: DeliveryView }), ...errors },
    },
  }, async (req, reply) => {
    const { id, deliveryId } = req.params as { id: string; deliveryId: string };
    const job = ownedJob(deps, req, id);
    const cur = dispatcher.deliveries.get(deliveryId);
    if (!cur || cur.jobId !== job.id) throw ApiError.notFound('Webhook delivery');
    if (dispatcher.isInFlight(deliveryId)) {
      throw new ApiError(409, 'conflict', 'DELIVERY_IN_PROGRESS', 'this delivery is being sent right now; ask again once the attempt is recorded', { field: 'deliveryId', value: deliveryId });
    }
    const d = dispatcher.deliveries.redeliver(deliveryId, req.principal?.keyId ?? 'unknown', new Date().toISOString());
    if (!d) throw ApiError.notFound('Webhook delivery');
    dispatcher.wake();
    req.log.info({ jobId: job.id, deliveryId, previousState: cur.state }, 'webhook redelivery queued');
    return reply.status(202).send({ delivery: view(d) });
  });

  app.get('/api/v1/admin/webhook-secret', {
    schema: {
      tags: ['admin'],
      summary: 'The secret that signs webhooks (Standard Webhooks), for receivers to verify them',
      response: {
        200: Type.Object({
          secret: Type.String(),
          format: Type.Union([Type.Literal('whsec'), Type.Literal('raw')], { description: 'whsec: HMAC key = base64-decoded part after whsec_; raw: HMAC key = the UTF-8 bytes' }),
          source: Type.Union([Type.Literal('env'), Type.Literal('generated')], { description: 'env: KUBEFF_WEBHOOK_SECRET; generated: created on first start and kept in the data directory' }),
        }),
        ...errors,
      },
    },
  }, async (req) => {
    requireAdmin(req);
    req.log.info({ keyId: req.principal?.keyId }, 'webhook secret read');
    return { secret: secret.value, format: secret.value.startsWith('whsec_') ? 'whsec' : 'raw', source: secret.source };
  });
}
