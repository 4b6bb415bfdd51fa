// The SDK's HTTP layer against small local servers (127.0.0.1): the base URL, the key, error
// answers with and without the API's envelope, the per-second 429 waited out (and a long one
// reported), answers that are not JSON, and the caller's own fetch.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeffClient, KubeffError, KubeffNetworkError, normalizeBaseUrl } from '../../sdk/src/index.ts';

let server: Server | undefined;
afterEach(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server?.close(r));
    server = undefined;
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
const envelope = (code: string, message: string) => ({ error: { type: 'rate_limit_error', code, message, doc_url: 'https://example.invalid', request_id: 'req_1' } });

describe('normalizeBaseUrl', () => {
  it.each([
    ['http://localhost:8000', 'http://localhost:8000'],
    ['http://localhost:8000/', 'http://localhost:8000'],
    ['https://media.example.com/api/v1/', 'https://media.example.com'],
    ['http://h/prefix', 'http://h/prefix'],
  ])('takes %s as the server %s', (raw, base) => {
    expect(normalizeBaseUrl(raw)).toBe(base);
  });

  it.each(['localhost:8000', 'ftp://h', 'http://h/?a=1'])('refuses %s', (raw) => {
    expect(() => new KubeffClient({ baseUrl: raw })).toThrow(TypeError);
  });
});

describe('the transport', () => {
  it('sends the key and the caller\'s headers, under /api/v1, through the caller\'s fetch', async () => {
    const seen: string[] = [];
    const base = await serve((req, res) => {
      seen.push(`${req.method} ${req.url} key=${req.headers['x-api-key']} trace=${req.headers['x-trace']}`);
      json(res, 200, { jobs: [], total: 0, page: 1, per_page: 20, pages: 0 });
    });
    let viaOwnFetch = 0;
    const k = new KubeffClient({ baseUrl: base, apiKey: 'k1', headers: { 'x-trace': 't' }, fetch: (u, i) => (viaOwnFetch++, fetch(u, i)) });
    expect((await k.jobs.list({ status: 'failed', page: 2 })).total).toBe(0);
    expect(seen).toEqual(['GET /api/v1/jobs?status=failed&page=2 key=k1 trace=t']);
    expect(viaOwnFetch).toBe(1);
  });

  it('waits out a 429 of the per-second limit and sends the request again', async () => {
    let calls = 0;
    const base = await serve((_req, res) => {
      calls++;
      if (calls === 1) json(res, 429, envelope('QUOTA_EXCEEDED', 'at most 10 requests per second'), { 'retry-after': '1' });
      else json(res, 200, { status: 'ok', version: '1' });
    });
    const t0 = Date.now();
    expect((await new KubeffClient({ baseUrl: base }).health()).status).toBe('ok');
    expect(calls).toBe(2);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('reports a long Retry-After at once, as retryable with its delay', async () => {
    const base = await serve((_req, res) => json(res, 429, envelope('QUOTA_EXCEEDED', 'this key has 10 unfinished jobs'), { 'retry-after': '30' }));
    const err = await new KubeffClient({ baseUrl: base }).health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeffError);
    expect(err).toMatchObject({ status: 429, code: 'QUOTA_EXCEEDED', retryable: true, retryAfterSeconds: 30, message: 'this key has 10 unfinished jobs' });
  });

  it('describes an error answer without the envelope by its status and body', async () => {
    const base = await serve((_req, res) => res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway from a proxy'));
    const err = await new KubeffClient({ baseUrl: base }).health().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'KubeffError', status: 502, envelope: undefined, retryable: true, message: 'HTTP 502: bad gateway from a proxy' });
  });

  it('refuses a successful answer that is not JSON (not a kubeff server)', async () => {
    const base = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    const err = await new KubeffClient({ baseUrl: base }).health().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeffNetworkError);
    expect(err).toMatchObject({ reason: 'bad_response', retryable: false });
  });

  it('times out one call by its own timeout, not the client\'s', async () => {
    const base = await serve(() => undefined);
    const k = new KubeffClient({ baseUrl: base, timeoutMs: 60_000 });
    await expect(k.health({ timeoutMs: 100 })).rejects.toMatchObject({ reason: 'timeout' });
  });
});
