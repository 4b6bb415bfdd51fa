// Follows a server-sent event stream across dropped connections: each reconnection sends the id
// of the last complete event as Last-Event-ID, so the server resumes right after it and no event
// is lost or repeated. Reconnections are bounded (attempts in a row that bring no event), delays
// grow, and a connection that stays silent past the idle timeout counts as dropped (the server
// sends keep-alive comments, so silence means a dead connection, not an idle job).
import { describeFetchError, KubeffError, KubeffNetworkError } from './errors.ts';
import { anySignal, sleep } from './signals.ts';
import { SseParser, type SseEvent } from './sse-parser.ts';
import { errorFromAnswer, type FetchLike } from './transport.ts';

export interface ReconnectInfo {
  /** 1 for the first reconnection after events last arrived. */
  attempt: number;
  delayMs: number;
  /** Why the connection was given up, e.g. "HTTP 503", "no data for 60000 ms". */
  reason: string;
}

export interface ReconnectOptions {
  /** Resume after this event id (e.g. one kept from an earlier run). */
  lastEventId?: string | undefined;
  /** Attempts in a row without receiving an event before giving up (default 5). */
  maxRetries?: number | undefined;
  /** First reconnection delay unless the server sent `retry:` (default 1000 ms); doubles per failed attempt. */
  retryDelayMs?: number | undefined;
  /** Upper bound of one reconnection delay (default 10 s). */
  maxRetryDelayMs?: number | undefined;
  /** No byte for this long (keep-alives included) means a dead connection (default 60 s). */
  idleTimeoutMs?: number | undefined;
  onReconnect?: ((info: ReconnectInfo) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface EventStreamOptions extends ReconnectOptions {
  url: string;
  headers: Record<string, string>;
  fetch: FetchLike;
}

/** Whether a failed HTTP status is worth another try. */
function transient(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The stream's events, in order, each exactly once across reconnections. Runs until the consumer
 * stops (break or return: the connection is closed), the signal aborts (rejects with its reason),
 * an answer that retrying cannot change arrives (KubeffError: 401, 404...), or the reconnection
 * attempts run out (KubeffNetworkError 'stream_lost').
 */
export async function* followEventStream(o: EventStreamOptions): AsyncGenerator<SseEvent, void, undefined> {
  const parser = new SseParser(o.lastEventId);
  const maxRetries = o.maxRetries ?? 5;
  const idleMs = o.idleTimeoutMs ?? 60_000;
  let failures = 0;

  for (;;) {
    o.signal?.throwIfAborted();
    const conn = new AbortController();
    const signal = anySignal([o.signal, conn.signal]) ?? conn.signal;
    let idle: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => conn.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
    };
    let reason: string;
    try {
      const headers: Record<string, string> = { ...o.headers, accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (parser.lastEventId) headers['last-event-id'] = parser.lastEventId;
      armIdle();
      const res = await o.fetch(o.url, { headers, signal });
      if (!res.ok) {
        const body = await res.text().catch(() => '');
        if (!transient(res.status)) throw errorFromAnswer(res.status, res.statusText, body, 'GET', o.url);
        reason = `HTTP ${res.status}`;
      } else if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        await res.body?.cancel().catch(() => undefined);
        throw new KubeffNetworkError('bad_response', `GET ${o.url}: expected text/event-stream, got ${res.headers.get('content-type') ?? 'no content type'}`);
      } else {
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            armIdle();
            for (const e of parser.pushBytes(value)) {
              failures = 0; // progress was made: the retry budget is for attempts in a row
              // While the consumer holds an event, the connection may sit unread: no idle timeout then.
              clearTimeout(idle);
              yield e;
              armIdle();
            }
          }
        } finally {
          // Stops the download (and the server's side of it) when we leave early.
          clearTimeout(idle);
          await reader.cancel().catch(() => undefined);
        }
        // The consumer stops at a job's final event, so a stream that ends under it ended early.
        reason = 'the server closed the stream before the job finished';
      }
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (!conn.signal.aborted && (err instanceof KubeffNetworkError || err instanceof KubeffError)) throw err;
      const cause: unknown = conn.signal.aborted ? conn.signal.reason : err;
      reason = describeFetchError(cause);
    } finally {
      clearTimeout(idle);
    }
    parser.reset();
    failures++;
    if (failures > maxRetries) throw new KubeffNetworkError('stream_lost', `lost the event stream after ${maxRetries} reconnection attempts: ${reason}`);
    const base = parser.retryMs ?? o.retryDelayMs ?? 1000;
    const delayMs = Math.min(base * 2 ** (failures - 1), o.maxRetryDelayMs ?? 10_000);
    o.onReconnect?.({ attempt: failures, delayMs, reason });
    await sleep(delayMs, o.signal);
  }
}
