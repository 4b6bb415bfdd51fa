// SSRF protection for webhook targets. A webhook URL is chosen by an API client, and the gateway
// POSTs to it from inside the operator's network: without a check, `http://169.254.169.254/` or
// `http://10.0.0.5:6443/` would let any client reach internal services. So:
// 1. the URL must be plain http(s) without credentials;
// 2. the hostname is resolved once and EVERY address is checked (one private address among public
//    ones refuses the URL: the client controls the DNS answer and its order);
// 3. the request connects to those checked addresses only (a pinned `lookup`), so a DNS answer
//    that changes between the check and the connection (DNS rebinding) cannot redirect it;
// 4. redirects are not followed, the attempt has a deadline and the response body read is capped.
// Literal IP URLs are checked without DNS. The classification (worker-image/src/net/addresses.ts,
// shared with HTTP(S) inputs) is a pure function, tested by table.
import http from 'node:http';
import https from 'node:https';
import { addressRefusal, checkTargetUrl, pinnedLookup, type TargetCheck, type Resolver } from '../../../worker-image/src/net/addresses.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';

// The address classification lives in a module shared with the storage layer's HTTP inputs;
// re-exported here so webhook code keeps its imports.
export { classifyAddress, defaultResolver, ipv6Bytes, pinnedLookup, type AddressClass, type ResolvedAddress, type Resolver } from '../../../worker-image/src/net/addresses.ts';

export interface GuardOptions {
  /** Let private, loopback, link-local, unique-local and CGNAT targets through (KUBEFF_WEBHOOK_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  resolve?: Resolver;
  /** Deadline for the DNS answer (getaddrinfo has none of its own). Default 5 s. */
  resolveTimeoutMs?: number;
}

/** `refused`: never acceptable (final); `unresolved`: DNS failed, possibly for a while only. */
export type UrlCheck = TargetCheck;

/** The refusal reason for an address under the given setting, or undefined when it is allowed. */
export function refusal(ip: string, allowPrivate: boolean): string | undefined {
  return addressRefusal(ip, allowPrivate, 'KUBEFF_WEBHOOK_ALLOW_PRIVATE');
}

// ---------------------------------------------------------------------------------------------
// URL check

/**
 * Checks a webhook URL and resolves its host. Nothing is connected to. The lead calls this at job
 * submission (a refusal becomes a 400 naming options.webhook_url) and the dispatcher before each
 * attempt (a refusal is a final failure; `unresolved` is retried).
 */
export async function checkWebhookUrl(raw: string, opts: GuardOptions): Promise<UrlCheck> {
  return checkTargetUrl(raw, { ...opts, setting: 'KUBEFF_WEBHOOK_ALLOW_PRIVATE', credentialsHint: '; put a token in the path or query instead' });
}

/**
 * For job submission: refuses a webhook URL the dispatcher would refuse (bad scheme, credentials,
 * a private or otherwise forbidden address, a host that does not resolve) with a 400 naming the
 * field, before the job exists.
 */
export async function assertWebhookUrl(config: Pick<Config, 'webhookAllowPrivate'>, url: string, field = 'options.webhook_url', resolve?: Resolver): Promise<void> {
  const check = await checkWebhookUrl(url, { allowPrivate: config.webhookAllowPrivate, ...(resolve ? { resolve } : {}) });
  if (!check.ok) throw new ApiError(400, 'validation_error', 'INVALID_REQUEST', `${field}: ${check.reason}`, { field, value: url });
}

// ---------------------------------------------------------------------------------------------
// Sending

export interface PostOptions extends GuardOptions {
  /** Deadline of the whole attempt: connect, send, response headers and body. Default 10 s. */
  timeoutMs?: number;
  /** Most response body bytes read (the rest is discarded). Default 64 KiB. */
  maxResponseBytes?: number;
  signal?: AbortSignal;
  /** The request function (tests pass a spy to prove that a refused URL opens no connection). */
  request?: typeof http.request;
}

export type PostResult =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'refused'; reason: string }
  | { kind: 'network_error'; reason: string };

/**
 * POSTs one webhook body to a checked URL. Never throws: every outcome is a PostResult. 3xx
 * answers are returned as they are (redirects are not followed: the target could point anywhere).
 */
export async function postWebhook(raw: string, body: string, headers: Record<string, string>, opts: PostOptions): Promise<PostResult> {
  const check = await checkWebhookUrl(raw, opts);
  if (!check.ok) return check.kind === 'refused' ? { kind: 'refused', reason: check.reason } : { kind: 'network_error', reason: check.reason };
  if (opts.signal?.aborted) return { kind: 'network_error', reason: 'aborted: the gateway is shutting down' };
  const { url, addresses } = check;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const cap = opts.maxResponseBytes ?? 64 * 1024;
  const request = opts.request ?? (url.protocol === 'https:' ? https.request : http.request);
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const done = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: pinnedLookup(addresses),
      // A fresh connection per attempt: a pooled socket could have been opened for another check.
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => done({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      res.on('data', (c: Buffer) => {
        if (size >= cap) return;
        chunks.push(c.subarray(0, cap - size));
        size += Math.min(c.length, cap - size);
        // Enough read: the status is what counts, the rest is not worth the bandwidth or memory.
        if (size >= cap) {
          finish();
          res.destroy();
        }
      });
      res.on('end', finish);
      res.on('error', (err) => done({ kind: 'network_error', reason: `reading the response failed: ${err.message}` }));
      res.on('close', finish);
    });
    const timer = setTimeout(() => {
      done({ kind: 'network_error', reason: `no complete response within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      done({ kind: 'network_error', reason: 'aborted: the gateway is shutting down' });
      req.destroy();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => done({ kind: 'network_error', reason: err.message }));
    req.end(body);
  });
}
