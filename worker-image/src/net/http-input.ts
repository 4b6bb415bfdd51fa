// HTTP(S) inputs, fetched without letting a client reach what it must not (SSRF):
// 1. the URL must be plain http(s), with a host and without credentials;
// 2. its host is resolved once and EVERY address is checked (one private address among public
//    ones refuses the URL: whoever controls the DNS answer controls its order);
// 3. the connection goes to those checked addresses only (a pinned `lookup`), so DNS cannot
//    change its answer between the check and the connection (rebinding);
// 4. redirects are followed by this code, never by a library, and each hop is checked the same
//    way before anything connects to it; at most `maxRedirects` of them;
// 5. every fetch has deadlines (response headers, inactivity, whole transfer) and a size cap.
// FFmpeg never sees these URLs: the worker streams the body into the job's scratch folder and
// FFmpeg reads that file behind `-protocol_whitelist file` (FFmpeg would follow redirects and
// resolve the host again on its own, and a playlist could point it anywhere).
import { createWriteStream } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkTargetUrl, pinnedLookup, type ResolvedAddress, type Resolver } from './addresses.ts';

export const AllowPrivateSetting = 'KUBEFF_HTTP_ALLOW_PRIVATE';

export interface HttpInputPolicy {
  /** Let private, loopback and link-local hosts through (KUBEFF_HTTP_ALLOW_PRIVATE); metadata addresses never. */
  allowPrivate: boolean;
  resolve?: Resolver | undefined;
  /** Deadline for the DNS answer. */
  resolveTimeoutMs: number;
  /** Deadline for connecting and receiving the response headers, per hop. */
  headersTimeoutMs: number;
  /** Longest time without a byte while the body streams. */
  idleTimeoutMs: number;
  /** Deadline for a whole download. */
  totalTimeoutMs: number;
  /** Largest body accepted. */
  maxBytes: number;
  maxRedirects: number;
  /** The request functions (tests pass spies to prove that a refused URL opens no connection). */
  request?: { http: typeof http.request; https: typeof https.request } | undefined;
}

export const defaultHttpPolicy: HttpInputPolicy = {
  allowPrivate: false,
  resolveTimeoutMs: 5_000,
  headersTimeoutMs: 15_000,
  idleTimeoutMs: 60_000,
  totalTimeoutMs: 6 * 3600_000,
  maxBytes: 10 * 1024 ** 3,
  maxRedirects: 5,
};

/**
 * Why an HTTP input failed. `refused`: the URL (or a redirect) points where inputs may not come
 * from, or is malformed: final. `answered`: the server said no (4xx): final. `unavailable`: DNS,
 * network, 5xx or a deadline: may work later. `too_large`: past maxBytes.
 */
export class HttpInputError extends Error {
  readonly kind: 'refused' | 'answered' | 'unavailable' | 'too_large';
  readonly status: number | undefined;
  constructor(kind: HttpInputError['kind'], message: string, status?: number) {
    super(message);
    this.name = 'HttpInputError';
    this.kind = kind;
    this.status = status;
  }
}

/** A URL for messages: scheme, host and path, never the query (it may hold a signature). */
export function shownUrl(raw: string | URL): string {
  try {
    const u = typeof raw === 'string' ? new URL(raw) : raw;
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '<invalid URL>';
  }
}

export interface CheckedUrl {
  url: URL;
  addresses: ResolvedAddress[];
}

/** Checks a URL and resolves its host; connects to nothing. Throws HttpInputError. */
export async function checkHttpInput(raw: string | URL, policy: HttpInputPolicy): Promise<CheckedUrl> {
  const check = await checkTargetUrl(raw, { allowPrivate: policy.allowPrivate, setting: AllowPrivateSetting, resolve: policy.resolve, resolveTimeoutMs: policy.resolveTimeoutMs });
  if (!check.ok) throw new HttpInputError(check.kind === 'refused' ? 'refused' : 'unavailable', check.reason);
  return { url: check.url, addresses: check.addresses };
}

export interface OpenOptions {
  /** Extra request headers (e.g. Range). */
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export interface Opened {
  res: IncomingMessage;
  /** The URL that answered, after redirects. */
  url: URL;
}

const redirects = new Set([301, 302, 303, 307, 308]);

/** One GET to checked addresses; resolves with the response headers (body unread). */
function getOnce(checked: CheckedUrl, policy: HttpInputPolicy, opts: OpenOptions): Promise<IncomingMessage> {
  const { url, addresses } = checked;
  const request = url.protocol === 'https:' ? (policy.request?.https ?? https.request) : (policy.request?.http ?? http.request);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: HttpInputError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    };
    const req = request(url, {
      method: 'GET',
      headers: { 'user-agent': 'kubeff', 'accept-encoding': 'identity', ...opts.headers },
      lookup: pinnedLookup(addresses),
      // A fresh connection per request: a pooled socket could have been opened for another check.
      agent: false,
      signal: opts.signal,
    }, (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      // Inactivity while the body streams.
      res.socket.setTimeout(policy.idleTimeoutMs, () => res.destroy(new Error(`no data for ${policy.idleTimeoutMs} ms`)));
      resolve(res);
    });
    const timer = setTimeout(() => {
      fail(new HttpInputError('unavailable', `no response from ${url.host} within ${policy.headersTimeoutMs} ms`));
      req.destroy();
    }, policy.headersTimeoutMs);
    req.on('error', (err) => fail(new HttpInputError('unavailable', `${url.host}: ${err.message}`)));
    req.end();
  });
}

/**
 * GETs a URL, following redirects only to URLs that pass the same check. Resolves with a 2xx
 * response whose body the caller must consume or destroy. Throws HttpInputError.
 */
export async function openHttpInput(raw: string, policy: HttpInputPolicy, opts: OpenOptions = {}): Promise<Opened> {
  let target: URL | string = raw;
  for (let hop = 0; ; hop++) {
    const checked: CheckedUrl = await checkHttpInput(target, policy).catch((err: unknown) => {
      if (err instanceof HttpInputError && hop > 0) throw new HttpInputError(err.kind, `redirected to ${shownUrl(target)}: ${err.message}`);
      throw err;
    });
    const res = await getOnce(checked, policy, opts);
    const status = res.statusCode ?? 0;
    if (redirects.has(status)) {
      res.destroy();
      const location = res.headers.location;
      if (!location) throw new HttpInputError('answered', `${shownUrl(checked.url)} answered ${status} without a Location`, status);
      if (hop >= policy.maxRedirects) throw new HttpInputError('refused', `more than ${policy.maxRedirects} redirects`);
      try {
        target = new URL(location, checked.url);
      } catch {
        throw new HttpInputError('refused', `redirected to an invalid URL`);
      }
      continue;
    }
    if (status >= 200 && status < 300) {
      const length = Number(res.headers['content-length']);
      const total = totalSize(res);
      const size = total ?? (Number.isFinite(length) ? length : undefined);
      if (size !== undefined && size > policy.maxBytes) {
        res.destroy();
        throw new HttpInputError('too_large', `is ${size} bytes, more than the ${policy.maxBytes} bytes an input may have`);
      }
      return { res, url: checked.url };
    }
    res.destroy();
    const what = `${shownUrl(checked.url)} answered ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
    throw new HttpInputError(status >= 500 || status === 429 || status === 408 ? 'unavailable' : 'answered', what, status);
  }
}

/** The whole size from a Content-Range answer (`bytes 0-0/12345`). */
function totalSize(res: IncomingMessage): number | undefined {
  const m = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
  return m ? Number(m[1]) : undefined;
}

/**
 * Checks that a URL answers (a one-byte ranged GET, redirects checked), as the gateway does before
 * accepting a job; reads no body. Throws HttpInputError.
 */
export async function checkHttpInputReachable(raw: string, policy: HttpInputPolicy): Promise<{ sizeBytes: number | undefined }> {
  const { res } = await openHttpInput(raw, policy, { headers: { range: 'bytes=0-0' } });
  const size = totalSize(res) ?? (res.statusCode === 200 && res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined);
  res.destroy();
  return { sizeBytes: size };
}

/** Streams a URL's body into a new file, within the size cap and the deadlines. Throws HttpInputError. */
export async function downloadHttpInput(raw: string, file: string, policy: HttpInputPolicy, signal?: AbortSignal): Promise<{ bytes: number }> {
  const total = AbortSignal.timeout(policy.totalTimeoutMs);
  const both = signal ? AbortSignal.any([signal, total]) : total;
  const { res, url } = await openHttpInput(raw, policy, { signal: both });
  let bytes = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > policy.maxBytes) done(new HttpInputError('too_large', `is more than the ${policy.maxBytes} bytes an input may have`));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(res, cap, createWriteStream(file, { flags: 'wx' }), { signal: both });
  } catch (err) {
    if (err instanceof HttpInputError) throw err;
    if (total.aborted) throw new HttpInputError('unavailable', `downloading ${shownUrl(url)} took longer than ${policy.totalTimeoutMs} ms`);
    if (signal?.aborted) throw err;
    throw new HttpInputError('unavailable', `downloading ${shownUrl(url)} failed: ${(err as Error).message}`);
  }
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared !== bytes) throw new HttpInputError('unavailable', `downloading ${shownUrl(url)} ended after ${bytes} of ${declared} bytes`);
  return { bytes };
}
