// Client side of server-sent events, for `kubeff ... --wait`: a parser that follows the WHATWG
// rules (events may arrive split across any number of network chunks, even inside a UTF-8
// character or between the CR and LF of one line ending), and a follower that reconnects with
// Last-Event-ID after a dropped connection, so no event is lost or repeated. Standard library only.

export interface SseEvent {
  /** The stream's last event id when this event was dispatched ('' before any `id:` line). */
  id: string;
  /** The `event:` name; 'message' when none was given. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
}

export class SseParser {
  /**
   * The id of the last dispatched event; sent back as Last-Event-ID when reconnecting. An `id:`
   * line takes effect only once its event is complete: resuming after the id of an event that was
   * cut off by the drop would skip that event.
   */
  lastEventId: string;
  /** Reconnection delay the server asked for with `retry:`, if any. */
  retryMs: number | undefined;

  /** The `id:` of the event being received, committed to lastEventId at its blank line. */
  private idBuffer: string;

  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** The previous chunk ended in CR: an LF opening the next chunk belongs to that line ending. */
  private skipLf = false;
  private bomChecked = false;
  private eventType = '';
  private data: string[] = [];

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** Feeds raw bytes; a multi-byte character split across chunks is decoded once whole. */
  pushBytes(chunk: Uint8Array): SseEvent[] {
    return this.push(this.decoder.decode(chunk, { stream: true }));
  }

  /** Feeds text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    let s = text;
    if (!this.bomChecked && s.length > 0) {
      this.bomChecked = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    if (this.skipLf && s.startsWith('\n')) s = s.slice(1);
    if (s.length > 0) this.skipLf = false;
    this.buffer += s;

    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', start);
      const lf = this.buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      const line = this.buffer.slice(start, end);
      if (this.buffer[end] === '\r') {
        if (end + 1 < this.buffer.length) start = this.buffer[end + 1] === '\n' ? end + 2 : end + 1;
        else {
          // CR is the last character so far: its LF, if any, comes with the next chunk.
          start = end + 1;
          this.skipLf = true;
        }
      } else start = end + 1;
      const e = this.line(line);
      if (e) events.push(e);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /**
   * The connection ended: a partly received event is dropped (the spec's rule, and the reason a
   * resumed stream repeats it in full), and the decoder starts afresh for the next connection.
   */
  reset(): void {
    this.decoder.decode();
    this.buffer = '';
    this.skipLf = false;
    this.bomChecked = false;
    this.eventType = '';
    this.data = [];
    this.idBuffer = this.lastEventId;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined; // a comment: keep-alives
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        // An id with NUL is ignored by the spec (it could not be sent back in a header).
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    this.lastEventId = this.idBuffer;
    const type = this.eventType;
    const data = this.data;
    this.eventType = '';
    this.data = [];
    // A block with no data line (e.g. only `retry:`) is not an event, but its id still counts.
    if (data.length === 0) return undefined;
    return { id: this.lastEventId, event: type || 'message', data: data.join('\n') };
  }
}

/** An HTTP answer that reconnecting cannot fix (401, 404...): reported, not retried. */
export class StreamHttpError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    super(`HTTP ${status}`);
    this.name = 'StreamHttpError';
    this.status = status;
    this.body = body;
  }
}

export interface FollowOptions {
  url: string;
  headers: Record<string, string>;
  /** Called for every event, in order, exactly once each across reconnects. */
  onEvent: (e: SseEvent) => void;
  /** The event that ends following (the job finished). */
  isFinal: (e: SseEvent) => boolean;
  /** Resume after this id (e.g. from an earlier run). */
  lastEventId?: string;
  /** Attempts in a row without receiving an event before giving up (default 5). */
  maxRetries?: number;
  /** First reconnection delay unless the server sent `retry:` (default 1000 ms); doubles per failed attempt. */
  retryDelayMs?: number;
  /** Upper bound of one reconnection delay (default 10 s). */
  maxRetryDelayMs?: number;
  /** No byte for this long (keep-alives included) means a dead connection (default 60 s). */
  idleTimeoutMs?: number;
  onReconnect?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  signal?: AbortSignal;
}

/** Whether a failed HTTP status is worth another try. */
function transient(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Follows an event stream until an event `isFinal` accepts, reconnecting with Last-Event-ID when
 * the connection drops or the stream ends early. Resolves with the final event.
 */
export async function followEvents(o: FollowOptions): Promise<SseEvent> {
  const parser = new SseParser(o.lastEventId);
  const maxRetries = o.maxRetries ?? 5;
  const idleMs = o.idleTimeoutMs ?? 60_000;
  let failures = 0;

  for (;;) {
    o.signal?.throwIfAborted();
    const conn = new AbortController();
    const signal = o.signal ? AbortSignal.any([o.signal, conn.signal]) : conn.signal;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => conn.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
    };
    let reason: string;
    try {
      const headers: Record<string, string> = { ...o.headers, accept: 'text/event-stream', 'cache-control': 'no-cache' };
      if (parser.lastEventId) headers['last-event-id'] = parser.lastEventId;
      armIdle();
      const res = await fetch(o.url, { headers, signal });
      if (!res.ok) {
        const body = await res.text().catch(() => '');
        if (!transient(res.status)) throw new StreamHttpError(res.status, body);
        reason = `HTTP ${res.status}`;
      } else if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        throw new StreamHttpError(res.status, `expected text/event-stream, got ${res.headers.get('content-type') ?? 'no content type'}`);
      } else {
        const reader = res.body.getReader();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            armIdle();
            for (const e of parser.pushBytes(value)) {
              failures = 0; // progress was made: the retry budget is for attempts in a row
              o.onEvent(e);
              if (o.isFinal(e)) return e;
            }
          }
        } finally {
          // Stops the download (and the server's side of it) when we leave early.
          await reader.cancel().catch(() => undefined);
        }
        reason = 'the server closed the stream before the job finished';
      }
    } catch (err) {
      if (err instanceof StreamHttpError) throw err;
      if (o.signal?.aborted) throw o.signal.reason;
      const cause = conn.signal.aborted ? conn.signal.reason : err;
      reason = cause instanceof Error ? describeFetchError(cause) : String(cause);
    } finally {
      clearTimeout(idle);
    }
    parser.reset();
    failures++;
    if (failures > maxRetries) throw new Error(`lost the event stream after ${maxRetries} reconnection attempts: ${reason}`);
    const base = parser.retryMs ?? o.retryDelayMs ?? 1000;
    const delayMs = Math.min(base * 2 ** (failures - 1), o.maxRetryDelayMs ?? 10_000);
    o.onReconnect?.({ attempt: failures, delayMs, reason });
    await sleep(delayMs, o.signal);
  }
}

/** fetch() reports network failures as "fetch failed" with the real reason in `cause`. */
export function describeFetchError(err: Error): string {
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err.message;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
