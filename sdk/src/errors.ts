// The SDK's errors. An answer with an error status is a KubeffError carrying the API's envelope
// (code, message, the offending field); no usable answer at all is a KubeffNetworkError. Both say
// whether trying again later may succeed, so callers can retry without parsing messages.
import type { ErrorEnvelope } from './types.ts';

/** Statuses that may succeed when the same request is sent again later. */
const retryableStatuses = new Set([408, 425, 429, 500, 502, 503, 504]);

/** The API answered with an error status. */
export class KubeffError extends Error {
  override readonly name = 'KubeffError';
  /** The HTTP status. */
  readonly status: number;
  /** The reference's envelope `{error: {type, code, message, details, doc_url, request_id}}`, when the answer had one. */
  readonly envelope: ErrorEnvelope | undefined;
  /**
   * Whether the same request may succeed later (rate limited, server busy or failing). For a job
   * submission, retry with the same `idempotencyKey` so a retry cannot create a second job.
   */
  readonly retryable: boolean;
  /** The server's Retry-After, in seconds, when it sent one. */
  readonly retryAfterSeconds: number | undefined;
  readonly method: string;
  readonly url: string;

  constructor(o: { status: number; envelope: ErrorEnvelope | undefined; fallbackMessage: string; method: string; url: string; retryAfterSeconds?: number | undefined }) {
    super(o.envelope?.error.message ?? o.fallbackMessage);
    this.status = o.status;
    this.envelope = o.envelope;
    this.retryable = retryableStatuses.has(o.status);
    this.retryAfterSeconds = o.retryAfterSeconds;
    this.method = o.method;
    this.url = o.url;
  }

  /** The API's error code, e.g. INVALID_INPUT, JOB_NOT_FOUND, QUOTA_EXCEEDED. */
  get code(): string | undefined {
    return this.envelope?.error.code;
  }
  /** The error's type, e.g. validation_error, not_found, rate_limit_error. */
  get type(): string | undefined {
    return this.envelope?.error.type;
  }
  get details(): Record<string, unknown> | undefined {
    return this.envelope?.error.details;
  }
  /** The request field at fault, e.g. output.video.codec. */
  get field(): string | undefined {
    const f = this.details?.['field'];
    return typeof f === 'string' ? f : undefined;
  }
  get requestId(): string | undefined {
    return this.envelope?.error.request_id;
  }
  get docUrl(): string | undefined {
    return this.envelope?.error.doc_url;
  }
}

export type NetworkFailure =
  /** The server could not be reached (refused, reset, DNS...). */
  | 'unreachable'
  /** No answer within the call's timeout. */
  | 'timeout'
  /** An event stream kept failing after its reconnection attempts. */
  | 'stream_lost'
  /** The answer was not what a kubeff server sends (not JSON, not an event stream). */
  | 'bad_response';

/** No usable answer: the request may or may not have reached the server. */
export class KubeffNetworkError extends Error {
  override readonly name = 'KubeffNetworkError';
  readonly reason: NetworkFailure;
  /** Whether trying again may help (all but a bad response). */
  readonly retryable: boolean;

  constructor(reason: NetworkFailure, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.retryable = reason !== 'bad_response';
  }
}

/**
 * Whether a parsed body is the API's error envelope. Only the message is required: a
 * Rendiff-compatible server, or a proxy in front of one, may leave out the other fields.
 */
export function isErrorEnvelope(v: unknown): v is ErrorEnvelope {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false;
  const e = (v as { error: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string';
}

/** fetch() reports network failures as "fetch failed" with the real reason in `cause`. */
export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  return err.message;
}
