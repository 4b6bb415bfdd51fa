// HTTP(S) inputs and SSRF. A job's URL is chosen by an API client and fetched from inside the
// cluster, so URLs to loopback, private, link-local and metadata addresses are refused — literal
// or behind a hostname (resolved through an injected resolver here), and on every redirect hop —
// before any connection is made. The network guard fails any test that tries to connect outside
// 127.0.0.0/8 and ::1; victim servers on loopback count the connections they get (none); an
// FFmpeg spy shows that no refused URL reaches FFmpeg, and that an accepted one reaches it only
// as a downloaded file behind -protocol_whitelist file.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import type { ResolvedAddress, Resolver } from '../../worker-image/src/net/addresses.ts';
import { checkHttpInput, defaultHttpPolicy, downloadHttpInput, HttpInputError, openHttpInput, type HttpInputPolicy } from '../../worker-image/src/net/http-input.ts';
import { MemorySink } from '../../worker-image/src/events.ts';
import { JobFailure } from '../../worker-image/src/failure.ts';
import { runJob } from '../../worker-image/src/job.ts';
import { Storage } from '../../worker-image/src/storage.ts';
import { toolSpy, type ToolSpy } from '../support/ffmpeg-spy.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { ffprobe, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';
import { installNetGuard } from '../support/net-guard.ts';

const guard = installNetGuard();

const publicV4 = '93.184.215.14';

/** A resolver answering from a table (never the system's), recording what it was asked. */
function fakeResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host);
    const answer = table[host];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer.map((address) => ({ address, family: net.isIP(address) === 6 ? 6 : 4 }));
  };
  return Object.assign(fn, { calls });
}

const resolver = fakeResolver({
  'media.internal.example': ['10.0.0.7'],
  'mixed.example': [publicV4, '192.168.1.20'],
  'metadata.example': ['fd00:ec2::254'],
  'public.example': [publicV4],
  'loopback.example': ['127.0.0.1'],
});

/** A victim on loopback: counts every connection it receives. */
interface Victim {
  port: number;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

async function victim(host: string, handler?: http.RequestListener): Promise<Victim> {
  const v: Victim = { port: 0, connections: 0, requests: [], close: async () => undefined };
  const srv = http.createServer((req, res) => {
    v.requests.push(req.url ?? '');
    if (handler) return handler(req, res);
    res.end('secret');
  });
  srv.on('connection', () => v.connections++);
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  v.port = (srv.address() as AddressInfo).port;
  v.close = () => new Promise<void>((r) => {
    srv.closeAllConnections();
    srv.close(() => r());
  });
  return v;
}

let storage: StorageRoot;
let spy: ToolSpy;
let v4: Victim;
let v6: Victim | undefined;
let media: Victim;
let mp4: Buffer;

const policy = (p: Partial<HttpInputPolicy> = {}): HttpInputPolicy => ({ ...defaultHttpPolicy, resolve: resolver, ...p });

beforeAll(async () => {
  storage = makeStorage('kubeff-http-');
  spy = toolSpy(storage.root);
  makeSource(storage.host('/storage/in/video.mp4'), { seconds: 2 });
  mp4 = readFileSync(storage.host('/storage/in/video.mp4'));
  v4 = await victim('127.0.0.1');
  v6 = await victim('::1').catch(() => undefined);
  // A media server on loopback (reachable only with KUBEFF_HTTP_ALLOW_PRIVATE), with redirects.
  media = await victim('127.0.0.1', (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname === '/video.mp4') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': mp4.length });
      return res.end(mp4);
    }
    if (u.pathname === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });
      return res.end();
    }
    if (u.pathname === '/to-metadata-name') {
      res.writeHead(307, { location: 'http://metadata.example/latest/' });
      return res.end();
    }
    if (u.pathname === '/to-video') {
      res.writeHead(301, { location: '/video.mp4' });
      return res.end();
    }
    if (u.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' });
      return res.end();
    }
    if (u.pathname === '/huge') {
      res.writeHead(200, { 'content-type': 'video/mp4' });
      // Chunked, no length: the cap must cut it off while it streams.
      const chunk = Buffer.alloc(64 * 1024, 1);
      const write = () => {
        while (res.write(chunk)) { /* keep writing until backpressure */ }
      };
      res.on('drain', write);
      write();
      return;
    }
    if (u.pathname === '/declared-huge') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(50 * 1024 ** 3) });
      return res.write('x');
    }
    if (u.pathname === '/slow') {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(100 * 1024 * 1024) });
      const timer = setInterval(() => res.write(Buffer.alloc(16 * 1024)), 50);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (u.pathname === '/stall') return; // never answers
    res.writeHead(404);
    res.end();
  });
});

afterAll(async () => {
  await Promise.all([v4?.close(), v6?.close(), media?.close()]);
  storage?.remove();
});

async function refusedBy(raw: string, p: HttpInputPolicy): Promise<HttpInputError> {
  const err = await checkHttpInput(raw, p).then(() => undefined, (e: unknown) => e);
  if (!(err instanceof HttpInputError)) throw new Error(`${raw} was not refused: ${String(err)}`);
  return err;
}

describe('the network guard of these tests', () => {
  it('blocks and records a connection outside loopback before it is made', async () => {
    const err = await new Promise<Error>((resolve) => {
      const s = net.connect(80, '10.255.255.1');
      s.on('error', resolve);
      s.on('connect', () => resolve(new Error('connected!')));
    });
    expect(err.message).toMatch(/net-guard: connection to 10\.255\.255\.1:80 blocked/);
    expect(guard.violations.splice(0).map((x) => x.target)).toEqual(['10.255.255.1:80']);
    // A hostname for the system resolver is blocked too (DNS-independent).
    const viaDns = await new Promise<Error>((resolve) => net.connect(443, 'example.com').on('error', resolve));
    expect(viaDns.message).toMatch(/net-guard/);
    expect(guard.violations.splice(0)).toHaveLength(1);
  });
});

describe('HTTP input URLs: refused before any connection', () => {
  const cases: [string, (port: number) => string, RegExp][] = [
    ['127.0.0.1 (loopback)', (port) => `http://127.0.0.1:${port}/video.mp4`, /127\.0\.0\.1 is a loopback address; private targets are refused unless KUBEFF_HTTP_ALLOW_PRIVATE is set/],
    ['a 10.x private address', () => 'http://10.1.2.3/video.mp4', /10\.1\.2\.3 is a private address \(10\.0\.0\.0\/8\)/],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a cloud metadata address/],
    ['link-local', () => 'https://169.254.10.10/x.mp4', /link-local/],
    ['[::1] (IPv6 loopback)', (port) => `http://[::1]:${port}/video.mp4`, /::1 is a loopback address \(::1\)/],
    ['IPv4-mapped IPv6 of 10.x', () => 'http://[::ffff:10.0.0.1]/x.mp4', /private address \(10\.0\.0\.0\/8\) \(IPv4-mapped IPv6\)/],
    ['a decimal-encoded loopback', () => 'http://2130706433/x.mp4', /127\.0\.0\.1 is a loopback address/],
    ['a hostname resolving to a private address', () => 'http://media.internal.example/video.mp4', /host media\.internal\.example resolves to 10\.0\.0\.7, a private address/],
    ['a hostname with one private address among public ones', () => 'https://mixed.example/video.mp4', /host mixed\.example resolves to 192\.168\.1\.20/],
    ['a hostname resolving to the IPv6 metadata address', () => 'http://metadata.example/', /resolves to fd00:ec2::254, a cloud metadata address/],
    ['credentials in the URL', () => 'http://user:pw@public.example/x.mp4', /must not contain credentials/],
    ['another scheme', () => 'ftp://public.example/x.mp4', /must use http or https/],
  ];

  it.each(cases)('refuses %s, and nothing connects', async (_name, url, why) => {
    const before = { v4: v4.connections, v6: v6?.connections ?? 0, attempts: guard.attempts.length };
    const u = url(url(0).includes('[::1]') ? (v6?.port ?? 9) : v4.port);
    const err = await refusedBy(u, policy());
    expect(err.kind).toBe('refused');
    expect(err.message).toMatch(why);
    // And through the storage layer, as the gateway checks inputs: a JobFailure naming the field.
    // (Other schemes never get there: the spec allows only /storage/, s3:// and http(s)://.)
    if (u.startsWith('ftp:')) return;
    const s = new Storage(storage.root, { http: { resolve: resolver } });
    const failure = await s.input(u, 'input').then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(JobFailure);
    expect((failure as JobFailure).field).toBe('input');
    expect((failure as JobFailure).code).toBe('INVALID_INPUT');
    expect((failure as JobFailure).message).toMatch(why);
    expect({ v4: v4.connections, v6: v6?.connections ?? 0, attempts: guard.attempts.length }, 'no socket was opened').toEqual(before);
  });

  it('refuses a redirect to the metadata address (literal or by name) even where private targets are allowed, without connecting to it', async () => {
    const allowed = policy({ allowPrivate: true });
    for (const path of ['/to-metadata', '/to-metadata-name']) {
      const err = await openHttpInput(`http://127.0.0.1:${media.port}${path}`, allowed).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(HttpInputError);
      expect((err as HttpInputError).kind).toBe('refused');
      expect((err as Error).message).toMatch(/^redirected to http:\/\/(169\.254\.169\.254|metadata\.example)\/latest\/.*: .*cloud metadata address/);
    }
    // Only the media server was connected to (the guard would have failed the test otherwise).
    expect(guard.attempts.every((a) => a.host === '127.0.0.1' || a.host === '::1')).toBe(true);
  });

  it('checks every redirect hop: a public URL redirecting to a private address is refused before the second connection', async () => {
    // A request function standing in for the public server (no socket at all): it answers 302.
    const asked: string[] = [];
    const fakeRequest = ((url: URL, _opts: unknown, cb: (res: unknown) => void) => {
      asked.push(String(url));
      const res = Object.assign(new EventEmitter(), {
        statusCode: 302, statusMessage: 'Found', headers: { location: 'http://10.20.30.40/internal.mp4' },
        socket: { setTimeout: () => undefined }, destroy: () => undefined,
      });
      const req = Object.assign(new EventEmitter(), { end: () => setImmediate(() => cb(res)), destroy: () => undefined });
      return req;
    }) as unknown as typeof http.request;
    const err = await openHttpInput('http://public.example/video.mp4', policy({ request: { http: fakeRequest, https: fakeRequest as never } })).then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).toBe('redirected to http://10.20.30.40/internal.mp4: 10.20.30.40 is a private address (10.0.0.0/8); private targets are refused unless KUBEFF_HTTP_ALLOW_PRIVATE is set');
    expect(asked).toEqual(['http://public.example/video.mp4']);
  });

  it('enforces the limits: redirects, declared and streamed size, response time', async () => {
    const allowed = policy({ allowPrivate: true, maxBytes: 1024 * 1024, headersTimeoutMs: 300 });
    const base = `http://127.0.0.1:${media.port}`;
    await expect(openHttpInput(`${base}/loop`, allowed)).rejects.toThrow('more than 5 redirects');
    await expect(openHttpInput(`${base}/declared-huge`, allowed)).rejects.toThrow(/is 53687091200 bytes, more than the 1048576 bytes/);
    const file = storage.host('/storage/tmp-huge.bin');
    await expect(downloadHttpInput(`${base}/huge`, file, allowed)).rejects.toThrow('is more than the 1048576 bytes an input may have');
    await expect(openHttpInput(`${base}/stall`, allowed)).rejects.toThrow(/no response from 127\.0\.0\.1:\d+ within 300 ms/);
    await expect(openHttpInput(`${base}/missing.mp4`, allowed)).rejects.toThrow(/answered 404/);
  });
});

describe('HTTP inputs in the worker', () => {
  const run = async (spec: unknown, s: Storage) => {
    const sink = new MemorySink();
    return runJob(spec, { jobId: `h-${Math.random().toString(36).slice(2, 8)}`, storage: s, tools: spy.tools, sink });
  };

  it('never hands a refused URL to FFmpeg or ffprobe: the job fails as invalid input naming the field', async () => {
    const s = new Storage(storage.root, { http: { resolve: resolver } });
    const before = { ffmpeg: spy.ffmpegCalls().length, args: spy.allArgs().length, conns: v4.connections };
    const urls = [
      `http://127.0.0.1:${v4.port}/video.mp4`,
      'http://10.0.0.1/video.mp4',
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${v6?.port ?? 9}/video.mp4`,
      'http://media.internal.example/video.mp4',
    ];
    for (const url of urls) {
      const r = await run(normalizeRequest('convert', { input: url, output: '/storage/out/never.mp4' }), s);
      expect(r.result.error, url).toMatchObject({ code: 'INVALID_INPUT', field: 'input.path', retryable: false });
      expect(r.exitCode).toBe(65);
    }
    // A watermark image and an analysis reference are inputs too.
    const wm = await run(normalizeRequest('convert', { input: '/storage/in/video.mp4', output: '/storage/out/never.mp4', operations: [{ type: 'watermark', image: 'http://169.254.169.254/logo.png' }] }), s);
    expect(wm.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'operations.watermark.image' });
    const ref = await run(normalizeRequest('analyze', { input: '/storage/in/video.mp4', reference: 'http://10.9.9.9/ref.mp4', metrics: ['psnr'] }), s);
    expect(ref.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'reference' });
    expect(spy.ffmpegCalls().length, 'FFmpeg never ran a step').toBe(before.ffmpeg);
    expect(spy.allArgs().slice(before.args), 'no URL ever reached FFmpeg or ffprobe').not.toMatch(/https?:\/\/|10\.0\.0\.1|169\.254/);
    expect(v4.connections).toBe(before.conns);
  });

  it('refuses a redirect to a metadata address in a job, and FFmpeg never runs', async () => {
    const s = new Storage(storage.root, { http: { resolve: resolver, allowPrivate: true } });
    const before = spy.ffmpegCalls().length;
    const r = await run(normalizeRequest('convert', { input: `http://127.0.0.1:${media.port}/to-metadata`, output: '/storage/out/never.mp4' }), s);
    expect(r.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'input.path' });
    expect(r.result.error?.message).toMatch(/redirected to http:\/\/169\.254\.169\.254\/latest\/meta-data\/iam\/security-credentials\/: 169\.254\.169\.254 is a cloud metadata address/);
    expect(spy.ffmpegCalls().length).toBe(before);
  });

  it('stops a download when the job is cancelled: cancelled (exit 80), nothing left in scratch', async () => {
    const s = new Storage(storage.root, { http: { resolve: resolver, allowPrivate: true } });
    const abort = new AbortController();
    const sink = new MemorySink();
    const running = runJob(normalizeRequest('convert', { input: `http://127.0.0.1:${media.port}/slow`, output: '/storage/out/slow.mp4' }), { jobId: 'cancel-dl', storage: s, tools: spy.tools, sink, signal: abort.signal });
    await new Promise((r) => setTimeout(r, 400));
    expect(sink.events.some((e) => e.type === 'stage' && (e as { stage: string }).stage === 'downloading')).toBe(true);
    abort.abort();
    const r = await running;
    expect(r.result.status).toBe('cancelled');
    expect(r.exitCode).toBe(80);
  });

  it('converts an allowed URL (redirect followed) from a file downloaded into scratch: FFmpeg gets only file: behind -protocol_whitelist file', async () => {
    const s = new Storage(storage.root, { http: { resolve: resolver, allowPrivate: true } });
    const before = spy.ffmpegCalls().length;
    const url = `http://127.0.0.1:${media.port}/to-video`;
    const r = await run(normalizeRequest('convert', { input: url, output: { path: '/storage/out/from-http.mp4', video: { preset: 'ultrafast' } } }), s);
    expect(r.result.status, JSON.stringify(r.result.error)).toBe('completed');
    expect(videoStream(ffprobe(storage.host('/storage/out/from-http.mp4'))).codec_name).toBe('h264');
    const calls = spy.ffmpegCalls().slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/-protocol_whitelist file -i file:\/\S+\/input-\w+\/source /);
    expect(calls[0]).not.toMatch(/https?:\/\//);
  });
});

describe('HTTP inputs through the API', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
    gw.s.deps.storage = new Storage(gw.storage.root, { http: { resolve: resolver } });
    makeSource(gw.storage.host('/storage/in/video.mp4'), { seconds: 1 });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it.each([
    ['input', { input: 'http://169.254.169.254/latest/meta-data/', output: '/storage/out/x.mp4' }, /169\.254\.169\.254 is a cloud metadata address/],
    ['input', { input: `http://127.0.0.1:${0}/video.mp4`, output: '/storage/out/x.mp4' }, /loopback/],
    ['input', { input: { path: 'http://media.internal.example/v.mp4' }, output: '/storage/out/x.mp4' }, /resolves to 10\.0\.0\.7/],
    ['operations[0].image', { input: '/storage/in/video.mp4', output: '/storage/out/x.mp4', operations: [{ type: 'watermark', image: 'http://10.0.0.2/logo.png' }] }, /10\.0\.0\.2 is a private address/],
  ])('answers 400 naming %s', async (field, body, why) => {
    const res = await gw.api('/api/v1/convert', { method: 'POST', json: body });
    const got = (await res.json()) as { error: { code: string; message: string; details: { field: string } } };
    expect(res.status, JSON.stringify(got)).toBe(400);
    expect(got.error.code).toBe('INVALID_INPUT');
    expect(got.error.details.field).toBe(field);
    expect(got.error.message).toMatch(why);
  });
});
