// File upload and download. An upload streams to a temporary file beside its target (never held
// in memory), is checked (size, magic bytes, then ffprobe) and only then renamed into place, so
// nobody ever reads half a file under the final name. A download streams with Range support.
// A client key writes only under /storage/uploads/<its key id>/ and reads only there and the
// outputs of its own jobs; anything else it asks for is reported as not existing.
// The same for S3 (`path=s3://bucket/key`, on a configured backend): an upload streams into a
// temporary object with a multipart upload (a few parts in memory at most), is probed through a
// presigned URL, then copied into place server-side; a download streams the object (Range, ETag
// and conditional requests as for files). A client key's S3 folder is s3://<bucket>/uploads/<id>/.
import { randomUUID } from 'node:crypto';
import { constants, createWriteStream, type Stats } from 'node:fs';
import { link, lstat, open, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, extname, relative, sep } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { SpecError } from '../../../crds/src/errors.ts';
import { Fields } from '../../../crds/src/fields.ts';
import { checkS3Location, checkStoragePath, parseS3, S3Prefix, s3Location, StoragePrefix, type S3Object } from '../../../crds/src/paths.ts';
import { ExitCode } from '../../../worker-image/src/exit-codes.ts';
import { JobFailure } from '../../../worker-image/src/failure.ts';
import { probe, type MediaInfo } from '../../../worker-image/src/probe.ts';
import { MinPartBytes, S3Error, type S3Backend } from '../../../worker-image/src/storage/s3.ts';
import type { Principal } from '../auth.ts';
import type { Deps } from '../deps.ts';
import { ApiError, errorHandler } from '../errors.ts';
import { sniff, SniffableKinds, SniffBytes, type Sniffed } from '../magic.ts';
import { parseRange } from '../ranges.ts';
import { ErrorResponse } from '../schemas.ts';

const uploadsFolder = `${StoragePrefix}uploads`;
const isS3 = (p: string) => p.startsWith(S3Prefix);
/** A key's own upload folder for a location: /storage/uploads/<id>/ or s3://<bucket>/uploads/<id>/. */
const ownUploads = (keyId: string, near?: string) => (near !== undefined && isS3(near) ? `${S3Prefix}${parseS3(near).bucket}/uploads/${keyId}/` : `${uploadsFolder}/${keyId}/`);

/**
 * After an upload is refused before its body has fully arrived, the rest is read and dropped, up
 * to these bounds, so that the refusal reaches the client: closing a socket with unread data
 * makes the kernel send a reset, which can destroy the response on its way. A client that keeps
 * sending past the bounds is cut off. (A client that sent `Connection: close` has its socket
 * closed by Node right after the answer; that is Node's choice, not made here.)
 */
const lingerBytes = 16 * 1024 * 1024;
const lingerMs = 10_000;

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const UploadQuery = Type.Object({
  // Only a string here: checkStoragePath names each rule a path breaks, which a schema cannot.
  path: Type.Optional(Type.String({ description: `Where to store the file: under ${StoragePrefix}, or s3://bucket/key on a configured S3 backend; client keys only under ${uploadsFolder}/<key id>/ (or s3://bucket/uploads/<key id>/). Default: ${uploadsFolder}/<key id>/<uuid>-<filename>` })),
  filename: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'File name for the default path (else from Content-Disposition)' })),
  overwrite: Type.Optional(Type.Boolean({ default: false, description: 'Replace an existing file at path' })),
}, { additionalProperties: false });
type UploadQuery = { path?: string; filename?: string; overwrite?: boolean };

// expires, key and signature come together, from POST /api/v1/files/links; sent without an API
// key they authenticate this request (app.ts, link-auth.ts). With a key, the key decides.
const DownloadQuery = Type.Object({
  path: Type.String({ minLength: 1, description: `A file under ${StoragePrefix}, or an s3://bucket/key object` }),
  expires: Type.Optional(Type.Integer({ minimum: 1, description: 'Signed link: when it stops working, in Unix seconds' })),
  key: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Signed link: the id of the API key it acts as' })),
  signature: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$', description: 'Signed link: its signature; with expires and key it replaces the API key (made by POST /api/v1/files/links)' })),
}, { additionalProperties: false });

const UploadedFile = Type.Object({
  file: Type.Object({
    path: Type.String(),
    size_bytes: Type.Integer({ minimum: 0 }),
    format: Type.String({ description: "ffprobe's format name" }),
    duration_seconds: Type.Number(),
    video_codec: Nullable(Type.String()),
    audio_codec: Nullable(Type.String()),
    width: Nullable(Type.Integer()),
    height: Nullable(Type.Integer()),
  }),
});

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 416: ErrorResponse, 429: ErrorResponse };

const contentTypes: Record<string, string> = {
  '.mp4': 'video/mp4', '.m4v': 'video/mp4', '.m4a': 'audio/mp4', '.m4s': 'video/iso.segment', '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska', '.mka': 'audio/x-matroska', '.webm': 'video/webm', '.avi': 'video/x-msvideo',
  '.ts': 'video/mp2t', '.m2ts': 'video/mp2t', '.mpg': 'video/mpeg', '.mpeg': 'video/mpeg', '.mxf': 'application/mxf',
  '.flv': 'video/x-flv', '.wmv': 'video/x-ms-wmv', '.3gp': 'video/3gpp',
  '.mp3': 'audio/mpeg', '.aac': 'audio/aac', '.wav': 'audio/wav', '.flac': 'audio/flac', '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg', '.opus': 'audio/ogg', '.aiff': 'audio/aiff',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.bmp': 'image/bmp',
  '.m3u8': 'application/vnd.apple.mpegurl', '.mpd': 'application/dash+xml', '.vtt': 'text/vtt', '.json': 'application/json',
};

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, 'authentication_error', 'UNAUTHORIZED', 'an API key is required');
  return req.principal;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A /storage/ path or s3:// location by the same rules as a job's, cleaned; each broken rule names `path`. */
export function checkedPath(raw: string): string {
  const f = new Fields();
  const p = raw.startsWith(S3Prefix) ? checkS3Location(f, raw, 'path', 'INVALID_REQUEST') : checkStoragePath(f, raw, 'path', 'INVALID_REQUEST');
  if (p === undefined) throw new SpecError(f.issues);
  return p;
}

/** A storage-layer failure about `path` as an API error: 404 for a missing object, 503 when S3 is unreachable, else 400. */
function storageError(err: unknown, storagePath: string, field = 'path'): unknown {
  if (!(err instanceof JobFailure)) return err;
  if (/^object not found/.test(err.message)) return new ApiError(404, 'not_found', 'NOT_FOUND', 'file not found', { field, value: storagePath });
  if (err.exitCode === ExitCode.transient) return new ApiError(503, 'server_error', 'STORAGE_UNAVAILABLE', `${field}: ${err.message}`, { field, value: storagePath });
  return new ApiError(400, 'validation_error', 'INVALID_REQUEST', `${field}: ${err.message}`, { field, value: storagePath });
}

function pathError(status: number, code: string, message: string, value: string): ApiError {
  return new ApiError(status, status === 409 ? 'conflict' : 'validation_error', code, `path: ${message}`, { field: 'path', value });
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function tooLarge(max: number, got: number): ApiError {
  return new ApiError(413, 'validation_error', 'PAYLOAD_TOO_LARGE', `body: the file is larger than the ${max} bytes an upload may have (got ${got} bytes or more)`, { field: 'body', value: got, allowed: [max] });
}

/** RFC 9110 §8.3: a body without a type may be taken as application/octet-stream. */
function checkContentType(value: string | undefined): void {
  if (value === undefined) return;
  const type = (value.split(';')[0] ?? '').trim().toLowerCase();
  if (type === 'application/octet-stream' || /^(video|audio|image)\/[a-z0-9][a-z0-9!#$&^_.+-]*$/.test(type)) return;
  throw new ApiError(415, 'validation_error', 'UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type}' is not accepted for an upload`, {
    field: 'Content-Type',
    value,
    allowed: ['application/octet-stream', 'video/*', 'audio/*', 'image/*'],
    suggestion: "send the file's raw bytes as the body (no multipart form), e.g. curl --data-binary @video.mp4 -H 'Content-Type: application/octet-stream'",
  });
}

/** The file name in Content-Disposition: `filename*=UTF-8''...` first, then `filename=`. */
export function dispositionFilename(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const star = /filename\*\s*=\s*[^']*'[^']*'([^;]+)/i.exec(value);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // Malformed percent-encoding: fall back to the plain parameter.
    }
  }
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(value);
  if (!plain) return undefined;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2];
}

/** A client's file name made safe for a path: its last segment, plain characters, no leading dot. */
export function safeName(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const last = raw.split(/[\\/]/).pop() ?? '';
  // '%' is refused in storage paths (FFmpeg expands it), and other punctuation buys nothing.
  const clean = last.normalize('NFKC').replace(/[^A-Za-z0-9._-]+/g, '_').slice(-120).replace(/^[._-]+/, '');
  return clean === '' ? undefined : clean;
}

/** The request's declared length; undefined for a chunked body. */
function declaredLength(req: FastifyRequest): number | undefined {
  const v = header(req, 'content-length');
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The host path for an upload target; its folder is created and must resolve inside storage. */
async function uploadTarget(deps: Deps, storagePath: string): Promise<string> {
  try {
    return await deps.storage.output(storagePath, 'path');
  } catch (err) {
    if (err instanceof JobFailure) throw pathError(400, 'INVALID_REQUEST', err.message, storagePath);
    if (errno(err) === 'ENOTDIR' || errno(err) === 'EEXIST') throw pathError(409, 'PATH_CONFLICT', 'a folder on this path is a file', storagePath);
    throw err;
  }
}

async function refuseExisting(host: string, storagePath: string, overwrite: boolean): Promise<void> {
  const st = await lstat(host).catch((err: unknown) => {
    if (errno(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (!st) return;
  if (st.isDirectory()) throw pathError(409, 'PATH_CONFLICT', 'names an existing folder', storagePath);
  if (!overwrite) {
    throw new ApiError(409, 'conflict', 'FILE_EXISTS', 'path: a file already exists there', { field: 'path', value: storagePath, suggestion: 'add overwrite=true to replace it, or choose another path' });
  }
}

/**
 * Streams the body into `sink` (a new temporary file, or an S3 upload whose end is `done`),
 * refusing it as soon as it passes `max` bytes or its first bytes are not a known media format.
 * Returns what the first bytes say.
 */
async function receive(raw: IncomingMessage, sink: Writable, max: number, done?: Promise<void>): Promise<Sniffed> {
  let sniffed: Sniffed | undefined;
  const refuse = (head: Buffer): Sniffed => {
    if (head.length === 0) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', "body: is empty; send the file's bytes", { field: 'body' });
    const s = sniff(head);
    if (!s) {
      throw new ApiError(415, 'validation_error', 'UNSUPPORTED_MEDIA_TYPE', 'body: the first bytes are not those of a known video, audio or image format', { field: 'body', allowed: SniffableKinds });
    }
    return s;
  };
  // Holds back the first bytes until they can be sniffed, then passes everything through.
  async function* guard(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let head: Buffer[] = [];
    let headBytes = 0;
    let total = 0;
    for await (const chunk of source) {
      total += chunk.length;
      if (total > max) throw tooLarge(max, total);
      if (sniffed) {
        yield chunk;
        continue;
      }
      head.push(chunk);
      headBytes += chunk.length;
      if (headBytes < SniffBytes) continue;
      const first = Buffer.concat(head);
      head = [];
      sniffed = refuse(first);
      yield first;
    }
    if (!sniffed) {
      const first = Buffer.concat(head);
      sniffed = refuse(first);
      yield first;
    }
  }
  try {
    // destroyOnReturn: false keeps the socket open when the guard refuses the body, so the
    // refusal can still be answered on it (destroying the request would reset the connection).
    const source = raw.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
    await pipeline(source, guard, sink);
    await done;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // The S3 upload failed (refused credentials, unreachable): not the client's body.
    if (err instanceof JobFailure) throw err;
    if (errno(err) === 'ENOSPC' || errno(err) === 'EDQUOT') {
      throw new ApiError(507, 'server_error', 'INSUFFICIENT_RESOURCES', 'storage is full; the upload was not kept', { field: 'body' });
    }
    if (!raw.complete) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', 'body: the upload ended before the whole body arrived', { field: 'body' });
    throw err;
  }
  if (!raw.complete) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', 'body: the upload ended before the whole body arrived', { field: 'body' });
  if (!sniffed) throw new Error('unreachable: the guard sniffs every body it passes');
  return sniffed;
}

/** Moves the checked upload into place atomically; without overwrite, an existing file wins. */
async function place(temp: string, target: string, storagePath: string, overwrite: boolean): Promise<void> {
  if (overwrite) return rename(temp, target);
  try {
    // link() fails if the name exists, atomically; rename() would replace it.
    await link(temp, target);
  } catch (err) {
    const code = errno(err);
    if (code === 'EEXIST') return refuseExisting(target, storagePath, false);
    // Some network filesystems have no hard links: check-then-rename is the best they allow.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      await refuseExisting(target, storagePath, false);
      return rename(temp, target);
    }
    throw err;
  }
}

function fileView(storagePath: string, size: number, info: MediaInfo) {
  return {
    path: storagePath,
    size_bytes: size,
    format: info.formatName,
    duration_seconds: info.durationSeconds,
    video_codec: info.video?.codec ?? null,
    audio_codec: info.audio?.codec ?? null,
    width: info.video?.width ?? null,
    height: info.video?.height ?? null,
  };
}

/**
 * An upload to S3: streamed into a temporary object beside the target (multipart, a few parts in
 * memory), probed through a presigned URL, copied into place server-side, the temporary object
 * removed whatever happens.
 */
async function uploadS3(deps: Deps, req: FastifyRequest, reply: FastifyReply, storagePath: string, overwrite: boolean, max: number) {
  const p = principalOf(req);
  if (storagePath.endsWith('/')) throw pathError(400, 'INVALID_REQUEST', 'must name an object, not a folder', storagePath);
  let backend: S3Backend;
  try {
    backend = deps.storage.s3For(storagePath, 'path', 'output');
  } catch (err) {
    throw storageError(err, storagePath);
  }
  const target = parseS3(storagePath);
  const s3 = <T>(fn: () => Promise<T>, at = storagePath) => fn().catch((err: unknown) => {
    throw storageError(err, at);
  });
  const existing = await s3(() => deps.storage.s3Call(storagePath, 'path', 'output', (b, o) => b.headIfExists(o), backend));
  if (existing && !overwrite) {
    throw new ApiError(409, 'conflict', 'FILE_EXISTS', 'path: an object already exists there', { field: 'path', value: storagePath, suggestion: 'add overwrite=true to replace it, or choose another path' });
  }
  const folder = target.key.includes('/') ? target.key.slice(0, target.key.lastIndexOf('/') + 1) : '';
  const temp: S3Object = { bucket: target.bucket, key: `${folder}.upload-${randomUUID()}.part` };
  const tempLocation = s3Location(temp);
  const abort = new AbortController();
  req.raw.once('close', () => {
    if (!req.raw.complete) abort.abort();
  });
  const body = new PassThrough();
  const contentType = contentTypes[extname(target.key).toLowerCase()];
  // The smallest parts, two in flight: an upload holds about 15 MiB whatever its size (and 48 GiB at most).
  const done = deps.storage.s3Call(tempLocation, 'path', 'output', (b, o) => b.upload(body, o, { contentType, signal: abort.signal, partBytes: MinPartBytes, queueSize: 2 }), backend);
  // A failed upload stops the body at once (else the pipeline would wait on a full buffer).
  done.catch((err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))));
  try {
    await receive(req.raw, body, max, done).catch((err: unknown) => {
      throw storageError(err, storagePath);
    });
    const info = await deps.storage.probe(tempLocation, 'body', deps.tools).catch((err: unknown) => {
      if (err instanceof JobFailure && err.exitCode !== ExitCode.transient && !/^S3 storage/.test(err.message)) {
        throw new ApiError(400, 'validation_error', 'INVALID_INPUT', `body: corrupt or not media (${err.message})`, { field: 'body' });
      }
      throw storageError(err, storagePath);
    });
    const head = await s3(() => backend.head(temp));
    if (!overwrite && (await s3(() => backend.headIfExists(target)))) {
      throw new ApiError(409, 'conflict', 'FILE_EXISTS', 'path: an object already exists there', { field: 'path', value: storagePath, suggestion: 'add overwrite=true to replace it, or choose another path' });
    }
    await s3(() => backend.copy(temp, target, head.sizeBytes, { contentType }));
    req.log.info({ path: storagePath, bytes: head.sizeBytes, format: info.formatName, owner: p.keyId }, 'file uploaded');
    void reply.header('location', `/api/v1/files?path=${encodeURIComponent(storagePath)}`);
    return reply.status(201).send({ file: fileView(storagePath, head.sizeBytes, info) });
  } finally {
    await done.catch(() => undefined);
    await backend.delete(temp).catch((err: unknown) => {
      // A bucket that does not exist holds no temporary object.
      if (!(err instanceof S3Error && err.kind === 'missing')) req.log.warn({ err: (err as Error).message, path: tempLocation }, 'temporary upload object not removed');
    });
  }
}

async function upload(deps: Deps, req: FastifyRequest, reply: FastifyReply) {
  const p = principalOf(req);
  const q = req.query as UploadQuery;
  checkContentType(header(req, 'content-type'));
  const max = deps.config.maxUploadBytes;
  const declared = declaredLength(req);
  if (declared !== undefined && declared > max) throw tooLarge(max, declared);

  const name = safeName(q.filename ?? dispositionFilename(header(req, 'content-disposition')));
  // Without a path or a name, the extension is added once the first bytes say what the file is.
  let storagePath = checkedPath(q.path ?? `${ownUploads(p.keyId)}${randomUUID()}-${name ?? 'upload'}`);
  const own = ownUploads(p.keyId, storagePath);
  const named = q.path !== undefined || name !== undefined;
  if (storagePath.endsWith('/')) throw pathError(400, 'INVALID_REQUEST', 'must name a file, not a folder', storagePath);
  if (p.scope !== 'admin' && !storagePath.startsWith(own)) {
    throw new ApiError(403, 'authorization_error', 'ACCESS_DENIED', `path: this key may only upload under ${own}`, { field: 'path', value: storagePath, suggestion: `e.g. ${own}${name ?? 'video.mp4'}, or leave path out` });
  }
  if (isS3(storagePath)) return uploadS3(deps, req, reply, storagePath, q.overwrite === true, max);
  let target = await uploadTarget(deps, storagePath);
  await refuseExisting(target, storagePath, q.overwrite === true);

  // Beside the target, so the final rename stays on one filesystem and is atomic; hidden by its dot.
  const temp = `${dirname(target)}${sep}.upload-${randomUUID()}.part`;
  const sink = createWriteStream(temp, { flags: 'wx' });
  try {
    const sniffed = await receive(req.raw, sink, max);
    if (!named) {
      storagePath += sniffed.ext;
      target += sniffed.ext;
    }
    const info = await probe(deps.tools, temp, 'body').catch((err: unknown) => {
      if (err instanceof JobFailure) throw new ApiError(400, 'validation_error', 'INVALID_INPUT', `body: corrupt or not media (${err.message})`, { field: 'body' });
      throw err;
    });
    const size = (await lstat(temp)).size;
    await place(temp, target, storagePath, q.overwrite === true);
    // Before answering: a client that lists the folder after a 201 must not see the temporary name.
    await rm(temp, { force: true });
    req.log.info({ path: storagePath, bytes: size, format: info.formatName, owner: p.keyId }, 'file uploaded');
    void reply.header('location', `/api/v1/files?path=${encodeURIComponent(storagePath)}`);
    return reply.status(201).send({ file: fileView(storagePath, size, info) });
  } finally {
    // Any failure (refusal, client gone, probe) leaves no partial file behind. The stream opens
    // its file asynchronously: removing before it has opened and closed would let it reappear.
    if (!sink.closed) await new Promise<void>((resolve) => sink.once('close', () => resolve()));
    await rm(temp, { force: true });
  }
}

/**
 * Whether a key may read a storage path: its own uploads, the outputs its jobs list, and files in
 * the folder of a playlist or manifest its jobs list (segments, variant playlists). The JSON of
 * job statuses is searched in SQLite, so no job is loaded to answer.
 */
const grantSql = `
  select 1 from jobs j, json_each(j.status, '$.outputs') o
  where j.owner = ?
    and (json_extract(o.value, '$.path') = ?
      or (json_extract(o.value, '$.role') in ('playlist', 'manifest')
        and exists (select 1 from json_each(?) a
          where substr(json_extract(o.value, '$.path'), 1, length(a.value) + 1) = a.value || '/'
            and instr(substr(json_extract(o.value, '$.path'), length(a.value) + 2), '/') = 0)))
  limit 1`;

function mayRead(deps: Deps, p: Principal, storagePath: string): boolean {
  if (p.scope === 'admin') return true;
  if (storagePath.startsWith(ownUploads(p.keyId, storagePath))) return true;
  // Folders that could hold a playlist granting this path. The storage root (a bucket's top) and
  // the uploads folder never do: a playlist written there must not open every file below them.
  const top = isS3(storagePath) ? `${S3Prefix}${parseS3(storagePath).bucket}` : StoragePrefix.slice(0, -1);
  const uploads = isS3(storagePath) ? `${top}/uploads` : uploadsFolder;
  const folders: string[] = [];
  for (let d = storagePath.slice(0, storagePath.lastIndexOf('/')); d.length > top.length && d !== uploads; d = d.slice(0, d.lastIndexOf('/'))) {
    folders.push(d);
  }
  return deps.store.db.prepare(grantSql).get(p.keyId, storagePath, JSON.stringify(folders)) !== undefined;
}

function etagOf(st: { ino: number; size: number; mtimeMs: number }): string {
  return `"${st.ino.toString(16)}-${st.size.toString(16)}-${Math.round(st.mtimeMs * 1000).toString(16)}"`;
}

/** If-None-Match (weak comparison) or, without it, If-Modified-Since: whether to answer 304. */
function notModified(req: FastifyRequest, etag: string, mtimeMs: number): boolean {
  const inm = header(req, 'if-none-match');
  if (inm !== undefined) {
    const bare = etag.replace(/^W\//, '');
    return inm.trim() === '*' || inm.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
  }
  const ims = header(req, 'if-modified-since');
  if (ims === undefined) return false;
  const t = Date.parse(ims);
  return Number.isFinite(t) && Math.floor(mtimeMs / 1000) * 1000 <= t;
}

/** If-Range: the Range applies only to the representation the client already has part of. */
function rangeStillValid(req: FastifyRequest, etag: string, lastModified: string): boolean {
  const ifRange = header(req, 'if-range');
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  // A weak validator never matches here: byte ranges need the exact same bytes.
  if (v.startsWith('"')) return v === etag;
  return v === lastModified;
}

/**
 * What every download answers before its bytes, for a file and an S3 object alike: validators and
 * content headers, 304 for a conditional request that matches, 416 for a Range outside the bytes,
 * 206 with Content-Range for one inside. Returns the bytes to send, or undefined when the answer is
 * already complete (304, HEAD, an empty body).
 */
function answerDownload(req: FastifyRequest, reply: FastifyReply, o: { etag: string; modified: Date; size: number; name: string }): { start: number; end: number; partial: boolean } | undefined {
  const lastModified = o.modified.toUTCString();
  void reply.headers({
    'accept-ranges': 'bytes',
    etag: o.etag,
    'last-modified': lastModified,
    'cache-control': 'private, no-cache',
    // Uploaded bytes are served as their extension says, never as what a browser guesses.
    'x-content-type-options': 'nosniff',
    'content-type': contentTypes[extname(o.name).toLowerCase()] ?? 'application/octet-stream',
  });
  if (notModified(req, o.etag, o.modified.getTime())) {
    void reply.status(304).send();
    return undefined;
  }
  const rangeHeader = header(req, 'range');
  const range = rangeStillValid(req, o.etag, lastModified) ? parseRange(rangeHeader, o.size) : { kind: 'whole' as const };
  if (range.kind === 'unsatisfiable') {
    throw new ApiError(416, 'validation_error', 'RANGE_NOT_SATISFIABLE', `Range: ${range.reason}`, { field: 'Range', value: rangeHeader, allowed: [`bytes=0-${Math.max(0, o.size - 1)}`] }, { 'content-range': `bytes */${o.size}` });
  }
  const [start, end] = range.kind === 'range' ? [range.start, range.end] : [0, o.size - 1];
  if (range.kind === 'range') void reply.status(206).header('content-range', `bytes ${start}-${end}/${o.size}`);
  void reply.header('content-length', String(end - start + 1));
  if (req.method === 'HEAD' || o.size === 0) {
    void reply.send();
    return undefined;
  }
  return { start, end, partial: range.kind === 'range' };
}

/** A download from S3: the object streamed through, with the same validators and ranges as a file. */
async function downloadS3(deps: Deps, req: FastifyRequest, reply: FastifyReply, storagePath: string) {
  if (storagePath.endsWith('/')) throw new ApiError(404, 'not_found', 'NOT_FOUND', 'file not found', { field: 'path', value: storagePath });
  const head = await deps.storage.s3Call(storagePath, 'path', 'input', (b, o) => b.head(o)).catch((err: unknown) => {
    throw storageError(err, storagePath);
  });
  const span = answerDownload(req, reply, { etag: head.etag ?? `"${head.sizeBytes.toString(16)}"`, modified: head.lastModified ?? new Date(0), size: head.sizeBytes, name: storagePath });
  if (!span) return reply;
  const { start, end, partial } = span;
  // If-Match: the bytes must be those of the version whose headers were just sent. The body is
  // streamed with backpressure; Fastify destroys it (closing the S3 connection) if the client leaves.
  const { body } = await deps.storage.s3Call(storagePath, 'path', 'input', (b, o) => b.get(o, { ...(partial ? { range: { start, end } } : {}), ifMatch: head.etag })).catch((err: unknown) => {
    throw storageError(err, storagePath);
  });
  return reply.send(body);
}

/** One answer for "missing", "not yours" and "not a file", so nothing is learned by probing. */
const notFound = (storagePath: string) => new ApiError(404, 'not_found', 'NOT_FOUND', 'file not found', { field: 'path', value: storagePath });

/** The local file a key may read at a storage path, opened, with its stat and host path; else the 404 of notFound. */
async function openReadable(deps: Deps, p: Principal, storagePath: string): Promise<{ fh: FileHandle; st: Stats; real: string }> {
  if (!mayRead(deps, p, storagePath)) throw notFound(storagePath);
  let real: string;
  try {
    real = await deps.storage.input(storagePath, 'path');
  } catch (err) {
    if (err instanceof JobFailure) throw notFound(storagePath);
    throw err;
  }
  // A symlink may point elsewhere inside storage; what it points to must be readable too.
  if (p.scope !== 'admin') {
    const realStorage = StoragePrefix + relative(await realpath(deps.storage.root), real).split(sep).join('/');
    if (!mayRead(deps, p, realStorage)) throw notFound(storagePath);
  }
  // O_NONBLOCK: opening a FIFO planted in storage must not hang a thread; a regular file ignores it.
  let fh: FileHandle;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    throw notFound(storagePath);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notFound(storagePath);
    return { fh, st, real };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * That a key may read a file or S3 object now, and that it exists; else the same 404 a download
 * would get (or 503 when S3 cannot be reached). For granting access without serving it yet.
 */
export async function assertReadable(deps: Deps, p: Principal, storagePath: string): Promise<void> {
  if (!isS3(storagePath)) {
    const { fh } = await openReadable(deps, p, storagePath);
    await fh.close();
    return;
  }
  if (!mayRead(deps, p, storagePath) || storagePath.endsWith('/')) throw notFound(storagePath);
  await deps.storage.s3Call(storagePath, 'path', 'input', (b, o) => b.head(o)).catch((err: unknown) => {
    throw storageError(err, storagePath);
  });
}

async function download(deps: Deps, req: FastifyRequest, reply: FastifyReply, path = (req.query as { path: string }).path) {
  const p = principalOf(req);
  const storagePath = checkedPath(path);
  if (isS3(storagePath)) {
    if (!mayRead(deps, p, storagePath)) throw notFound(storagePath);
    return downloadS3(deps, req, reply, storagePath);
  }
  const { fh, st, real } = await openReadable(deps, p, storagePath);
  let streaming = false;
  try {
    // Typed by what the file is named where it really lies (a symlink's target).
    const span = answerDownload(req, reply, { etag: etagOf(st), modified: st.mtime, size: st.size, name: real });
    if (!span) return reply;
    const { start, end } = span;
    streaming = true;
    // The stream owns the handle from here and closes it at its end or when the client leaves.
    return reply.send(fh.createReadStream({ start, end }));
  } finally {
    if (!streaming) await fh.close();
  }
}

/** See lingerBytes: drain what is left of a refused upload, within bounds. */
function linger(raw: IncomingMessage): void {
  if (raw.complete || raw.destroyed) return;
  let seen = 0;
  const cutOff = () => raw.socket?.destroy();
  const timer = setTimeout(cutOff, lingerMs);
  timer.unref();
  raw.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > lingerBytes) cutOff();
  });
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}

/** Fastify's content-type refusal speaks of JSON, which is wrong for these routes. */
function inOurTerms(err: FastifyError): FastifyError | ApiError {
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new ApiError(415, 'validation_error', 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type is malformed', { field: 'Content-Type', allowed: ['application/octet-stream', 'video/*', 'audio/*', 'image/*'] });
  }
  return err;
}

export function filesPlugin(app: FastifyInstance, deps: Deps): void {
  // An encapsulated scope, so its body parser (which leaves the body unread) and its hooks apply
  // to these routes only. Registration is lazy; the app loads it when it starts.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // The body stays in the request stream for the handler. What is returned becomes req.body
    // only for the app's Idempotency-Key hash, so a reused key with another target or length is
    // told apart from a retry.
    scope.addContentTypeParser('*', (req, _payload, done) => {
      done(null, { url: req.url, type: req.headers['content-type'] ?? null, length: req.headers['content-length'] ?? null });
    });
    scope.setErrorHandler((err: FastifyError, req, reply) => errorHandler(inOurTerms(err), req, reply));
    scope.addHook('onSend', async (req, _reply, payload) => {
      if (req.method === 'POST') linger(req.raw);
      return payload;
    });

    scope.post('/api/v1/files', {
      schema: {
        tags: ['files'],
        summary: 'Upload a media file (the raw bytes as the body); checked with ffprobe before it is kept',
        querystring: UploadQuery,
        // Documentation only (openapi.ts moves it to the body): the body is streamed to disk, never
        // parsed, so no validator may see it. The file's bytes, as application/octet-stream or as
        // the file's own type (video/mp4, image/png...).
        documentedBody: { content: { 'application/octet-stream': { schema: Type.String({ format: 'binary', description: "The file's bytes; its first bytes must be those of a video, audio or image format" }) } } },
        response: { 201: UploadedFile, ...errors, 503: ErrorResponse, 507: ErrorResponse },
      },
    }, async (req, reply) => upload(deps, req, reply));

    scope.route({
      method: ['GET', 'HEAD'],
      url: '/api/v1/files',
      // HEAD shares the handler, which skips the body itself instead of opening a stream to drop.
      exposeHeadRoute: false,
      schema: {
        tags: ['files'],
        summary: 'Download a file: your uploads or your jobs\' outputs (Range supported)',
        description: 'Authenticated by an API key, or instead by the `expires`, `key` and `signature` of a link from POST /api/v1/files/links (what a <video> element can use); such a link reads this one path, as the key that made it.',
        querystring: DownloadQuery,
        // Documentation only: the handler streams the bytes, with the file's own Content-Type.
        response: {
          200: { description: "The file's bytes, typed by its kind (video/mp4, application/vnd.apple.mpegurl...)", content: { '*/*': { schema: Type.String({ format: 'binary' }) } } },
          206: { description: 'The requested byte range', content: { '*/*': { schema: Type.String({ format: 'binary' }) } } },
          ...errors,
          503: ErrorResponse,
        },
      },
      handler: async (req, reply) => download(deps, req, reply),
    });

    // The same download with the path in the URL: a playlist names its variants and segments
    // relative to itself, which only a path-shaped URL lets a player (hls.js, Safari, dash.js)
    // resolve. The key goes in a header, as for every other call.
    scope.route({
      method: ['GET', 'HEAD'],
      url: '/api/v1/storage/*',
      exposeHeadRoute: false,
      schema: {
        tags: ['files'],
        summary: 'Download a file by its path in the URL (/api/v1/storage/output/stream/master.m3u8), so relative entries of playlists and manifests resolve',
        params: Type.Object({ '*': Type.String({ minLength: 1, maxLength: 1024, description: 'The path under /storage/' }) }),
        response: {
          200: { description: "The file's bytes", content: { '*/*': { schema: Type.String({ format: 'binary' }) } } },
          206: { description: 'The requested byte range', content: { '*/*': { schema: Type.String({ format: 'binary' }) } } },
          ...errors,
          503: ErrorResponse,
        },
      },
      handler: async (req, reply) => download(deps, req, reply, `/storage/${(req.params as { '*': string })['*']}`),
    });
  });
}
