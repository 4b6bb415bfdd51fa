// A job's live events (GET /jobs/{id}/events) as an async iterator: status changes, progress,
// optionally log lines, and one final event (complete, error or cancelled), after which the
// iteration ends. Dropped connections are resumed with Last-Event-ID (event-stream.ts).
import { followEventStream, type ReconnectOptions } from './event-stream.ts';
import { seg, type Transport } from './transport.ts';

/** The events this server sends; an unknown name from another version is passed on as it is. */
export type JobEventName = 'status' | 'progress' | 'log' | 'complete' | 'error' | 'cancelled';

/** Events after which a job changes no more. */
export const finalEvents: ReadonlySet<string> = new Set<JobEventName>(['complete', 'error', 'cancelled']);

export interface JobEvent {
  /** The event's sequence number within the job, as sent in `id:` (resume after it with lastEventId). */
  id: string;
  event: JobEventName | (string & {});
  /**
   * The event's JSON data: for progress {percentage, stage, fps, speed, eta_seconds}; for status
   * {status, attempt?, reason?}; for the final events the job's outcome. Its shape is not part of
   * the OpenAPI document (an event stream is one string there), so it is not typed further.
   */
  data: Record<string, unknown>;
  /** The data as sent. */
  raw: string;
  /** Whether this is the job's last event (complete, error, cancelled). */
  final: boolean;
}

export interface EventsOptions extends Omit<ReconnectOptions, 'lastEventId'> {
  /** Resume after this event id. */
  lastEventId?: string | number | undefined;
  /** Also FFmpeg's log lines, as `log` events. */
  logs?: boolean | undefined;
}

function parseData(raw: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return {};
  }
}

export async function* jobEvents(t: Transport, jobId: string, o: EventsOptions = {}): AsyncGenerator<JobEvent, void, undefined> {
  const stream = followEventStream({
    ...o,
    lastEventId: o.lastEventId === undefined ? undefined : String(o.lastEventId),
    url: t.url(`/jobs/${seg(jobId)}/events`, o.logs ? { logs: true } : undefined),
    headers: t.baseHeaders(),
    fetch: t.fetch,
  });
  for await (const e of stream) {
    const final = finalEvents.has(e.event);
    yield { id: e.id, event: e.event, data: parseData(e.data), raw: e.data, final };
    if (final) return;
  }
}
