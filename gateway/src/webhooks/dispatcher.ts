// The webhook dispatcher: turns stored job events into durable deliveries and sends them.
//
// - Every event on the bus whose job asked for a webhook (options.webhookUrl) and for this kind
//   of event becomes a row in webhook_deliveries at once (payload fixed then, id `msg_<uuid>` is
//   the `webhook-id` of every attempt, so receivers can de-duplicate).
// - A timer loop sends due rows: at-least-once, signed per attempt (fresh timestamp), 2xx =
//   delivered, anything else is retried on a backoff schedule until it runs out; a URL the SSRF
//   guard refuses is a final failure at once. Rows survive a restart: the loop reads the table.
// - One job's deliveries go out in order, one at a time; different jobs go in parallel (bounded).
// The decisions (which events, throttling, the next attempt) are small pure functions below.
import { randomUUID } from 'node:crypto';
import type { JobOptions } from '../../../crds/src/spec.ts';
import type { JobEventBus } from '../../../operator/src/bus.ts';
import type { StoredEvent, Store } from '../../../operator/src/local/store.ts';
import { DeliveryStore, type DeliveryRow, type DeliveryState } from './deliveries.ts';
import { sign } from './signing.ts';
import { postWebhook, type PostResult, type Resolver } from './url-guard.ts';
import type { WebhookPayload } from '../schemas.ts';

export type WebhookEvent = NonNullable<JobOptions['webhookEvents']>[number];

/** Stored event type -> webhook event name. Other stored types (log, retry, requeued) send nothing. */
const eventNames: Readonly<Record<string, WebhookEvent>> = {
  queued: 'queued',
  started: 'started',
  progress: 'progress',
  complete: 'complete',
  error: 'error',
  cancelled: 'cancelled',
};

export function webhookEventFor(storedType: string): WebhookEvent | undefined {
  return Object.hasOwn(eventNames, storedType) ? eventNames[storedType] : undefined;
}

/**
 * Events sent when a job gives no `webhook_events`: the changes of state the client did not cause
 * itself. `queued` is left out because the submitting call already answered it (201), `progress`
 * because it is many calls per job; both are one `webhook_events` entry away.
 */
export const defaultWebhookEvents: readonly WebhookEvent[] = ['started', 'complete', 'error', 'cancelled'];

export function wantedEvents(options: Pick<JobOptions, 'webhookEvents'>): readonly WebhookEvent[] {
  return options.webhookEvents ?? defaultWebhookEvents;
}

const terminal: ReadonlySet<WebhookEvent> = new Set(['complete', 'error', 'cancelled']);

/** Progress webhooks are at most one per `intervalMs` per job (the first of each window goes). */
export function progressAllowed(lastSentMs: number | undefined, nowMs: number, intervalMs: number): boolean {
  return lastSentMs === undefined || nowMs - lastSentMs >= intervalMs;
}

/** Delays after the 1st, 2nd, ... failed attempt; one attempt more than delays in all. */
export const defaultRetryDelaysMs: readonly number[] = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000];

/** What follows an attempt. `attemptsInRound` counts this one, since the start or the last redeliver. */
export function afterAttempt(result: PostResult, attemptsInRound: number, delaysMs: readonly number[], nowMs: number): { state: DeliveryState; nextAttemptAt: string | undefined } {
  if (result.kind === 'response' && result.status >= 200 && result.status < 300) return { state: 'delivered', nextAttemptAt: undefined };
  // A refused target stays refused: retrying cannot help and would only probe the network again.
  if (result.kind === 'refused') return { state: 'failed', nextAttemptAt: undefined };
  const delay = delaysMs[attemptsInRound - 1];
  if (delay === undefined) return { state: 'failed', nextAttemptAt: undefined };
  return { state: 'pending', nextAttemptAt: new Date(nowMs + delay).toISOString() };
}

/** The short description of a failed attempt kept in the log (status and the start of the body). */
export function describeFailure(result: PostResult): string | undefined {
  switch (result.kind) {
    case 'response': {
      if (result.status >= 200 && result.status < 300) return undefined;
      const snippet = result.body.replace(/\s+/g, ' ').trim().slice(0, 200);
      const redirect = result.status >= 300 && result.status < 400 ? ' (redirects are not followed)' : '';
      return `HTTP ${result.status}${redirect}${snippet ? `: ${snippet}` : ''}`;
    }
    case 'refused':
      return `refused: ${result.reason}`;
    case 'network_error':
      return result.reason;
  }
}

/** The log methods used (pino's and Fastify's loggers both fit). */
export interface WebhookLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DispatcherOptions {
  store: Store;
  /** The delivery tables (default: on the store's database). */
  deliveries?: DeliveryStore;
  bus: JobEventBus;
  log: WebhookLog;
  secret: string;
  allowPrivate: boolean;
  resolve?: Resolver;
  retryDelaysMs?: readonly number[];
  /** How often the loop looks for due deliveries (default 1 s). */
  tickMs?: number;
  /** Least time between two progress webhooks of one job (default 2 s). */
  progressIntervalMs?: number;
  /** Deadline of one attempt (default 10 s). */
  timeoutMs?: number;
  /** Most response bytes read per attempt (default 64 KiB). */
  maxResponseBytes?: number;
  /** Attempts in flight at once, over all jobs (default 8). */
  concurrency?: number;
  userAgent?: string;
}

interface Target {
  url: string;
  events: ReadonlySet<WebhookEvent>;
}

const sweepEveryMs = 10 * 60_000;
/** Jobs whose webhook settings are kept in memory; past it the cache starts over (specs never change). */
const maxCachedJobs = 10_000;

export class WebhookDispatcher {
  readonly deliveries: DeliveryStore;
  private readonly o: DispatcherOptions & Required<Pick<DispatcherOptions, 'retryDelaysMs' | 'tickMs' | 'progressIntervalMs' | 'timeoutMs' | 'maxResponseBytes' | 'concurrency' | 'userAgent'>>;
  /** Deliveries being sent now, with the abort handle used at shutdown. */
  private readonly inFlight = new Map<string, { jobId: string; abort: AbortController; done: Promise<void> }>();
  private readonly targets = new Map<string, Target | null>();
  private readonly lastProgress = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private wakeQueued = false;
  private lastSweep = Date.now();

  constructor(options: DispatcherOptions) {
    this.o = {
      retryDelaysMs: defaultRetryDelaysMs,
      tickMs: 1000,
      progressIntervalMs: 2000,
      timeoutMs: 10_000,
      maxResponseBytes: 64 * 1024,
      concurrency: 8,
      userAgent: 'kubeff-webhooks/0.1',
      ...options,
    };
    this.deliveries = options.deliveries ?? new DeliveryStore(options.store);
  }

  start(): void {
    this.unsubscribe = this.o.bus.subscribeAll((e) => this.onEvent(e));
    this.timer = setInterval(() => this.tick(), this.o.tickMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops the loop and aborts attempts in flight; their rows stay pending and go out on the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
    const running = [...this.inFlight.values()];
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done));
  }

  isInFlight(deliveryId: string): boolean {
    return this.inFlight.has(deliveryId);
  }

  /** Asks the loop to look now (a new or redelivered row) rather than at its next tick. */
  wake(): void {
    if (this.wakeQueued || this.stopped) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.tick();
    });
  }

  /** Called synchronously by the bus inside the runtime's emit: it must never throw there. */
  private onEvent(e: StoredEvent): void {
    try {
      const name = webhookEventFor(e.type);
      if (!name) return;
      const target = this.targetOf(e.jobId);
      if (terminal.has(name)) this.forget(e.jobId);
      if (!target || !target.events.has(name)) return;
      if (name === 'progress') {
        const now = Date.now();
        if (!progressAllowed(this.lastProgress.get(e.jobId), now, this.o.progressIntervalMs)) return;
        this.lastProgress.set(e.jobId, now);
      }
      const keep = new Set([...this.inFlight.keys()]);
      const superseded = this.deliveries.supersedeProgress(e.jobId, keep);
      const id = `msg_${randomUUID()}`;
      const body: WebhookPayload = { event: name, job_id: e.jobId, timestamp: e.time, data: e.data ?? {} };
      const payload = JSON.stringify(body);
      this.deliveries.insert({ id, jobId: e.jobId, event: name, url: target.url, payload, createdAt: new Date().toISOString() });
      this.o.log.debug({ jobId: e.jobId, deliveryId: id, event: name, superseded }, 'webhook queued');
      this.wake();
    } catch (err) {
      this.o.log.error({ err, jobId: e.jobId, eventType: e.type }, 'queueing a webhook failed');
    }
  }

  private targetOf(jobId: string): Target | null {
    const cached = this.targets.get(jobId);
    if (cached !== undefined) return cached;
    const job = this.o.store.getJob(jobId);
    const url = job?.spec.options.webhookUrl;
    const target = job && url ? { url, events: new Set(wantedEvents(job.spec.options)) } : null;
    if (this.targets.size >= maxCachedJobs) this.targets.clear();
    this.targets.set(jobId, target);
    return target;
  }

  private forget(jobId: string): void {
    this.targets.delete(jobId);
    this.lastProgress.delete(jobId);
  }

  /** One pass: starts as many due deliveries as there is room for. Bounded by `concurrency`. */
  private tick(): void {
    if (this.stopped) return;
    try {
      const room = this.o.concurrency - this.inFlight.size;
      if (room > 0) {
        const busyJobs = new Set([...this.inFlight.values()].map((r) => r.jobId));
        // Rows of a job already sending are skipped, so ask for some more than there is room for.
        for (const d of this.deliveries.due(new Date().toISOString(), room + busyJobs.size)) {
          if (this.inFlight.size >= this.o.concurrency) break;
          if (this.inFlight.has(d.id) || busyJobs.has(d.jobId)) continue;
          busyJobs.add(d.jobId);
          this.send(d);
        }
      }
      if (Date.now() - this.lastSweep > sweepEveryMs) {
        this.lastSweep = Date.now();
        const n = this.deliveries.sweepOrphans();
        if (n) this.o.log.info({ removed: n }, 'removed webhook attempt records of deleted jobs');
      }
    } catch (err) {
      this.o.log.error({ err }, 'webhook loop failed');
    }
  }

  private send(d: DeliveryRow): void {
    const abort = new AbortController();
    const done = this.attempt(d, abort.signal)
      .catch((err: unknown) => this.o.log.error({ err, jobId: d.jobId, deliveryId: d.id }, 'webhook attempt failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(d.id);
        // The job's next delivery may be waiting for this one.
        this.wake();
      });
    this.inFlight.set(d.id, { jobId: d.jobId, abort, done });
  }

  private async attempt(d: DeliveryRow, signal: AbortSignal): Promise<void> {
    const log = { jobId: d.jobId, deliveryId: d.id, event: d.event, attempt: d.attempts + 1 };
    const startedMs = Date.now();
    const timestamp = Math.floor(startedMs / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': this.o.userAgent,
      'webhook-id': d.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': sign(this.o.secret, d.id, timestamp, d.payload),
    };
    const result = await postWebhook(d.url, d.payload, headers, {
      allowPrivate: this.o.allowPrivate,
      ...(this.o.resolve ? { resolve: this.o.resolve } : {}),
      timeoutMs: this.o.timeoutMs,
      maxResponseBytes: this.o.maxResponseBytes,
      signal,
    });
    // Aborted by shutdown: not an attempt the receiver judged; the row stays as it was.
    if (signal.aborted) return;
    const nowMs = Date.now();
    const inRound = d.attempts + 1 - this.deliveries.roundStart(d.id);
    const outcome = afterAttempt(result, inRound, this.o.retryDelaysMs, nowMs);
    const status = result.kind === 'response' ? result.status : undefined;
    const error = describeFailure(result);
    this.deliveries.recordAttempt(d, { startedAt: new Date(startedMs).toISOString(), durationMs: nowMs - startedMs, status, error }, {
      ...outcome,
      deliveredAt: outcome.state === 'delivered' ? new Date(nowMs).toISOString() : undefined,
    });
    if (outcome.state === 'delivered') this.o.log.info({ ...log, status }, 'webhook delivered');
    else if (outcome.state === 'pending') this.o.log.warn({ ...log, status, error, nextAttemptAt: outcome.nextAttemptAt }, 'webhook attempt failed; will retry');
    else this.o.log.warn({ ...log, status, error }, 'webhook failed for good');
  }
}
