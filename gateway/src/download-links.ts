// Signed download links: a URL that lets whoever holds it read one storage path, as one API key,
// until a given second. Made for the browser's <video src>, which cannot send an X-API-Key header
// yet must fetch byte ranges itself. Pure functions: no clock, secret store or I/O; callers pass
// them in.
//
// The signature is HMAC-SHA256, keyed by a key derived from the server's link secret, over a
// canonical string holding the version and every claim. It binds:
// - the key id, so the link acts as that key (its read rights, its rate limit, its revocation);
// - the key's stored hash, so rotating a key ends its links along with its old secret;
// - the path, exactly as the download route will read it;
// - the expiry, so it cannot be extended.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const LinkVersion = 'v1';

/** Lifetimes a link may be given, in seconds. */
export const LinkLifetime = { min: 10, default: 900, max: 86_400 } as const;

/** Clocks of replicas differ a little: an expiry this far past the longest lifetime is still believed. */
const clockSkewSeconds = 300;

/**
 * The HMAC key of links, derived from the link secret under its own label: the secret itself never
 * keys a MAC, so a secret reused for something else cannot be made to sign links, and a future
 * format gets a new label, not a new secret.
 */
export function linkKey(secret: string): Buffer {
  return createHmac('sha256', secret).update(`kubeff download links ${LinkVersion}`).digest();
}

export interface LinkClaims {
  /** The API key the link acts as. */
  keyId: string;
  /** That key's stored hash (auth.ts hashKey) when the link was made. */
  credential: string;
  /** A storage path, already in the form the download route checks (/storage/... or s3://...). */
  path: string;
  /** Unix seconds; the link works strictly before this second. */
  expires: number;
}

/**
 * The signed text: a domain label, the version and the claims as a JSON array. JSON's quoting
 * keeps every boundary where it is, whatever characters a path or id holds.
 */
export function canonical(c: LinkClaims): string {
  return JSON.stringify(['kubeff download link', LinkVersion, c.keyId, c.credential, c.path, c.expires]);
}

/** The link's signature, base64url without padding (43 characters). */
export function signLink(key: Buffer, c: LinkClaims): string {
  return createHmac('sha256', key).update(canonical(c)).digest('base64url');
}

/** A link's parts as they arrived in a URL, unchecked. */
export interface PresentedLink {
  keyId: string;
  path: string;
  expires: string;
  signature: string;
}

export type LinkVerdict = { ok: true; expires: number } | { ok: false; field: 'expires' | 'signature'; reason: string };

/**
 * Whether a presented link is authentic and still valid at `nowSeconds`. `credential` is the
 * named key's current hash, undefined when no usable key has that id (the answer is then the same
 * as for a wrong signature, so a link tells nothing about which key ids exist). Never throws on
 * hostile input.
 */
export function verifyLink(key: Buffer, link: PresentedLink, credential: string | undefined, nowSeconds: number): LinkVerdict {
  if (!/^[1-9]\d{0,11}$/.test(link.expires)) return { ok: false, field: 'expires', reason: 'must be a time in whole seconds since 1970' };
  if (!/^[A-Za-z0-9_-]{43}$/.test(link.signature)) return { ok: false, field: 'signature', reason: 'is malformed' };
  const expires = Number(link.expires);
  const expected = Buffer.from(signLink(key, { keyId: link.keyId, credential: credential ?? '', path: link.path, expires }), 'base64url');
  const given = Buffer.from(link.signature, 'base64url');
  // Constant time: an early exit at the first wrong byte would tell a forger how much was right.
  const authentic = given.length === expected.length && timingSafeEqual(given, expected);
  if (!authentic || credential === undefined) return { ok: false, field: 'signature', reason: 'does not match this link' };
  if (nowSeconds >= expires) return { ok: false, field: 'expires', reason: `the link expired at ${new Date(expires * 1000).toISOString()}` };
  if (expires > nowSeconds + LinkLifetime.max + clockSkewSeconds) return { ok: false, field: 'expires', reason: 'is further ahead than any link is made for' };
  return { ok: true, expires };
}
