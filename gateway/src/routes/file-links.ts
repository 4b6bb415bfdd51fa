// POST /api/v1/files/links: a signed, short-lived URL for downloading one file without an API
// key, for what cannot send one (a browser's <video src>, which fetches byte ranges itself). The
// link acts as the key that made it: that key must be able to read the file now, and the link
// stops working when it expires or the key is revoked or rotated (link-auth.ts checks each use).
import type { FastifyInstance } from 'fastify';
import Type from 'typebox';
import type { Deps } from '../deps.ts';
import { LinkLifetime, signLink } from '../download-links.ts';
import { ApiError } from '../errors.ts';
import { ErrorResponse } from '../schemas.ts';
import { assertReadable, checkedPath, principalOf } from './files.ts';

const LinkRequest = Type.Object({
  path: Type.String({ minLength: 1, description: 'The file to link to: under /storage/, or an s3://bucket/key object; one this key may download' }),
  expires_in: Type.Optional(Type.Integer({ minimum: LinkLifetime.min, maximum: LinkLifetime.max, default: LinkLifetime.default, description: 'Seconds the link works for' })),
}, { additionalProperties: false });
type LinkRequest = { path: string; expires_in?: number };

const DownloadLink = Type.Object({
  url: Type.String({ description: 'GET or HEAD it without an API key (Range supported); relative to this server, e.g. for <video src>' }),
  expires_at: Type.String({ format: 'date-time', description: 'When the link stops working' }),
});

const errors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 429: ErrorResponse, 503: ErrorResponse };

export function fileLinksPlugin(app: FastifyInstance, deps: Deps): void {
  app.post('/api/v1/files/links', {
    schema: {
      tags: ['files'],
      summary: 'Make a signed, short-lived download link to a file, usable without an API key (e.g. as a <video> source)',
      description: 'The link acts as this key: it reads only this path, counts against this key\'s rate limit, and stops working when it expires or the key is revoked or rotated. A path this key may not read is answered 404, as a missing file is.',
      body: LinkRequest,
      response: { 201: DownloadLink, ...errors },
    },
  }, async (req, reply) => {
    const p = principalOf(req);
    const body = req.body as LinkRequest;
    // Signed in the form the download route reads, so the link's `path` is what gets served.
    const path = checkedPath(body.path);
    await assertReadable(deps, p, path);
    const rec = deps.keys.find(p.keyId);
    if (!rec) throw new ApiError(401, 'authentication_error', 'UNAUTHORIZED', 'this API key no longer exists', { field: 'X-API-Key' });
    const expires = Math.floor(Date.now() / 1000) + (body.expires_in ?? LinkLifetime.default);
    const signature = signLink(deps.linkKey, { keyId: rec.id, credential: rec.hash, path, expires });
    const query = new URLSearchParams({ path, expires: String(expires), key: rec.id, signature });
    req.log.info({ path, expires, owner: rec.id }, 'download link made');
    return reply.status(201).send({ url: `/api/v1/files?${query.toString()}`, expires_at: new Date(expires * 1000).toISOString() });
  });
}
