// Files in storage: upload (POST /files, the raw bytes streamed as the body), download (GET
// /files, the bytes as a web ReadableStream, a byte range on request), and signed links (POST
// /files/links) for what cannot send a key, such as a <video src>.
import { KubeffNetworkError } from './errors.ts';
import type { CallOptions, Transport } from './transport.ts';
import type { DownloadLinkRequest, DownloadLinkResponse, UploadedFile, UploadQuery } from './types.ts';
import { prepareBody, type UploadSource } from './upload-body.ts';


export interface UploadOptions extends CallOptions, UploadQuery {
  /** Content-Type of the bytes (default: a File's own video/audio/image type, else application/octet-stream). */
  contentType?: string | undefined;
  /** A retried upload with the same key and target stores one file. */
  idempotencyKey?: string | undefined;
}

/** Stores the bytes; the server checks them (size, format, ffprobe) before it keeps them. */
export async function upload(t: Transport, source: UploadSource, o: UploadOptions = {}): Promise<UploadedFile> {
  const prepared = prepareBody(source);
  const headers: Record<string, string> = { ...o.headers, 'content-type': o.contentType ?? prepared.contentType ?? 'application/octet-stream' };
  if (o.idempotencyKey !== undefined) headers['idempotency-key'] = o.idempotencyKey;
  const res = await t.json<{ file: UploadedFile }>('POST', '/files', {
    ...o,
    headers,
    query: { path: o.path, filename: o.filename, overwrite: o.overwrite },
    body: prepared.body,
    replayable: prepared.replayable,
    defaultTimeout: 'none',
  });
  return res.file;
}

/** A byte range: `end` is inclusive; without it, to the end of the file. */
export interface ByteRange {
  start: number;
  end?: number | undefined;
}

export interface DownloadOptions extends CallOptions {
  /** Only these bytes (answered 206), as {start, end} or a Range header value ("bytes=-500"). */
  range?: ByteRange | string | undefined;
  /** With range: only if the file is still this version (its ETag); else the whole file (200). */
  ifRange?: string | undefined;
}

export interface FileDownload {
  /** The bytes, streamed as they arrive: read it, pipe it, or cancel it to stop the download. */
  body: ReadableStream<Uint8Array>;
  /** 200 the whole file, 206 the range asked for. */
  status: number;
  /** Bytes in `body`. */
  length: number | undefined;
  /** With a 206: where the bytes lie and the file's whole size. */
  range: { start: number; end: number; size: number } | undefined;
  contentType: string | undefined;
  etag: string | undefined;
  lastModified: string | undefined;
}

function rangeHeader(r: ByteRange | string): string {
  if (typeof r === 'string') return r;
  if (!Number.isInteger(r.start) || r.start < 0 || (r.end !== undefined && (!Number.isInteger(r.end) || r.end < r.start))) {
    throw new RangeError(`download: range must be whole bytes with 0 <= start <= end, got ${JSON.stringify(r)}`);
  }
  return `bytes=${r.start}-${r.end ?? ''}`;
}

/**
 * Downloads a file: your uploads, or your jobs' outputs. The timeout (if any) covers waiting for
 * the answer, not the streaming of its body, which may take as long as it takes.
 */
export async function download(t: Transport, path: string, o: DownloadOptions = {}): Promise<FileDownload> {
  const headers: Record<string, string> = { ...o.headers, accept: '*/*' };
  if (o.range !== undefined) headers['range'] = rangeHeader(o.range);
  if (o.ifRange !== undefined) headers['if-range'] = o.ifRange;
  const { response, deadline, url } = await t.send('GET', '/files', { ...o, headers, query: { path }, defaultTimeout: 'none' });
  deadline.clear();
  const h = response.headers;
  const length = h.get('content-length');
  const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(h.get('content-range') ?? '');
  if (response.status === 206 && !cr) {
    await response.body?.cancel().catch(() => undefined);
    throw new KubeffNetworkError('bad_response', `GET ${url}: a 206 answer without a usable Content-Range`);
  }
  return {
    body: response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() }),
    status: response.status,
    length: length === null ? undefined : Number(length),
    range: cr ? { start: Number(cr[1]), end: Number(cr[2]), size: Number(cr[3]) } : undefined,
    contentType: h.get('content-type') ?? undefined,
    etag: h.get('etag') ?? undefined,
    lastModified: h.get('last-modified') ?? undefined,
  };
}

export interface LinkOptions extends CallOptions {
  /** Seconds the link works for: 10 to 86400 (default 900). */
  expiresIn?: number | undefined;
}

export interface DownloadLink {
  /** Absolute: GET or HEAD it with no key (Range supported), e.g. as a <video> element's src. */
  url: string;
  /** When the link stops working (also when the key that made it is revoked or rotated). */
  expiresAt: Date;
}

/** A signed, short-lived URL that downloads one file as this key, without sending the key. */
export async function link(t: Transport, path: string, o: LinkOptions = {}): Promise<DownloadLink> {
  const body: DownloadLinkRequest = { path, ...(o.expiresIn !== undefined ? { expires_in: o.expiresIn } : {}) };
  const res = await t.json<DownloadLinkResponse>('POST', '/files/links', { ...o, json: body });
  // The server answers relative to itself; appended to the base URL (not resolved against it), a
  // base behind a path prefix (https://host/kubeff) keeps its prefix.
  return { url: `${t.baseUrl}${res.url}`, expiresAt: new Date(res.expires_at) };
}
