// Server-sent events for one job: every event carries `id:` (its sequence number), a client that
// reconnects with Last-Event-ID resumes without losing or repeating events, keep-alive comments
// hold idle connections open, and a finished job's stream replays its end and closes.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobEventBus } from '../../operator/src/bus.ts';
import type { StoredEvent, Store } from '../../operator/src/local/store.ts';
import { isTerminal } from '../../operator/src/phases.ts';
import { finalEventFor } from './final-event.ts';

/** Stored event types as SSE event names (the reference's: progress, complete, error). */
export function sseName(type: string): string | undefined {
  switch (type) {
    case 'progress':
    case 'complete':
    case 'error':
    case 'cancelled':
    case 'log':
      return type;
    case 'queued':
    case 'started':
    case 'retry':
    case 'requeued':
    case 'planned':
      return 'status';
    default:
      return undefined;
  }
}

const terminalTypes = new Set(['complete', 'error', 'cancelled']);

export function formatEvent(e: StoredEvent): string {
  const name = sseName(e.type) ?? e.type;
  return `id: ${e.seq}\nevent: ${name}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

export function lastEventId(req: FastifyRequest, query: { last_event_id?: number | undefined }): number {
  const h = req.headers['last-event-id'];
  const raw = (Array.isArray(h) ? h[0] : h) ?? (query.last_event_id !== undefined ? String(query.last_event_id) : undefined);
  const n = raw === undefined ? 0 : Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

export function streamJobEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: { store: Store; bus: JobEventBus; keepAliveMs: number },
  jobId: string,
  opts: { after: number; logs: boolean },
): void {
  const { store, bus } = deps;
  const wanted = (e: StoredEvent) => sseName(e.type) !== undefined && (opts.logs || e.type !== 'log');
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: 2000\n\n`);

  let sent = opts.after;
  let closed = false;
  const pending: StoredEvent[] = [];
  let replaying = true;

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    unsubscribe();
    res.end();
  };
  const send = (e: StoredEvent) => {
    if (closed || e.seq <= sent) return;
    sent = e.seq;
    if (!wanted(e)) return;
    res.write(formatEvent(e));
    if (terminalTypes.has(e.type)) close();
  };

  // Subscribe before replaying, so nothing published in between is lost; duplicates are dropped by seq.
  const unsubscribe = bus.subscribe(jobId, (e) => (replaying ? pending.push(e) : send(e)));
  const keepAlive = setInterval(() => {
    if (!closed) res.write(`: keep-alive ${new Date().toISOString()}\n\n`);
  }, deps.keepAliveMs);
  keepAlive.unref();
  req.raw.on('close', close);

  for (const e of store.events(jobId, opts.after)) send(e);
  replaying = false;
  for (const e of pending.splice(0)) send(e);

  if (!closed) {
    const job = store.getJob(jobId);
    if (job && isTerminal(job.status.phase)) {
      // Resumed past the end of a finished job: repeat its final event so the client stops waiting.
      // (Cluster mode: made from the status when the published one has not arrived.)
      const last = store.events(jobId, 0).filter((e) => terminalTypes.has(e.type)).pop() ?? finalEventFor(job);
      if (last) res.write(formatEvent(last));
      close();
    }
  }
}
