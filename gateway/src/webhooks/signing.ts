// Standard Webhooks signatures (https://www.standardwebhooks.com): the receiver checks
// `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` with
// the shared secret, and refuses stale timestamps so a captured delivery cannot be replayed later.
// Pure functions: no clock or I/O unless a caller passes them in.
//
// Secret format (both accepted everywhere in kubeff):
// - `whsec_<base64>`: the Standard Webhooks form. The HMAC key is the base64-DECODED bytes, which
//   is what the Standard Webhooks libraries (and Svix) do, so a receiver can use them unchanged.
//   kubeff generates secrets in this form.
// - anything else is a raw secret: the HMAC key is its UTF-8 bytes, as a hand-written receiver
//   doing `hmac(secret, ...)` expects. (Standard Webhooks libraries base64-decode an unprefixed
//   secret, so give them the `whsec_` form.)
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const prefix = 'whsec_';

/** The HMAC key of a secret in either format (see the file comment). */
export function secretKey(secret: string): Buffer {
  if (secret.startsWith(prefix)) {
    const b64 = secret.slice(prefix.length);
    // Buffer.from(..., 'base64') silently skips bad characters; a mistyped secret must fail loudly.
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('a whsec_ secret must be followed by base64');
    const key = Buffer.from(b64, 'base64');
    if (key.length < 16) throw new Error('a whsec_ secret must hold at least 16 bytes');
    return key;
  }
  if (secret.length < 16) throw new Error('a raw webhook secret must be at least 16 characters');
  return Buffer.from(secret, 'utf8');
}

/** A new secret: 32 random bytes in the Standard Webhooks form. */
export function generateSecret(): string {
  return `${prefix}${randomBytes(32).toString('base64')}`;
}

/** `v1,<base64 signature>` of one delivery attempt. `timestamp` is in whole seconds. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secretKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface VerifyOptions {
  /** Largest accepted distance between the timestamp and now, both ways (default 5 minutes). */
  toleranceSeconds?: number;
  /** Now in seconds (default the clock); tests pass a fixed value. */
  nowSeconds?: number;
}

/**
 * Whether a delivery is authentic and fresh. `signatureHeader` may list several space-separated
 * signatures (secret rotation); one matching `v1` signature is enough. Never throws on hostile
 * input: anything malformed is simply not verified.
 */
export function verify(secret: string, id: string, timestampHeader: string, body: string, signatureHeader: string, opts: VerifyOptions = {}): boolean {
  const tolerance = opts.toleranceSeconds ?? 300;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (!/^\d{1,12}$/.test(timestampHeader)) return false;
  const ts = Number(timestampHeader);
  if (Math.abs(now - ts) > tolerance) return false;
  const expected = Buffer.from(sign(secret, id, ts, body).slice(3), 'base64');
  for (const part of signatureHeader.split(' ')) {
    const [version, value] = part.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    // Constant-time comparison: a byte-by-byte early exit would leak how much of a guess matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return false;
}
