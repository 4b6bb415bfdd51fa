// Authentication by a signed download link (download-links.ts) instead of an API key. It applies
// to one thing only: GET or HEAD of /api/v1/files carrying `signature` and no key. Such a request
// then acts as the link's key, so the key's read rights (mayRead) and rate limit still apply, and
// a revoked or rotated key's links stop working at once. Anything else carrying a signature is
// authenticated as usual, by its key, and the signature grants nothing.
import type { FastifyRequest } from 'fastify';
import { presentedKey, type Principal } from './auth.ts';
import type { Deps } from './deps.ts';
import { verifyLink } from './download-links.ts';
import { ApiError } from './errors.ts';

/** The download route, as Fastify names the matched route. */
const filesRoute = '/api/v1/files';

/** Whether a request asks to be authenticated by a link: the download route, a signature, no key. */
export function isLinkRequest(req: FastifyRequest): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.routeOptions.url !== filesRoute) return false;
  if (presentedKey(req) !== undefined) return false;
  return (req.query as Record<string, unknown> | undefined)?.['signature'] !== undefined;
}

function refused(field: string, reason: string, code = 'INVALID_SIGNATURE', value?: string): ApiError {
  return new ApiError(401, 'authentication_error', code, `${field}: ${reason}`, { field, ...(value !== undefined ? { value } : {}) }, { 'www-authenticate': 'Bearer realm="kubeff"' });
}

/** The key a link acts as, or a 401 naming the part of the link that failed. */
export function linkPrincipal(deps: Deps, req: FastifyRequest, nowSeconds = Math.floor(Date.now() / 1000)): Principal {
  const q = (req.query ?? {}) as Record<string, unknown>;
  // A repeated parameter arrives as an array: which copy would count is ambiguous, so none does.
  const one = (name: string): string => {
    const v = q[name];
    if (typeof v !== 'string') throw refused(name, v === undefined ? 'is required with signature' : 'must be given once');
    return v;
  };
  const signature = one('signature');
  const expires = one('expires');
  const keyId = one('key');
  const path = one('path');
  const rec = keyId.length <= 64 ? deps.keys.find(keyId) : undefined;
  const verdict = verifyLink(deps.linkKey, { keyId, path, expires, signature }, rec?.hash, nowSeconds);
  if (!verdict.ok) throw refused(verdict.field, verdict.reason, verdict.field === 'expires' ? 'LINK_EXPIRED' : 'INVALID_SIGNATURE', verdict.field === 'expires' ? expires : undefined);
  // An authentic link of a revoked key: its holder may learn why it stopped working.
  if (!rec || rec.revokedAt) throw refused('key', 'the key this link acts as has been revoked', 'UNAUTHORIZED', keyId);
  return { keyId: rec.id, name: rec.name, scope: rec.scope };
}

/** A request URL fit for logs: the value of any `signature` parameter replaced. */
export function redactedUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    // Decoded as the query parser does (so `sig%6Eature` is caught too), byte by byte: never throws.
    const decoded = name.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return decoded.toLowerCase() === 'signature' ? `${name}=[redacted]` : part;
  });
  return `${url.slice(0, q + 1)}${parts.join('&')}`;
}
