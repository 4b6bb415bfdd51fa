// The CLI's errors: its own usage errors, and how any error (the SDK's included) is shown to a
// person or as one JSON document. The HTTP side itself is the SDK's (@kubeff/client).
import { KubeffError, KubeffNetworkError, normalizeBaseUrl as sdkBaseUrl, type ErrorEnvelope } from '../../sdk/src/index.ts';

/** Wrong use of the CLI itself (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The base URL without a trailing slash or /api/v1, checked to be http(s); wrong values name --url. */
export function normalizeBaseUrl(raw: string): string {
  try {
    return sdkBaseUrl(raw);
  } catch (err) {
    throw new UsageError(`--url: ${(err instanceof Error ? err.message : String(err)).replace(/^baseUrl: /, '')}`);
  }
}

/** One line (or a few) explaining an error to a person. */
export function describeError(err: unknown): string {
  if (err instanceof KubeffError) {
    const e = err.envelope?.error;
    const parts = [`HTTP ${err.status}`];
    if (e?.code) parts.push(e.code);
    const line = `${parts.join(' ')}: ${err.message}`;
    const d = e?.details;
    const more: string[] = [];
    if (typeof d?.['field'] === 'string') more.push(`  field: ${d['field']}`);
    if (d?.['value'] !== undefined) more.push(`  value: ${JSON.stringify(d['value'])}`);
    const allowed = d?.['allowed'];
    if (Array.isArray(allowed)) more.push(`  allowed: ${allowed.map((a: unknown) => (typeof a === 'string' ? a : JSON.stringify(a))).join(', ')}`);
    if (typeof d?.['suggestion'] === 'string') more.push(`  suggestion: ${d['suggestion']}`);
    const errors = d?.['errors'];
    if (Array.isArray(errors) && errors.length > 1) {
      more.push(`  all problems:`);
      for (const x of errors as { message?: string; field?: string }[]) more.push(`    - ${x.field ?? ''}${x.field && !x.message?.startsWith(x.field) ? ': ' : ' '}${x.message ?? ''}`.replace(/ {2,}/g, ' '));
    }
    if (e?.request_id) more.push(`  request id: ${e.request_id}`);
    return [line, ...more].join('\n');
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The error as one JSON document for --json output: the API's envelope when there is one. */
export function errorJson(err: unknown): { status?: number; error: Partial<ErrorEnvelope['error']> } {
  if (err instanceof KubeffError) return { status: err.status, ...(err.envelope ?? { error: { type: 'http_error', code: `HTTP_${err.status}`, message: err.message } }) };
  if (err instanceof UsageError) return { error: { type: 'usage_error', code: 'USAGE', message: err.message } };
  if (err instanceof KubeffNetworkError) return { error: { type: 'network_error', code: 'UNREACHABLE', message: err.message } };
  return { error: { type: 'client_error', code: 'CLIENT_ERROR', message: err instanceof Error ? err.message : String(err) } };
}
