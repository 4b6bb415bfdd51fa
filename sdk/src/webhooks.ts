// Verifying a webhook delivery on the receiving side. kubeff signs every attempt per Standard
// Webhooks (gateway/src/webhooks/signing.ts): `webhook-signature: v1,<base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>">`, the timestamp in seconds, several space-separated
// signatures during a secret rotation. Web Crypto only, so it runs in browsers, workers and Node;
// crypto.subtle.verify compares the MAC in constant time.

import type { WebhookPayload } from './types.ts';

/** The JSON body of a delivery, as the document's `webhooks` describes it (generated types). */
export type { WebhookPayload };

export const webhookHeaders = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' } as const;

export type HeaderSource = Headers | Record<string, string | readonly string[] | undefined>;

export interface VerifyWebhookInput {
  /**
   * The signing secret (GET /admin/webhook-secret, or KUBEFF_WEBHOOK_SECRET): `whsec_<base64>`,
   * whose HMAC key is the decoded bytes, or a raw secret of 16 characters or more, used as UTF-8.
   */
  secret: string;
  /** The request's headers: a fetch Headers, or a Node request's `headers` object. */
  headers: HeaderSource;
  /** The body exactly as received, before any JSON parsing (re-serialized JSON would not match). */
  body: string | Uint8Array;
  /** Largest accepted distance between the timestamp and now, both ways (default 300 s): a captured delivery cannot be replayed later. */
  toleranceSeconds?: number | undefined;
  /** Now, in seconds (default the clock). */
  nowSeconds?: number | undefined;
}

/** Why a delivery was refused; thrown by parseWebhook. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

function header(h: HeaderSource, name: string): string | undefined {
  if (typeof Headers !== 'undefined' && h instanceof Headers) return h.get(name) ?? undefined;
  const rec = h as Record<string, string | readonly string[] | undefined>;
  const v = rec[name] ?? Object.entries(rec).find(([k]) => k.toLowerCase() === name)?.[1];
  return typeof v === 'string' ? v : v?.[0];
}

const encoder = new TextEncoder();

/** Base64 to bytes; undefined for anything that is not base64. */
function fromBase64(b64: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return undefined;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The HMAC key bytes of a secret; a malformed secret is the receiver's configuration error, so it throws. */
export function webhookSecretKey(secret: string): Uint8Array<ArrayBuffer> {
  if (secret.startsWith('whsec_')) {
    const key = fromBase64(secret.slice('whsec_'.length));
    if (!key) throw new TypeError('a whsec_ secret must be followed by base64');
    if (key.length < 16) throw new TypeError('a whsec_ secret must hold at least 16 bytes');
    return key;
  }
  if (secret.length < 16) throw new TypeError('a raw webhook secret must be at least 16 characters');
  return encoder.encode(secret);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Why the delivery is not authentic and fresh, or undefined when it is. */
async function refusal(i: VerifyWebhookInput): Promise<string | undefined> {
  const id = header(i.headers, webhookHeaders.id);
  const ts = header(i.headers, webhookHeaders.timestamp);
  const sig = header(i.headers, webhookHeaders.signature);
  if (!id || !ts || !sig) return `missing ${[!id && webhookHeaders.id, !ts && webhookHeaders.timestamp, !sig && webhookHeaders.signature].filter(Boolean).join(', ')} header`;
  if (!/^\d{1,12}$/.test(ts)) return `${webhookHeaders.timestamp} is not a number of seconds`;
  const now = i.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > (i.toleranceSeconds ?? 300)) return `${webhookHeaders.timestamp} is outside the tolerance (a replay, or a clock off)`;
  const key = await crypto.subtle.importKey('raw', webhookSecretKey(i.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const body = typeof i.body === 'string' ? encoder.encode(i.body) : i.body;
  const signed = concat(encoder.encode(`${id}.${ts}.`), body);
  for (const part of sig.split(' ')) {
    const comma = part.indexOf(',');
    if (comma === -1 || part.slice(0, comma) !== 'v1') continue;
    const given = fromBase64(part.slice(comma + 1));
    if (given && (await crypto.subtle.verify('HMAC', key, given, signed))) return undefined;
  }
  return 'no signature matches';
}

/**
 * Whether a delivery is authentic (signed with the secret) and fresh. Never throws on a hostile
 * request: anything malformed is simply not verified. Throws only for a malformed secret.
 */
export async function verifyWebhook(input: VerifyWebhookInput): Promise<boolean> {
  return (await refusal(input)) === undefined;
}

/** The verified delivery's payload; a WebhookVerificationError saying why when it is not authentic. */
export async function parseWebhook(input: VerifyWebhookInput): Promise<WebhookPayload> {
  const why = await refusal(input);
  if (why) throw new WebhookVerificationError(`webhook refused: ${why}`);
  const text = typeof input.body === 'string' ? input.body : new TextDecoder().decode(input.body);
  try {
    return JSON.parse(text) as WebhookPayload;
  } catch {
    throw new WebhookVerificationError('webhook refused: the signed body is not JSON');
  }
}
