// Job routes: submit (convert, stream, analyze, batch), estimate, list, get, cancel, events, logs.
// Every request body goes through the one normalizer, so each form of the reference is accepted
// and each bad field is named; inputs are checked in storage before a job is accepted.
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { normalizeRequest, readBatchRequest, type RequestKind } from '../../../crds/src/normalize.ts';
import { SpecError } from '../../../crds/src/errors.ts';
import type { MediaJobSpec } from '../../../crds/src/spec.ts';
import { PhaseValues, type Phase } from '../../../crds/src/status.ts';
import type { JobRecord } from '../../../operator/src/local/store.ts';
import { isTerminal } from '../../../operator/src/phases.ts';
import { estimateJob } from '../../../worker-image/src/estimate.ts';
import { splitInputRefusal } from '../../../worker-image/src/plan/split.ts';
import type { MediaInfo } from '../../../worker-image/src/probe.ts';
import { JobFailure } from '../../../worker-image/src/failure.ts';
import { ApiError } from '../errors.ts';
import type { Deps } from '../deps.ts';
import { streamJobEvents, lastEventId } from '../sse.ts';
import { jobDetail, jobSummary } from '../views.ts';
import { assertWebhookUrl } from '../webhooks/url-guard.ts';
import { jobTraceContext } from '../tracing.ts';
import { ErrorResponse, EstimateResponse, JobDetail, JobList, jobRequestBody, JobSummaryResponse, BatchResponse, BatchRequestBody } from '../schemas.ts';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }) });

function principalOf(req: FastifyRequest) {
  if (!req.principal) throw new ApiError(401, 'authentication_error', 'UNAUTHORIZED', 'an API key is required');
  return req.principal;
}

/** A job another key owns is reported as not found: its existence is not disclosed. */
export function ownedJob(deps: Deps, req: FastifyRequest, id: string): JobRecord {
  const p = principalOf(req);
  const job = deps.store.getJob(id);
  if (!job || (p.scope !== 'admin' && job.owner !== p.keyId)) throw ApiError.notFound();
  return job;
}

/** Which request kind a batch item or estimate body is, from its fields. */
export function kindOf(body: unknown): RequestKind {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    if ('variants' in b || b['type'] === 'hls' || b['type'] === 'dash') return 'stream';
    if ('reference' in b || 'metrics' in b) return 'analyze';
  }
  return 'convert';
}

/** Prefixes the fields of a SpecError, e.g. for batch items (`jobs[3].output.path`). */
function prefixed(err: SpecError, prefix: string): SpecError {
  return new SpecError(err.issues.map((i) => ({ ...i, details: { ...i.details, field: `${prefix}.${i.details.field}` } })));
}

/**
 * Upload folders are private: a client key may read from or write to `/storage/uploads/` only
 * inside its own folder. The rest of storage is shared (operators put media there).
 */
function checkUploadFolders(spec: MediaJobSpec, principal: { keyId: string; scope: string }, prefix = ''): void {
  if (principal.scope === 'admin') return;
  const own = `/storage/uploads/${principal.keyId}/`;
  // The same rule in every bucket: s3://<bucket>/uploads/<key id>/ is the key's own folder there.
  const s3Uploads = /^s3:\/\/([^/]+)\/uploads(\/|$)/;
  const paths: [string | undefined, string][] = [
    [spec.input.path, 'input'],
    [spec.analyze?.reference, 'reference'],
    [spec.output?.path, 'output'],
    [spec.stream?.path, 'output'],
    [spec.analyze?.path, 'output'],
    ...spec.operations.map((o, i): [string | undefined, string] => [o.type === 'watermark' ? o.image : undefined, `operations[${i}].image`]),
  ];
  for (const [p, field] of paths) {
    if (p !== undefined && (p === '/storage/uploads' || p.startsWith('/storage/uploads/')) && !p.startsWith(own)) {
      throw new ApiError(403, 'authorization_error', 'ACCESS_DENIED', `${prefix}${field}: another key's upload folder; use ${own}`, { field: `${prefix}${field}`, value: p });
    }
    const m = p === undefined ? null : s3Uploads.exec(p);
    if (m && p !== undefined) {
      const ownS3 = `s3://${m[1]}/uploads/${principal.keyId}/`;
      if (!p.startsWith(ownS3)) throw new ApiError(403, 'authorization_error', 'ACCESS_DENIED', `${prefix}${field}: another key's upload folder; use ${ownS3}`, { field: `${prefix}${field}`, value: p });
    }
  }
}

/** Inputs must exist in storage (and resolve inside it) before a job is accepted. */
async function checkInputs(deps: Deps, spec: MediaJobSpec, prefix = ''): Promise<void> {
  // A storage refusal (JobFailure) is the client's: a 400 naming the field, with the given code.
  const check = async (run: () => Promise<unknown>, code: 'INVALID_INPUT' | 'INVALID_OUTPUT', field: string, value: string) => {
    try {
      await run();
    } catch (err) {
      if (err instanceof JobFailure) throw new ApiError(400, 'validation_error', code, `${prefix}${field}: ${err.message}`, { field: `${prefix}${field}`, value });
      throw err;
    }
  };
  const paths: [string, string][] = [[spec.input.path, 'input']];
  if (spec.analyze) paths.push([spec.analyze.reference, 'reference']);
  spec.operations.forEach((o, i) => {
    if (o.type === 'watermark') paths.push([o.image, `operations[${i}].image`]);
  });
  for (const [p, field] of paths) await check(() => deps.storage.input(p, field), 'INVALID_INPUT', field, p);
  // An explicit split needs a video stream to cut; "auto" quietly runs such a job as one FFmpeg.
  const parallelism = spec.options.parallelism;
  if (typeof parallelism === 'number' && parallelism > 1) {
    let info: MediaInfo | undefined;
    await check(async () => (info = await deps.storage.probe(spec.input.path, 'input', deps.tools)), 'INVALID_INPUT', 'input', spec.input.path);
    const why = info && splitInputRefusal(info);
    if (why) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', `${prefix}options.parallelism: cannot split this job: ${why}`, { field: `${prefix}options.parallelism`, value: parallelism });
  }
  // Outputs too: an S3 bucket no backend serves, or refused credentials, fail now, not after the encode.
  for (const out of [spec.output?.path, spec.stream?.path, spec.analyze?.path]) {
    if (out !== undefined) await check(() => deps.storage.checkOutput(out, 'output'), 'INVALID_OUTPUT', 'output', out);
  }
}

/**
 * The id of a job submitted with an Idempotency-Key in cluster mode: derived from the key and its
 * owner, so a retry that reaches another replica names the same MediaJob and cannot make a second.
 */
export function idempotentJobId(owner: string, key: string): string {
  const h = createHash('sha256').update(`${owner}\n${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function newJob(spec: MediaJobSpec, owner: string, batchId?: string, traceparent?: string, id: string = randomUUID()): JobRecord {
  const now = new Date().toISOString();
  return {
    traceparent,
    id,
    owner,
    spec,
    status: { phase: 'queued', stage: 'queued', progress: 0, queuedAt: now, attempts: 0 },
    priority: spec.options.priority,
    createdAt: now,
    updatedAt: now,
    batchId,
    notBefore: undefined,
  };
}

function checkQuota(deps: Deps, owner: string, adding: number): void {
  const active = deps.store.countActive(owner);
  const max = deps.config.limits.queuedJobs;
  if (active + adding > max) {
    throw new ApiError(429, 'rate_limit_error', 'QUOTA_EXCEEDED', `this key has ${active} unfinished jobs; at most ${max} may wait or run at once`, { field: 'jobs', value: active, allowed: [max] }, { 'retry-after': '30' });
  }
}

/**
 * Job bodies are documented by their schemas (crds/src/request.ts) but validated by the
 * normalizer, which names the exact field of every mistake and suggests a fix.
 */
const normalizerValidates = () => () => true;

const responses = <T extends Record<number, unknown>>(ok: T) => ({ ...ok, 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse });

export function jobRoutes(app: FastifyInstance, deps: Deps): void {
  const submit = (kind: RequestKind) => async (req: FastifyRequest) => {
    const p = principalOf(req);
    const spec = normalizeRequest(kind, req.body);
    // A webhook target on a private, loopback or link-local address is refused now, not at delivery.
    if (spec.options.webhookUrl) await assertWebhookUrl(deps.config, spec.options.webhookUrl, 'options.webhook_url');
    checkUploadFolders(spec, p);
    await checkInputs(deps, spec);
    checkQuota(deps, p.keyId, 1);
    const idem = deps.config.mode === 'cluster' ? req.idempotency : undefined;
    const job = newJob(spec, p.keyId, undefined, jobTraceContext(req), idem ? idempotentJobId(idem.owner, idem.key) : undefined);
    const accepted = (await deps.runtime.submit(job, idem ? { bodyHash: idem.bodyHash } : undefined)) ?? job;
    req.log.info({ jobId: accepted.id, type: spec.type, owner: p.keyId, replayed: accepted !== job }, 'job accepted');
    return { job: jobSummary(accepted) };
  };

  for (const kind of ['convert', 'stream', 'analyze'] as const) {
    app.post(`/api/v1/${kind}`, {
      schema: { tags: ['jobs'], summary: `Create a ${kind} job`, body: jobRequestBody(kind), response: responses({ 201: JobSummaryResponse }) },
      validatorCompiler: normalizerValidates,
    }, async (req, reply) => {
      const out = await submit(kind)(req);
      return reply.status(201).send(out);
    });
  }

  app.post('/api/v1/estimate', {
    schema: { tags: ['jobs'], summary: 'Estimate time, size and resources of a job without creating it', body: jobRequestBody('estimate'), response: responses({ 200: EstimateResponse }) },
    validatorCompiler: normalizerValidates,
  }, async (req) => {
    const p = principalOf(req);
    const spec = normalizeRequest(kindOf(req.body), req.body);
    checkUploadFolders(spec, p);
    await checkInputs(deps, spec);
    // Wherever the input is: a storage path, an S3 object (presigned), a URL (fetched under the SSRF policy).
    const info = await deps.storage.probe(spec.input.path, 'input', deps.tools).catch(toApiError);
    const reference = spec.analyze ? await deps.storage.probe(spec.analyze.reference, 'reference', deps.tools).catch(toApiError) : undefined;
    const estimate = estimateJob(spec, info, reference);
    return { ...estimate, input: { duration_seconds: info.durationSeconds, width: info.video?.width ?? null, height: info.video?.height ?? null, video_codec: info.video?.codec ?? null, audio_codec: info.audio?.codec ?? null } };
  });

  app.post('/api/v1/batch', {
    schema: {
      tags: ['jobs'],
      summary: 'Create up to 100 jobs at once',
      body: BatchRequestBody,
      response: responses({ 201: BatchResponse }),
    },
    validatorCompiler: normalizerValidates,
  }, async (req, reply) => {
    const p = principalOf(req);
    const body = readBatchRequest(req.body);
    const specs: MediaJobSpec[] = [];
    const issues: SpecError['issues'][number][] = [];
    body.jobs.forEach((item, i) => {
      try {
        specs.push(normalizeRequest(kindOf(item), item));
      } catch (err) {
        if (err instanceof SpecError) issues.push(...prefixed(err, `jobs[${i}]`).issues);
        else throw err;
      }
    });
    if (issues.length) throw new SpecError(issues);
    for (const [i, s] of specs.entries()) {
      if (s.options.webhookUrl) await assertWebhookUrl(deps.config, s.options.webhookUrl, `jobs[${i}].options.webhook_url`);
      checkUploadFolders(s, p, `jobs[${i}].`);
    }
    if (body.validateFiles) for (const [i, s] of specs.entries()) await checkInputs(deps, s, `jobs[${i}].`);
    checkQuota(deps, p.keyId, specs.length);
    const batchId = randomUUID();
    const createdAt = new Date().toISOString();
    deps.store.createBatch(batchId, p.keyId, body.name, createdAt);
    const trace = jobTraceContext(req);
    const jobs = specs.map((s) => newJob(s, p.keyId, batchId, trace));
    await Promise.all(jobs.map((j) => deps.runtime.submit(j)));
    req.log.info({ batchId, jobs: jobs.length, owner: p.keyId }, 'batch accepted');
    return reply.status(201).send({ batch: { ...batchView(deps, batchId), jobs: jobs.map(jobSummary) } });
  });

  const ownedBatch = (req: FastifyRequest, id: string) => {
    const p = principalOf(req);
    const b = deps.store.getBatch(id);
    if (!b || (p.scope !== 'admin' && b.owner !== p.keyId)) throw ApiError.notFound('Batch');
    return b;
  };

  app.get('/api/v1/batch/:id', { schema: { tags: ['jobs'], summary: 'A batch with its aggregate progress', params: IdParams, response: responses({ 200: BatchResponse }) } }, async (req) => {
    const { id } = req.params as { id: string };
    ownedBatch(req, id);
    const jobs = deps.store.listJobs({ batchId: id, limit: 100, offset: 0, sort: 'created_at', order: 'asc' }).jobs;
    return { batch: { ...batchView(deps, id), jobs: jobs.map(jobSummary) } };
  });

  app.delete('/api/v1/batch/:id', { schema: { tags: ['jobs'], summary: 'Cancel every unfinished job of a batch', params: IdParams, response: responses({ 200: BatchResponse }) } }, async (req) => {
    const { id } = req.params as { id: string };
    ownedBatch(req, id);
    const jobs = deps.store.listJobs({ batchId: id, limit: 100, offset: 0, sort: 'created_at', order: 'asc' }).jobs;
    for (const j of jobs) if (!isTerminal(j.status.phase)) await deps.runtime.cancel(j.id);
    const after = deps.store.listJobs({ batchId: id, limit: 100, offset: 0, sort: 'created_at', order: 'asc' }).jobs;
    return { batch: { ...batchView(deps, id), jobs: after.map(jobSummary) } };
  });

  app.get('/api/v1/jobs', {
    schema: {
      tags: ['jobs'],
      summary: 'List jobs',
      querystring: Type.Object({
        status: Type.Optional(Type.Union(PhaseValues.map((v) => Type.Literal(v)))),
        type: Type.Optional(Type.Union([Type.Literal('convert'), Type.Literal('stream'), Type.Literal('analyze')])),
        page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
        per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
        sort: Type.Optional(Type.String({ pattern: '^(created_at|updated_at|priority)(:(asc|desc))?$', default: 'created_at:desc' })),
      }, { additionalProperties: false }),
      response: responses({ 200: JobList }),
    },
  }, async (req) => {
    const p = principalOf(req);
    const q = req.query as { status?: Phase; type?: string; page?: number; per_page?: number; sort?: string };
    const page = q.page ?? 1;
    const perPage = q.per_page ?? 20;
    const [field, order] = (q.sort ?? 'created_at:desc').split(':') as ['created_at' | 'updated_at' | 'priority', 'asc' | 'desc' | undefined];
    const { jobs, total } = deps.store.listJobs({
      owner: p.scope === 'admin' ? undefined : p.keyId,
      phase: q.status,
      type: q.type,
      limit: perPage,
      offset: (page - 1) * perPage,
      sort: field,
      order: order ?? 'desc',
    });
    return { jobs: jobs.map(jobDetail), total, page, per_page: perPage, pages: Math.ceil(total / perPage) };
  });

  app.get('/api/v1/jobs/:id', { schema: { tags: ['jobs'], summary: 'A job with progress, outputs, metrics and error', params: IdParams, response: responses({ 200: JobDetail }) } }, async (req) => {
    return jobDetail(ownedJob(deps, req, (req.params as { id: string }).id));
  });

  app.delete('/api/v1/jobs/:id', { schema: { tags: ['jobs'], summary: 'Cancel a job (its FFmpeg process stops)', params: IdParams, response: responses({ 200: Type.Object({ job: JobDetail }) }) } }, async (req) => {
    const job = ownedJob(deps, req, (req.params as { id: string }).id);
    if (isTerminal(job.status.phase)) {
      throw new ApiError(409, 'conflict', 'JOB_ALREADY_FINISHED', `job is already ${job.status.phase}; a finished job cannot be cancelled`, { field: 'id', value: job.id });
    }
    const updated = (await deps.runtime.cancel(job.id)) ?? deps.store.getJob(job.id) ?? job;
    req.log.info({ jobId: job.id }, 'job cancelled');
    return { job: jobDetail(updated) };
  });

  app.get('/api/v1/jobs/:id/logs', {
    schema: {
      tags: ['jobs'],
      summary: "The job's last FFmpeg log lines",
      params: IdParams,
      querystring: Type.Object({ lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100 })) }, { additionalProperties: false }),
      response: responses({ 200: Type.Object({ job_id: Type.String(), lines: Type.Array(Type.String()), count: Type.Integer() }) }),
    },
  }, async (req) => {
    const job = ownedJob(deps, req, (req.params as { id: string }).id);
    const n = (req.query as { lines?: number }).lines ?? 100;
    const lines = deps.store.logLines(job.id, n).map((l) => l.line);
    return { job_id: job.id, lines, count: lines.length };
  });

  app.get('/api/v1/jobs/:id/events', {
    schema: {
      tags: ['jobs'],
      summary: 'Live progress as server-sent events (resume with Last-Event-ID)',
      params: IdParams,
      querystring: Type.Object({ last_event_id: Type.Optional(Type.Integer({ minimum: 0 })), logs: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      // Documentation only: streamJobEvents hijacks the reply, so no serializer runs for the 200.
      response: responses({
        200: {
          description: 'A text/event-stream: `id:` (resume with Last-Event-ID), `event:` (status, progress, log, complete, error, cancelled) and JSON `data:` lines, with keep-alive comments',
          // One event; SSE-aware tools (and OpenAPI 3.2's itemSchema) read the schema per event.
          content: {
            'text/event-stream': {
              schema: Type.Object({
                id: Type.String({ pattern: '^[0-9]+$', description: 'The event\'s sequence number: send it back as Last-Event-ID to resume' }),
                event: Type.String({ description: 'status, progress, log, complete, error or cancelled' }),
                data: Type.String({ contentMediaType: 'application/json', description: 'The event as JSON' }),
                retry: Type.Optional(Type.String({ pattern: '^[0-9]+$' })),
              }),
            },
          },
        },
      }),
    },
  }, async (req, reply) => {
    const job = ownedJob(deps, req, (req.params as { id: string }).id);
    const q = req.query as { last_event_id?: number; logs?: boolean };
    streamJobEvents(req, reply, { store: deps.store, bus: deps.bus, keepAliveMs: deps.config.sseKeepAliveMs }, job.id, { after: lastEventId(req, q), logs: q.logs === true });
  });
}

function toApiError(err: unknown): never {
  if (err instanceof JobFailure) throw new ApiError(400, 'validation_error', err.code === 'INVALID_INPUT' ? 'INVALID_INPUT' : String(err.code), err.message, { field: err.field ?? 'input' });
  throw err;
}

function batchView(deps: Deps, id: string) {
  const b = deps.store.getBatch(id);
  const jobs = deps.store.listJobs({ batchId: id, limit: 100, offset: 0, sort: 'created_at', order: 'asc' }).jobs;
  const counts: Record<Phase, number> = { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
  for (const j of jobs) counts[j.status.phase]++;
  const done = counts.completed + counts.failed + counts.cancelled;
  const status = done === jobs.length ? (counts.failed ? (counts.completed ? 'partially_failed' : 'failed') : counts.completed ? 'completed' : 'cancelled') : counts.processing || done ? 'processing' : 'queued';
  const progress = jobs.length ? jobs.reduce((s, j) => s + (isTerminal(j.status.phase) ? 100 : (j.status.progress ?? 0)), 0) / jobs.length : 0;
  return { id, name: b?.name ?? null, status, progress: Math.round(progress * 10) / 10, total: jobs.length, counts, created_at: b?.createdAt ?? '', links: { self: `/api/v1/batch/${id}` } };
}
