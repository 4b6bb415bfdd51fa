// The HTTP layer every call goes through: the base URL, the key, the caller's fetch, a timeout and
// the caller's AbortSignal per call, the API's error envelope turned into a KubeffError, and the
// one retry that is always safe: a 429 from the per-second rate limit, which the server answers
// before the route runs.
import { describeFetchError, isErrorEnvelope, KubeffError, KubeffNetworkError } from './errors.ts';
import { anySignal, CallTimeout, Deadline, sleep } from './signals.ts';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** The server, e.g. http://localhost:8000 (a trailing /api/v1 is accepted too). */
  baseUrl: string;
  /** Sent as X-API-Key. */
  apiKey?: string | undefined;
  /** A fetch to use instead of the global one (a proxy agent, a test double, a framework's fetch). */
  fetch?: FetchLike | undefined;
  /**
   * Per call, until the whole answer is read (default 30 s; 0: none). Event streams have their
   * own idle timeout instead; uploads and downloads have none unless a call gives one.
   */
  timeoutMs?: number | undefined;
  /** Sent with every request (e.g. a tracing header). */
  headers?: Record<string, string> | undefined;
  /**
   * How often a 429 of the per-second rate limit (Retry-After of at most maxRetryAfterSeconds) is
   * waited out and sent again (default 3; 0: never). Longer limits (hourly, the job quota) are
   * reported at once as a retryable KubeffError with retryAfterSeconds.
   */
  rateLimitRetries?: number | undefined;
  maxRetryAfterSeconds?: number | undefined;
}

/** What every call accepts. */
export interface CallOptions {
  /** Aborts the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** This call's timeout in ms, instead of the client's (0: none). */
  timeoutMs?: number | undefined;
  headers?: Record<string, string> | undefined;
  /** Sees the answer's status and headers (rate-limit headers, Location) before its body is read. */
  onResponse?: ((response: { status: number; headers: Headers }) => void) | undefined;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** What fetch takes as a body (BodyInit, which Node's types do not name globally). */
export type RequestBodyInit = NonNullable<RequestInit['body']>;

export interface SendOptions extends CallOptions {
  query?: Query | undefined;
  /** A JSON body. */
  json?: unknown;
  /** A raw body (uploads). */
  body?: RequestBodyInit | undefined;
  /** Whether `body` can be sent twice (not a stream): only then is a 429 retried. */
  replayable?: boolean | undefined;
  /** The default timeout when the call gives none: the client's, or none for streamed transfers. */
  defaultTimeout?: 'client' | 'none' | undefined;
}

/** The base URL without a trailing slash or /api/v1; only http(s). */
export function normalizeBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TypeError(`baseUrl: '${raw}' is not a URL (e.g. http://localhost:8000)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`baseUrl: must be http:// or https://, got '${u.protocol}'`);
  if (u.search || u.hash) throw new TypeError('baseUrl: must not have a query or fragment');
  return u.toString().replace(/\/+$/, '').replace(/\/api\/v1$/, '');
}

/** A path segment, encoded: ids come from callers and must not change the route. */
export const seg = (s: string): string => encodeURIComponent(s);

export class Transport {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  private readonly fetchFn: FetchLike;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly rateLimitRetries: number;
  private readonly maxRetryAfterSeconds: number;

  constructor(o: ClientOptions) {
    this.baseUrl = normalizeBaseUrl(o.baseUrl);
    this.apiKey = o.apiKey;
    const f = o.fetch;
    // Called through a closure: a browser's fetch must not be called as a method of another object.
    this.fetchFn = f ? (input, init) => f(input, init) : (input, init) => fetch(input, init);
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.headers = { ...o.headers };
    this.rateLimitRetries = o.rateLimitRetries ?? 3;
    this.maxRetryAfterSeconds = o.maxRetryAfterSeconds ?? 5;
  }

  get fetch(): FetchLike {
    return this.fetchFn;
  }

  /** Full URL of an API path ("/jobs" -> http://host/api/v1/jobs). */
  url(path: string, query?: Query): string {
    const u = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** The headers every request carries: the client's own and the key. */
  baseHeaders(): Record<string, string> {
    return { ...this.headers, ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}) };
  }

  /**
   * Sends a request and returns the answer once its headers are in, an error status already
   * turned into a KubeffError. The deadline must be cleared when the body has been read (or given
   * up): it is the call's timeout, still running.
   */
  async send(method: string, path: string, o: SendOptions = {}): Promise<{ response: Response; deadline: Deadline; url: string }> {
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { accept: 'application/json', ...this.baseHeaders(), ...o.headers };
    let body: RequestBodyInit | undefined = o.body;
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(o.json);
    }
    const timeoutMs = o.timeoutMs ?? (o.defaultTimeout === 'none' ? 0 : this.timeoutMs);
    const replayable = o.replayable ?? true;

    for (let attempt = 0; ; attempt++) {
      const deadline = new Deadline(timeoutMs);
      const signal = anySignal([o.signal, deadline.signal]);
      const init: RequestInit & { duplex?: 'half' } = { method, headers, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) };
      // A streamed body must say so (fetch's rule); harmless for the others.
      if (body instanceof ReadableStream) init.duplex = 'half';
      let response: Response;
      try {
        response = await this.fetchFn(url, init);
      } catch (err) {
        deadline.clear();
        throw this.failure(err, method, url, o.signal, deadline);
      }
      o.onResponse?.({ status: response.status, headers: response.headers });
      if (response.ok) return { response, deadline, url };

      const text = await response.text().catch(() => '');
      deadline.clear();
      const retryAfter = Number(response.headers.get('retry-after'));
      const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
      if (response.status === 429 && replayable && attempt < this.rateLimitRetries && retryAfterSeconds !== undefined && retryAfterSeconds <= this.maxRetryAfterSeconds) {
        await sleep(retryAfterSeconds * 1000, o.signal);
        continue;
      }
      throw errorFromAnswer(response.status, response.statusText, text, method, url, retryAfterSeconds);
    }
  }

  /** A JSON call: the parsed body of a successful answer. */
  async json<T>(method: string, path: string, o: SendOptions = {}): Promise<T> {
    const { response, deadline, url } = await this.send(method, path, o);
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw this.failure(err, method, url, o.signal, deadline);
    } finally {
      deadline.clear();
    }
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KubeffNetworkError('bad_response', `${method} ${url}: the answer is not JSON (is ${this.baseUrl} a kubeff server?)`);
    }
  }

  /** A fetch failure as the caller's abort (rethrown as is), a timeout, or an unreachable server. */
  failure(err: unknown, method: string, url: string, callerSignal: AbortSignal | undefined, deadline: Deadline | undefined): unknown {
    if (callerSignal?.aborted) return callerSignal.reason;
    if (deadline?.expired || err instanceof CallTimeout) {
      const ms = err instanceof CallTimeout ? err.ms : (deadline?.ms ?? 0);
      return new KubeffNetworkError('timeout', `${method} ${url}: no answer within ${ms / 1000} s`, { cause: err });
    }
    return new KubeffNetworkError('unreachable', `cannot reach ${this.baseUrl}: ${describeFetchError(err)}`, { cause: err });
  }
}

/** An error status as a KubeffError: the API's envelope when the body is one, else the body's start. */
export function errorFromAnswer(status: number, statusText: string, text: string, method: string, url: string, retryAfterSeconds?: number): KubeffError {
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const fallbackMessage = text && text.length < 300 && !text.trimStart().startsWith('<') ? `HTTP ${status}: ${text.trim()}` : `HTTP ${status} ${statusText}`.trim();
  return new KubeffError({ status, envelope: isErrorEnvelope(parsed) ? parsed : undefined, fallbackMessage, method, url, retryAfterSeconds });
}
