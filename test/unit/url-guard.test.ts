// The SSRF guard of webhook targets. Every refusal happens before any connection: the tests inject
// the resolver and a request function and watch net.Socket#connect to prove that no socket is
// opened. The only connections made go to a receiver on 127.0.0.1; public-looking addresses appear
// only as answers of injected resolvers and are never connected to.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ApiError } from '../../gateway/src/errors.ts';
import { assertWebhookUrl, checkWebhookUrl, classifyAddress, ipv6Bytes, postWebhook, refusal, type ResolvedAddress, type Resolver } from '../../gateway/src/webhooks/url-guard.ts';

const publicV4 = '93.184.215.14';
const publicV6 = '2606:2800:21f:cb07:6820:80da:af6b:8b2c';

/** A resolver answering from a table, recording the names it was asked for. */
function fakeResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    const answer = table[host];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

const resolver = fakeResolver({
  'internal.example.com': ['10.1.2.3'],
  'metadata.example.com': ['169.254.169.254'],
  'mixed.example.com': [publicV4, '192.168.1.10'],
  'mixed6.example.com': [publicV6, 'fd12:3456::1'],
  'localhost.example.com': ['127.0.0.1'],
  'public.example.com': [publicV4, publicV6],
});

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'private', /loopback/],
    ['127.255.255.254', 'private', /loopback/],
    ['10.0.0.1', 'private', /10\.0\.0\.0\/8/],
    ['172.16.0.1', 'private', /172\.16\.0\.0\/12/],
    ['172.31.255.255', 'private', /172\.16\.0\.0\/12/],
    ['192.168.0.1', 'private', /192\.168\.0\.0\/16/],
    ['169.254.1.1', 'private', /link-local/],
    ['100.64.0.1', 'private', /carrier-grade NAT/],
    ['100.127.255.255', 'private', /carrier-grade NAT/],
    ['169.254.169.254', 'never', /metadata/],
    ['0.0.0.0', 'never', /unspecified/],
    ['0.1.2.3', 'never', /unspecified/],
    ['255.255.255.255', 'never', /broadcast/],
    ['224.0.0.1', 'never', /multicast/],
    ['239.255.255.250', 'never', /multicast/],
    ['240.0.0.1', 'never', /reserved/],
    ['192.0.2.10', 'never', /documentation/],
    ['::1', 'private', /loopback/],
    ['::', 'never', /unspecified/],
    ['fe80::1', 'private', /link-local/],
    ['febf::1', 'private', /link-local/],
    ['fc00::1', 'private', /unique-local/],
    ['fdff:ffff::1', 'private', /unique-local/],
    ['ff02::1', 'never', /multicast/],
    ['::ffff:127.0.0.1', 'private', /loopback address \(IPv4-mapped IPv6\)/],
    ['::ffff:7f00:1', 'private', /loopback address \(IPv4-mapped IPv6\)/],
    ['::ffff:10.0.0.1', 'private', /10\.0\.0\.0\/8\) \(IPv4-mapped/],
    ['::ffff:169.254.169.254', 'never', /metadata/],
    ['::127.0.0.1', 'never', /IPv4-compatible/],
    ['64:ff9b::a00:1', 'private', /NAT64/],
    ['2002:c0a8:0101::1', 'private', /192\.168\.0\.0\/16\) \(6to4\)/],
    ['2001:db8::1', 'never', /documentation/],
    ['fd00:ec2::254', 'never', /metadata/],
  ])('classifies %s as %s', (ip, level, reason) => {
    const c = classifyAddress(ip);
    expect(c?.level).toBe(level);
    expect(c?.reason).toMatch(reason);
  });

  it.each(['8.8.8.8', publicV4, '172.32.0.1', '100.128.0.1', '11.0.0.1', publicV6, '2001:4860:4860::8888', '64:ff9b::808:808', '2002:808:808::1', '::ffff:8.8.8.8'])(
    'lets the public address %s through',
    (ip) => {
      expect(classifyAddress(ip)).toBeUndefined();
    },
  );

  it('reads IPv6 text forms into the same bytes', () => {
    expect(ipv6Bytes('::ffff:127.0.0.1')).toEqual(ipv6Bytes('0:0:0:0:0:ffff:7f00:0001'));
    expect(ipv6Bytes('1:2:3:4:5:6:7:8')?.[15]).toBe(8);
    expect(ipv6Bytes('not-an-address')).toBeUndefined();
  });

  it('lets private addresses through when allowed, but never the never-ranges', () => {
    expect(refusal('127.0.0.1', true)).toBeUndefined();
    expect(refusal('10.0.0.1', true)).toBeUndefined();
    expect(refusal('127.0.0.1', false)).toMatch(/KUBEFF_WEBHOOK_ALLOW_PRIVATE/);
    expect(refusal('169.254.169.254', true)).toMatch(/metadata/);
    expect(refusal('0.0.0.0', true)).toMatch(/unspecified/);
    expect(refusal('224.0.0.1', true)).toMatch(/multicast/);
  });
});

describe('refused webhook URLs open no connection', () => {
  let connectSpy: MockInstance;
  let requestSpy: ReturnType<typeof vi.fn>;
  beforeEach(() => {
    resolver.calls.length = 0;
    connectSpy = vi.spyOn(net.Socket.prototype, 'connect');
    requestSpy = vi.fn(() => {
      throw new Error('no request may be made for a refused URL');
    });
  });
  afterEach(() => {
    connectSpy.mockRestore();
  });

  it.each([
    ['IPv4 loopback', 'http://127.0.0.1:8080/hook', /127\.0\.0\.1 is a loopback address/, false],
    ['loopback in decimal form', 'http://2130706433/hook', /127\.0\.0\.1 is a loopback/, false],
    ['loopback in hex form', 'http://0x7f.1/hook', /127\.0\.0\.1 is a loopback/, false],
    ['10/8', 'http://10.0.0.5/hook', /private address \(10\.0\.0\.0\/8\)/, false],
    ['172.16/12', 'https://172.16.5.4/hook', /172\.16\.0\.0\/12/, false],
    ['192.168/16', 'http://192.168.1.1:3000/hook', /192\.168\.0\.0\/16/, false],
    ['the cloud metadata endpoint', 'http://169.254.169.254/latest/meta-data/', /metadata/, false],
    ['IPv6 loopback', 'http://[::1]:8080/hook', /::1 is a loopback/, false],
    ['IPv6 link-local', 'http://[fe80::1]/hook', /link-local/, false],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/hook', /loopback address \(IPv4-mapped IPv6\)/, false],
    ['the unspecified address', 'http://0.0.0.0:8000/hook', /unspecified/, false],
    ['CGNAT', 'http://100.64.0.1/hook', /carrier-grade NAT/, false],
    ['a hostname resolving to a private address', 'https://internal.example.com/hook', /host internal\.example\.com resolves to 10\.1\.2\.3, a private address/, true],
    ['a hostname resolving to the metadata address', 'http://metadata.example.com/', /resolves to 169\.254\.169\.254, a cloud metadata/, true],
    ['a hostname resolving to public and private addresses', 'https://mixed.example.com/hook', /resolves to 192\.168\.1\.10/, true],
    ['a hostname resolving to public and unique-local IPv6 addresses', 'https://mixed6.example.com/hook', /resolves to fd12:3456::1, a unique-local/, true],
    ['an ftp URL', 'ftp://public.example.com/hook', /must use http or https, not ftp/, false],
    ['a file URL', 'file:///etc/passwd', /must use http or https, not file/, false],
    ['a URL with user:pass@', 'https://user:pass@public.example.com/hook', /credentials/, false],
    ['a URL with only a user', 'https://user@public.example.com/hook', /credentials/, false],
    ['not a URL', 'not a url', /not a valid URL/, false],
  ])('refuses %s before connecting', async (_name, url, reason, usesDns) => {
    const r = await postWebhook(url, '{}', { 'content-type': 'application/json' }, { allowPrivate: false, resolve: resolver, request: requestSpy as unknown as typeof http.request });
    expect(r.kind).toBe('refused');
    expect(r.kind === 'refused' ? r.reason : '').toMatch(reason);
    expect(requestSpy).not.toHaveBeenCalled();
    expect(connectSpy).not.toHaveBeenCalled();
    // Literal addresses are judged without asking DNS.
    expect(resolver.calls.length > 0).toBe(usesDns);
  });

  it.each([
    ['the metadata address', 'http://169.254.169.254/'],
    ['the unspecified address', 'http://0.0.0.0:8000/'],
    ['a multicast address', 'http://224.0.0.1/'],
    ['a hostname resolving to the metadata address', 'http://metadata.example.com/'],
  ])('refuses %s even when private targets are allowed', async (_name, url) => {
    const r = await postWebhook(url, '{}', {}, { allowPrivate: true, resolve: resolver, request: requestSpy as unknown as typeof http.request });
    expect(r.kind).toBe('refused');
    expect(requestSpy).not.toHaveBeenCalled();
    expect(connectSpy).not.toHaveBeenCalled();
  });

  it('reports a host that does not resolve as a network error (worth retrying), not a refusal', async () => {
    const check = await checkWebhookUrl('https://nowhere.example.com/hook', { allowPrivate: false, resolve: resolver });
    expect(check).toMatchObject({ ok: false, kind: 'unresolved', reason: expect.stringMatching(/nowhere\.example\.com could not be resolved/) });
    const r = await postWebhook('https://nowhere.example.com/hook', '{}', {}, { allowPrivate: false, resolve: resolver, request: requestSpy as unknown as typeof http.request });
    expect(r.kind).toBe('network_error');
    expect(requestSpy).not.toHaveBeenCalled();
    expect(connectSpy).not.toHaveBeenCalled();
  });

  it('gives up on a resolver that never answers', async () => {
    const hanging: Resolver = () => new Promise(() => undefined);
    const started = Date.now();
    const check = await checkWebhookUrl('https://slow.example.com/', { allowPrivate: false, resolve: hanging, resolveTimeoutMs: 100 });
    expect(check).toMatchObject({ ok: false, kind: 'unresolved', reason: expect.stringMatching(/longer than 100 ms/) });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('accepts a hostname whose every address is public, without connecting', async () => {
    const check = await checkWebhookUrl('https://public.example.com/hook?token=abc', { allowPrivate: false, resolve: resolver });
    expect(check.ok).toBe(true);
    expect(check.ok ? check.addresses.map((a) => a.address) : []).toEqual([publicV4, publicV6]);
    expect(connectSpy).not.toHaveBeenCalled();
  });
});

describe('the check at job submission', () => {
  it('refuses a private target with a 400 naming the field, before any job exists', async () => {
    const err = await assertWebhookUrl({ webhookAllowPrivate: false }, 'https://internal.example.com/hook', 'options.webhook_url', resolver).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ statusCode: 400, type: 'validation_error', details: { field: 'options.webhook_url', value: 'https://internal.example.com/hook' } });
    expect((err as ApiError).message).toMatch(/^options\.webhook_url: host internal\.example\.com resolves to 10\.1\.2\.3/);
  });

  it('refuses a host that does not resolve, naming the field given', async () => {
    await expect(assertWebhookUrl({ webhookAllowPrivate: false }, 'https://nowhere.example.com/', 'jobs[2].options.webhook_url', resolver)).rejects.toMatchObject({ statusCode: 400, details: { field: 'jobs[2].options.webhook_url' } });
  });

  it('accepts a public target, and loopback when private targets are allowed', async () => {
    await expect(assertWebhookUrl({ webhookAllowPrivate: false }, 'https://public.example.com/hook', 'options.webhook_url', resolver)).resolves.toBeUndefined();
    await expect(assertWebhookUrl({ webhookAllowPrivate: true }, 'http://127.0.0.1:9/hook')).resolves.toBeUndefined();
    await expect(assertWebhookUrl({ webhookAllowPrivate: false }, 'http://127.0.0.1:9/hook')).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('sending to an allowed target (a receiver on 127.0.0.1)', () => {
  interface Seen {
    url: string;
    host: string | undefined;
    body: string;
  }
  const seen: Seen[] = [];
  let mode: 'ok' | 'redirect' | 'hang' | 'big' = 'ok';
  let server: http.Server;
  let port = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', host: req.headers.host, body });
        if (mode === 'redirect') res.writeHead(302, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
        else if (mode === 'hang') return; // never answers
        else if (mode === 'big') res.writeHead(200).end(Buffer.alloc(1024 * 1024, 120));
        else res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    seen.length = 0;
    mode = 'ok';
  });

  it('refuses loopback by default and lets it through when private targets are allowed', async () => {
    const url = `http://127.0.0.1:${port}/hook`;
    expect((await postWebhook(url, '{"a":1}', {}, { allowPrivate: false })).kind).toBe('refused');
    expect(seen).toEqual([]);
    // The control for the spies above: an allowed target does go through Socket#connect.
    const connectSpy = vi.spyOn(net.Socket.prototype, 'connect');
    const r = await postWebhook(url, '{"a":1}', { 'content-type': 'application/json' }, { allowPrivate: true });
    const connects = connectSpy.mock.calls.length;
    connectSpy.mockRestore();
    expect(connects).toBeGreaterThan(0);
    expect(r).toEqual({ kind: 'response', status: 204, body: '' });
    expect(seen).toEqual([{ url: '/hook', host: `127.0.0.1:${port}`, body: '{"a":1}' }]);
  });

  it('connects to the checked address only: a second, different DNS answer (rebinding) is never used', async () => {
    const answers = ['127.0.0.1', '10.9.9.9'];
    const calls: string[] = [];
    const rebinding: Resolver = async (host) => {
      calls.push(host);
      const address = answers[Math.min(calls.length - 1, answers.length - 1)] as string;
      return [{ address, family: 4 }];
    };
    // The name does not exist in real DNS: the request can only arrive through the pinned address.
    const r = await postWebhook(`http://hooks.kubeff.invalid:${port}/pinned`, 'x', {}, { allowPrivate: true, resolve: rebinding });
    expect(r).toMatchObject({ kind: 'response', status: 204 });
    expect(calls).toEqual(['hooks.kubeff.invalid']);
    expect(seen).toEqual([{ url: '/pinned', host: `hooks.kubeff.invalid:${port}`, body: 'x' }]);
  });

  it('does not follow redirects', async () => {
    mode = 'redirect';
    const r = await postWebhook(`http://127.0.0.1:${port}/first`, '{}', {}, { allowPrivate: true });
    expect(r).toMatchObject({ kind: 'response', status: 302 });
    expect(seen.map((s) => s.url)).toEqual(['/first']);
  });

  it('stops waiting at the deadline', async () => {
    mode = 'hang';
    const started = Date.now();
    const r = await postWebhook(`http://127.0.0.1:${port}/slow`, '{}', {}, { allowPrivate: true, timeoutMs: 200 });
    expect(r).toEqual({ kind: 'network_error', reason: 'no complete response within 200 ms' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reads at most the response byte cap', async () => {
    mode = 'big';
    const r = await postWebhook(`http://127.0.0.1:${port}/big`, '{}', {}, { allowPrivate: true, maxResponseBytes: 1000 });
    expect(r.kind).toBe('response');
    expect(r.kind === 'response' ? r.body.length : -1).toBe(1000);
  });

  it('reports a refused connection as a network error', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await postWebhook(`http://127.0.0.1:${freePort}/`, '{}', {}, { allowPrivate: true });
    expect(r).toMatchObject({ kind: 'network_error', reason: expect.stringMatching(/ECONNREFUSED/) });
  });
});
