// The HTTP side of the CLI: one small client over native fetch that sends the key, decodes the
// API's error envelope into an error naming the field, and retries only what is safe to retry.
import { describeFetchError } from './sse.ts';

/** The reference's error envelope, as far as the CLI reads it. */
export interface ErrorEnvelope {
  error: {
    type?: string;
    code?: string;
    message?: string;
    details?: { field?: string; value?: unknown; allowed?: unknown[]; suggestion?: string; [k: string]: unknown };
    request_id?: string;
  };
}

/** Wrong use of the CLI itself (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The API answered with an error status (exit 2 unless a command decides otherwise). */
export class HttpError extends Error {
  readonly status: number;
  readonly envelope: ErrorEnvelope | undefined;
  constructor(status: number, envelope: ErrorEnvelope | undefined, fallback: string) {
    super(envelope?.error.message ?? fallback);
    this.name = 'HttpError';
    this.status = status;
    this.envelope = envelope;
  }
  get code(): string | undefined {
    return this.envelope?.error.code;
  }
  get field(): string | undefined {
    return this.envelope?.error.details?.field;
  }
}

/** The server could not be reached or did not answer in time (exit 2). */
export class NetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkError';
  }
}

export function isEnvelope(v: unknown): v is ErrorEnvelope {
  return typeof v === 'object' && v !== null && 'error' in v && typeof (v as { error: unknown }).error === 'object' && (v as { error: unknown }).error !== null;
}

export interface ClientOptions {
  /** Server root, e.g. http://localhost:8000 (a trailing /api/v1 is accepted too). */
  url: string;
  key: string | undefined;
  /** Per request, not for event streams (default 30 s). */
  timeoutMs?: number;
}

export interface Answer<T> {
  status: number;
  headers: Headers;
  body: T;
}

/** The base URL without a trailing slash or /api/v1, checked to be http(s). */
export function normalizeBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--url: '${raw}' is not a URL (e.g. http://localhost:8000)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url: must be http:// or https://, got '${u.protocol}'`);
  if (u.search || u.hash) throw new UsageError('--url: must not have a query or fragment');
  return u.toString().replace(/\/+$/, '').replace(/\/api\/v1$/, '');
}

/** Retry-After within this many seconds is the per-second rate limit: waiting it out is cheap and safe. */
const shortRetryAfterSeconds = 5;
const maxRateRetries = 3;

export class ApiClient {
  readonly baseUrl: string;
  readonly key: string | undefined;
  private readonly timeoutMs: number;

  constructor(o: ClientOptions) {
    this.baseUrl = normalizeBaseUrl(o.url);
    this.key = o.key;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** Full URL of an API path ("/jobs" -> http://host/api/v1/jobs). */
  url(path: string, query?: Record<string, string | number | undefined>): string {
    const u = new URL(`${this.baseUrl}/api/v1${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  authHeaders(): Record<string, string> {
    return this.key ? { 'x-api-key': this.key } : {};
  }

  async request<T>(method: string, path: string, o: { body?: unknown; query?: Record<string, string | number | undefined>; headers?: Record<string, string>; auth?: boolean } = {}): Promise<Answer<T>> {
    const url = this.url(path, o.query);
    const headers: Record<string, string> = { accept: 'application/json', ...(o.auth === false ? {} : this.authHeaders()), ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (err) {
        if (err instanceof Error && err.name === 'TimeoutError') throw new NetworkError(`${method} ${url}: no answer within ${this.timeoutMs / 1000} s`);
        throw new NetworkError(`cannot reach ${this.baseUrl}: ${err instanceof Error ? describeFetchError(err) : String(err)}`);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (res.ok) {
        if (parsed === undefined && text !== '') throw new NetworkError(`${method} ${url}: the answer is not JSON (is --url a kubeff server?)`);
        return { status: res.status, headers: res.headers, body: parsed as T };
      }
      // A 429 from the per-second limit is refused before the route runs, so even a POST can be
      // sent again; a longer Retry-After (hourly limit, job quota) is reported instead of waited on.
      const retryAfter = Number(res.headers.get('retry-after'));
      if (res.status === 429 && attempt < maxRateRetries && Number.isFinite(retryAfter) && retryAfter > 0 && retryAfter <= shortRetryAfterSeconds) {
        await new Promise((r) => setTimeout(r, retryAfter * 1000));
        continue;
      }
      const fallback = text && text.length < 300 && !text.trimStart().startsWith('<') ? `HTTP ${res.status}: ${text.trim()}` : `HTTP ${res.status} ${res.statusText}`;
      throw new HttpError(res.status, isEnvelope(parsed) ? parsed : undefined, fallback);
    }
  }

  get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>('GET', path, query ? { query } : {}).then((a) => a.body);
  }
}

/** One line (or a few) explaining an error to a person. */
export function describeError(err: unknown): string {
  if (err instanceof HttpError) {
    const e = err.envelope?.error;
    const parts = [`HTTP ${err.status}`];
    if (e?.code) parts.push(e.code);
    const line = `${parts.join(' ')}: ${err.message}`;
    const d = e?.details;
    const more: string[] = [];
    if (d?.field) more.push(`  field: ${d.field}`);
    if (d?.value !== undefined) more.push(`  value: ${JSON.stringify(d.value)}`);
    if (Array.isArray(d?.allowed)) more.push(`  allowed: ${d.allowed.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ')}`);
    if (d?.suggestion) more.push(`  suggestion: ${d.suggestion}`);
    if (Array.isArray(d?.['errors']) && d['errors'].length > 1) {
      more.push(`  all problems:`);
      for (const x of d['errors'] as { message?: string; field?: string }[]) more.push(`    - ${x.field ?? ''}${x.field && !x.message?.startsWith(x.field) ? ': ' : ' '}${x.message ?? ''}`.replace(/ {2,}/g, ' '));
    }
    if (e?.request_id) more.push(`  request id: ${e.request_id}`);
    return [line, ...more].join('\n');
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The error as one JSON document for --json output: the API's envelope when there is one. */
export function errorJson(err: unknown): ErrorEnvelope & { status?: number } {
  if (err instanceof HttpError) return { status: err.status, ...(err.envelope ?? { error: { type: 'http_error', code: `HTTP_${err.status}`, message: err.message } }) };
  if (err instanceof UsageError) return { error: { type: 'usage_error', code: 'USAGE', message: err.message } };
  if (err instanceof NetworkError) return { error: { type: 'network_error', code: 'UNREACHABLE', message: err.message } };
  return { error: { type: 'client_error', code: 'CLIENT_ERROR', message: err instanceof Error ? err.message : String(err) } };
}
