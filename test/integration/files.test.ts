// File upload and download over a real loopback port: uploads streamed to disk and checked by
// size, magic bytes and ffprobe; downloads with Range and conditional requests; and which key may
// write and read what (a client key: its own uploads and its own jobs' outputs, nothing else).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../gateway/src/auth.ts';
import { configFromEnv } from '../../gateway/src/config.ts';
import { filesPlugin } from '../../gateway/src/routes/files.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import { audioStream, ffprobe, makeSource, videoStream } from '../support/media.ts';

interface Server {
  s: Standalone;
  url: string;
  storage: string;
  data: string;
}

const keys = { k1: 'k1', k2: 'k2', adm: 'adm' } as const;
/** Key ids of keys from the environment, as auth.ts derives them. */
const idOf = (raw: string) => `env-${hashKey(raw).slice(0, 12)}`;
const MiB = 1024 * 1024;

async function start(env: Record<string, string> = {}): Promise<Server> {
  const storage = mkdtempSync(join(tmpdir(), 'kubeff-files-'));
  const data = mkdtempSync(join(tmpdir(), 'kubeff-files-data-'));
  const s = await startStandalone(configFromEnv({
    PORT: '0',
    KUBEFF_STORAGE_ROOT: storage,
    KUBEFF_DATA_DIR: data,
    KUBEFF_API_KEYS: 'k1,k2',
    KUBEFF_ADMIN_KEYS: 'adm',
    LOG_LEVEL: 'warn',
    // Many requests in a row; the rate limiter is tested elsewhere.
    KUBEFF_RATE_LIMIT_PER_SECOND: '100000',
    KUBEFF_RATE_LIMIT_PER_HOUR: '1000000',
    ...env,
  }), { plugins: [filesPlugin] });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = s.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('the server has no port');
  return { s, url: `http://127.0.0.1:${addr.port}`, storage, data };
}

async function stop(srv: Server | undefined): Promise<void> {
  if (!srv) return;
  await srv.s.close();
  rmSync(srv.storage, { recursive: true, force: true });
  rmSync(srv.data, { recursive: true, force: true });
}

const host = (srv: Server, storagePath: string) => join(srv.storage, storagePath.replace(/^\/storage\//, ''));
const filesUrl = (srv: Server, query: Record<string, string>) => `${srv.url}/api/v1/files?${new URLSearchParams(query).toString()}`;

interface ErrorEnvelope {
  error: { type: string; code: string; message: string; details?: { field?: string; value?: unknown } };
}
interface Uploaded {
  file: { path: string; size_bytes: number; format: string; duration_seconds: number; video_codec: string | null; audio_codec: string | null; width: number | null; height: number | null };
}

async function uploadBuffer(srv: Server, key: string, body: Uint8Array, query: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(filesUrl(srv, query), { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/octet-stream', ...headers }, body });
}

async function get(srv: Server, key: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return fetch(filesUrl(srv, { path }), { method, headers: { 'x-api-key': key, ...headers } });
}

async function expectError(res: Response, status: number, field: string | RegExp, code?: string): Promise<ErrorEnvelope> {
  const body = (await res.json()) as ErrorEnvelope;
  expect(res.status, JSON.stringify(body)).toBe(status);
  if (typeof field === 'string') expect(body.error.details?.field).toBe(field);
  else expect(body.error.details?.field).toMatch(field);
  if (code) expect(body.error.code).toBe(code);
  return body;
}

interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request through node:http, its body written with backpressure from an async source and
 * stopped as soon as a response arrives (a refusal can come while the body is still going out).
 * `onWritten` sees the running byte count; returning false abandons the request (a client that
 * goes away mid-upload), which resolves with status 0.
 */
function send(url: string, opts: { method?: string; headers: Record<string, string>; body?: AsyncIterable<Uint8Array>; onWritten?: (bytes: number) => boolean | Promise<boolean> }): Promise<Sent> {
  return new Promise((resolve, reject) => {
    // A keep-alive connection, as browsers and curl use: with `Connection: close` Node's server
    // closes the socket right after a refusal, and the unread body turns that into a reset.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent });
    req.on('close', () => agent.destroy());
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        req.destroy();
      });
      res.on('error', reject);
    });
    // A write racing the server's refusal may fail; only a failure before any answer counts.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const write = async () => {
      let written = 0;
      for await (const chunk of opts.body ?? []) {
        if (answered || req.destroyed) return;
        const ok = req.write(chunk);
        written += chunk.length;
        if (opts.onWritten && !(await opts.onWritten(written))) {
          req.destroy();
          resolve({ status: 0, headers: {}, body: Buffer.alloc(0) });
          return;
        }
        if (!ok) await new Promise((r) => { req.once('drain', r); req.once('close', r); });
      }
      if (!answered && !req.destroyed) req.end();
    };
    write().catch(reject);
  });
}

/** `total` bytes made of `seed` repeated, always the same Buffer, so the client holds no copies. */
async function* repeated(seed: Buffer, total: number): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += seed.length) yield sent + seed.length <= total ? seed : seed.subarray(0, total - sent);
}

/**
 * The garbage collector, so a measurement starts from live memory only. --expose-gc set at run
 * time takes effect in a context created afterwards.
 */
v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Peak RSS growth over a baseline while fn runs, sampled every 10 ms. */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; growthMiB: number; baselineMiB: number; peakMiB: number }> {
  collectGarbage();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growthMiB: (peak - baseline) / MiB, baselineMiB: baseline / MiB, peakMiB: peak / MiB };
  } finally {
    clearInterval(timer);
  }
}

/** Files in a folder tree, as paths relative to it. */
function tree(dir: string): string[] {
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const full = join(dir, e);
    if (statSync(full).isDirectory()) out = out.concat(tree(full).map((f) => join(e, f)));
    else out.push(e);
  }
  return out;
}

async function waitFor(what: string, check: () => boolean, deadlineMs = 10_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let srv: Server;
let work: string;
let mp4: Buffer; // 320x240, 2 s, h264 + aac
let ts: Buffer; // MPEG-TS: byte-wise concatenations of it are still readable
let k1Upload: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kubeff-files-media-'));
  mp4 = readFileSync(makeSource(join(work, 'src.mp4')));
  ts = readFileSync(makeSource(join(work, 'src.ts'), { seconds: 1 }));
  srv = await start({ KUBEFF_MAX_UPLOAD_BYTES: String(512 * MiB) });
});
afterAll(async () => {
  await stop(srv);
  rmSync(work, { recursive: true, force: true });
});

describe('upload', () => {
  it('stores a file under the key\'s own uploads folder, checked by ffprobe, and describes it', async () => {
    const res = await uploadBuffer(srv, keys.k1, mp4, { filename: 'my clip.mp4' }, { 'content-type': 'video/mp4' });
    const body = (await res.json()) as Uploaded;
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body.file.path).toMatch(new RegExp(`^/storage/uploads/${idOf(keys.k1)}/[0-9a-f-]{36}-my_clip\\.mp4$`));
    expect(res.headers.get('location')).toBe(`/api/v1/files?path=${encodeURIComponent(body.file.path)}`);
    expect(body.file).toMatchObject({ size_bytes: mp4.length, video_codec: 'h264', audio_codec: 'aac', width: 320, height: 240 });
    expect(body.file.format).toContain('mp4');
    expect(body.file.duration_seconds).toBeGreaterThan(1.9);
    const stored = host(srv, body.file.path);
    expect(readFileSync(stored).equals(mp4)).toBe(true);
    const probed = ffprobe(stored);
    expect(videoStream(probed).codec_name).toBe('h264');
    expect(audioStream(probed).codec_name).toBe('aac');
    expect(tree(host(srv, `/storage/uploads/${idOf(keys.k1)}`)).filter((f) => f.endsWith('.part'))).toEqual([]);
    k1Upload = body.file.path;
  });

  it('takes the name from Content-Disposition, and gives a nameless upload the extension its bytes say', async () => {
    const named = (await (await uploadBuffer(srv, keys.k1, mp4, {}, { 'content-disposition': 'attachment; filename="../../evil name.mov"' })).json()) as Uploaded;
    expect(named.file.path).toMatch(new RegExp(`^/storage/uploads/${idOf(keys.k1)}/[0-9a-f-]{36}-evil_name\\.mov$`));
    const star = (await (await uploadBuffer(srv, keys.k1, mp4, {}, { 'content-disposition': "attachment; filename*=UTF-8''caf%C3%A9.mp4" })).json()) as Uploaded;
    expect(star.file.path).toMatch(/-caf_\.mp4$/);
    const nameless = (await (await uploadBuffer(srv, keys.k1, ts)).json()) as Uploaded;
    expect(nameless.file.path).toMatch(/-upload\.ts$/);
    expect(nameless.file.format).toBe('mpegts');
  });

  it('writes to an explicit path, refuses to replace a file unless told to, and refuses a folder', async () => {
    const path = `/storage/uploads/${idOf(keys.k1)}/explicit/clip.mp4`;
    expect((await uploadBuffer(srv, keys.k1, mp4, { path })).status).toBe(201);
    await expectError(await uploadBuffer(srv, keys.k1, ts, { path }), 409, 'path', 'FILE_EXISTS');
    expect(readFileSync(host(srv, path)).equals(mp4), 'the first file is kept').toBe(true);
    const replaced = await uploadBuffer(srv, keys.k1, ts, { path, overwrite: 'true' });
    expect(replaced.status).toBe(201);
    expect(readFileSync(host(srv, path)).equals(ts)).toBe(true);
    await expectError(await uploadBuffer(srv, keys.k1, ts, { path: `/storage/uploads/${idOf(keys.k1)}/explicit/` }), 400, 'path');
    await expectError(await uploadBuffer(srv, keys.k1, ts, { path: `/storage/uploads/${idOf(keys.k1)}/explicit` }), 409, 'path', 'PATH_CONFLICT');
  });

  it('streams a ~300 MB chunked upload to disk with flat memory, and streams it back the same way', async () => {
    const total = 300 * MiB;
    const path = `/storage/uploads/${idOf(keys.k1)}/big.ts`;
    const upload = (bytes: number) => send(filesUrl(srv, { path, overwrite: 'true' }), { headers: { 'x-api-key': keys.k1, 'content-type': 'video/mp2t' }, body: repeated(ts, bytes) });
    // A first, smaller upload lets the allocator reach its working size (freed native buffers
    // stay in the process), so the measured one shows what grows with the body: nothing should.
    expect((await upload(32 * MiB)).status).toBe(201);
    const up = await peakRssGrowth(() => upload(total));
    const body = JSON.parse(up.result.body.toString()) as Uploaded;
    expect(up.result.status, up.result.body.toString()).toBe(201);
    expect(body.file.size_bytes).toBe(total);
    expect(statSync(host(srv, path)).size).toBe(total);
    expect(ffprobe(host(srv, path)).format).toBe('mpegts');
    console.log(`upload of ${total / MiB} MiB: rss baseline ${up.baselineMiB.toFixed(0)} MiB, peak ${up.peakMiB.toFixed(0)} MiB, growth ${up.growthMiB.toFixed(1)} MiB`);
    expect(up.growthMiB).toBeLessThan(100);

    const expected = createHash('sha256');
    for await (const c of repeated(ts, total)) expected.update(c);
    const down = await peakRssGrowth(() => new Promise<{ bytes: number; sha: string; status: number }>((resolve, reject) => {
      http.get(filesUrl(srv, { path }), { headers: { 'x-api-key': keys.k1 }, agent: false }, (res) => {
        const h = createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => { bytes += c.length; h.update(c); });
        res.on('end', () => resolve({ bytes, sha: h.digest('hex'), status: res.statusCode ?? 0 }));
        res.on('error', reject);
      }).on('error', reject);
    }));
    console.log(`download of ${total / MiB} MiB: rss baseline ${down.baselineMiB.toFixed(0)} MiB, peak ${down.peakMiB.toFixed(0)} MiB, growth ${down.growthMiB.toFixed(1)} MiB`);
    expect(down.result).toEqual({ bytes: total, sha: expected.digest('hex'), status: 200 });
    expect(down.growthMiB).toBeLessThan(100);
    rmSync(host(srv, path));
  });

  it('refuses bodies that are not media by their first bytes (415), naming body, and keeps nothing', async () => {
    const folder = `/storage/uploads/${idOf(keys.k2)}`;
    const text = Buffer.from('just some text, not a video at all\n'.repeat(200));
    await expectError(await uploadBuffer(srv, keys.k2, text, { filename: 'notes.mp4' }), 415, 'body', 'UNSUPPORTED_MEDIA_TYPE');
    // An ELF executable: the node binary's first 64 KiB.
    const elf = readFileSync(process.execPath).subarray(0, 64 * 1024);
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    await expectError(await uploadBuffer(srv, keys.k2, elf, { filename: 'video.mp4' }, { 'content-type': 'video/mp4' }), 415, 'body');
    expect(tree(host(srv, folder))).toEqual([]);
  });

  it('refuses a Content-Type that is not a file\'s (415 naming Content-Type)', async () => {
    await expectError(await uploadBuffer(srv, keys.k2, mp4, {}, { 'content-type': 'text/plain' }), 415, 'Content-Type');
    await expectError(await uploadBuffer(srv, keys.k2, mp4, {}, { 'content-type': 'multipart/form-data; boundary=x' }), 415, 'Content-Type');
    await expectError(await uploadBuffer(srv, keys.k2, mp4, {}, { 'content-type': 'application/json' }), 415, 'Content-Type');
  });

  it('refuses a file with the right magic bytes that ffprobe cannot read (400 INVALID_INPUT), and an empty body', async () => {
    const folder = `/storage/uploads/${idOf(keys.k2)}`;
    // A real ftyp box, then noise: looks like MP4, is not one.
    const noise = Buffer.alloc(256 * 1024);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const corrupt = Buffer.concat([mp4.subarray(0, 32), noise]);
    const err = await expectError(await uploadBuffer(srv, keys.k2, corrupt, { filename: 'broken.mp4' }), 400, 'body', 'INVALID_INPUT');
    expect(err.error.message).toMatch(/corrupt or not media/);
    await expectError(await uploadBuffer(srv, keys.k2, new Uint8Array(0)), 400, 'body');
    expect(tree(host(srv, folder))).toEqual([]);
  });

  it('checks paths like job paths: no escaping storage, no other key\'s folder; admin keys may write anywhere in storage', async () => {
    const own = `/storage/uploads/${idOf(keys.k1)}`;
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { path: `${own}/../../../etc/x.mp4` }), 400, 'path');
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { path: '/etc/cron.d/x.mp4' }), 400, 'path');
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { path: 'file:///etc/x.mp4' }), 400, 'path');
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { path: `${own}/100%.mp4` }), 400, 'path');
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { path: `/storage/uploads/${idOf(keys.k2)}/x.mp4` }), 403, 'path', 'ACCESS_DENIED');
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { path: '/storage/input/x.mp4' }), 403, 'path', 'ACCESS_DENIED');
    await expectError(await uploadBuffer(srv, keys.k1, mp4, { nope: '1' }), 400, /querystring/);
    expect(tree(host(srv, `/storage/uploads/${idOf(keys.k2)}`))).toEqual([]);

    // A symlink inside storage that leads out of it: refused for writing by its real path.
    const outside = mkdtempSync(join(tmpdir(), 'kubeff-outside-'));
    symlinkSync(outside, join(srv.storage, 'escape'));
    await expectError(await uploadBuffer(srv, keys.adm, mp4, { path: '/storage/escape/x.mp4' }), 400, 'path');
    expect(readdirSync(outside)).toEqual([]);
    rmSync(outside, { recursive: true, force: true });

    const admin = await uploadBuffer(srv, keys.adm, mp4, { path: '/storage/input/admin.mp4' });
    expect(admin.status).toBe(201);
    expect(statSync(host(srv, '/storage/input/admin.mp4')).size).toBe(mp4.length);
  });

  it('replays a retried upload with the same Idempotency-Key, and refuses the key for another target (422)', async () => {
    const first = await uploadBuffer(srv, keys.adm, mp4, { path: '/storage/idem/a.mp4' }, { 'idempotency-key': 'upload-1' });
    const firstBody = (await first.json()) as Uploaded;
    expect(first.status).toBe(201);
    const retry = await uploadBuffer(srv, keys.adm, mp4, { path: '/storage/idem/a.mp4' }, { 'idempotency-key': 'upload-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toEqual(firstBody);
    await expectError(await uploadBuffer(srv, keys.adm, mp4, { path: '/storage/idem/b.mp4' }, { 'idempotency-key': 'upload-1' }), 422, 'Idempotency-Key', 'IDEMPOTENCY_KEY_REUSED');
    expect(tree(host(srv, '/storage/idem'))).toEqual(['a.mp4']);
  });

  it('needs a key', async () => {
    const res = await fetch(filesUrl(srv, {}), { method: 'POST', headers: { 'content-type': 'video/mp4' }, body: mp4 });
    await expectError(res, 401, 'X-API-Key', 'UNAUTHORIZED');
  });

  it('removes the partial file when the client goes away mid-upload', async () => {
    const folder = host(srv, `/storage/uploads/${idOf(keys.k2)}/aborted`);
    const parts = () => tree(folder).filter((f) => f.endsWith('.part'));
    const res = await send(filesUrl(srv, { path: `/storage/uploads/${idOf(keys.k2)}/aborted/x.ts` }), {
      headers: { 'x-api-key': keys.k2, 'content-type': 'video/mp2t' },
      body: repeated(ts, 64 * MiB),
      // Keep sending until the server has started the temporary file, then vanish.
      onWritten: async (bytes) => {
        if (bytes < 2 * MiB) return true;
        await waitFor('the temporary file', () => parts().length > 0);
        return false;
      },
    });
    expect(res.status).toBe(0);
    await waitFor('the temporary file to be removed', () => parts().length === 0);
    expect(tree(folder)).toEqual([]);
  });
});

describe('upload size limit', () => {
  let small: Server;
  beforeAll(async () => {
    small = await start({ KUBEFF_MAX_UPLOAD_BYTES: String(MiB) });
  });
  afterAll(() => stop(small));
  const folder = () => host(small, `/storage/uploads/${idOf(keys.k1)}`);

  it('refuses a declared Content-Length over the limit before reading the body (413)', async () => {
    const res = await send(filesUrl(small, {}), {
      headers: { 'x-api-key': keys.k1, 'content-type': 'video/mp2t', 'content-length': String(2 * MiB) },
      // Headers only: the answer must come without the body.
      body: (async function* () {})(),
    });
    const body = JSON.parse(res.body.toString()) as ErrorEnvelope;
    expect(res.status).toBe(413);
    expect(body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { field: 'body' } });
    expect(tree(folder())).toEqual([]);
  });

  it('refuses a chunked body once it passes the limit (413) and leaves no file behind', async () => {
    const res = await send(filesUrl(small, { filename: 'big.ts' }), { headers: { 'x-api-key': keys.k1, 'content-type': 'video/mp2t' }, body: repeated(ts, 8 * MiB) });
    const body = JSON.parse(res.body.toString()) as ErrorEnvelope;
    expect(res.status).toBe(413);
    expect(body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', details: { field: 'body' } });
    expect(tree(folder())).toEqual([]);
  });

  it('still takes a file under the limit', async () => {
    const res = await uploadBuffer(small, keys.k1, ts.subarray(0, Math.min(ts.length, MiB - 1024)));
    expect(res.status).toBe(201);
  });
});

describe('download', () => {
  it('streams the whole file with its type, length, ETag and Last-Modified', async () => {
    const res = await get(srv, keys.k1, k1Upload);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-length')).toBe(String(mp4.length));
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f-]+"$/);
    expect(Date.parse(res.headers.get('last-modified') ?? '')).toBeGreaterThan(0);
    expect(Buffer.from(await res.arrayBuffer()).equals(mp4)).toBe(true);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await get(srv, keys.k1, k1Upload, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(mp4.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    { range: 'bytes=0-99', start: 0, end: 99 },
    { range: 'bytes=100-', start: 100, end: -1 },
    { range: 'bytes=-100', start: -100, end: -1 },
    { range: 'bytes=10-10', start: 10, end: 10 },
    { range: 'bytes=1000-99999999', start: 1000, end: -1 },
  ])('serves Range $range as 206 with Content-Range', async ({ range, start, end }) => {
    const size = mp4.length;
    const s = start < 0 ? size + start : start;
    const e = end < 0 ? size - 1 : end;
    const res = await get(srv, keys.k1, k1Upload, { range });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${s}-${e}/${size}`);
    expect(res.headers.get('content-length')).toBe(String(e - s + 1));
    expect(Buffer.from(await res.arrayBuffer()).equals(mp4.subarray(s, e + 1))).toBe(true);
  });

  it('answers an unsatisfiable or malformed Range with 416 naming Range', async () => {
    const size = mp4.length;
    for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`, 'bytes=-0', 'bytes=50-10', 'bytes=abc']) {
      const res = await get(srv, keys.k1, k1Upload, { range });
      expect(res.headers.get('content-range'), range).toBe(`bytes */${size}`);
      await expectError(res, 416, 'Range', 'RANGE_NOT_SATISFIABLE');
    }
  });

  it('ignores a Range in another unit, and one whose If-Range no longer matches', async () => {
    const other = await get(srv, keys.k1, k1Upload, { range: 'items=0-1' });
    expect(other.status).toBe(200);
    expect((await other.arrayBuffer()).byteLength).toBe(mp4.length);
    const stale = await get(srv, keys.k1, k1Upload, { range: 'bytes=0-9', 'if-range': '"not-the-etag"' });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const etag = (await get(srv, keys.k1, k1Upload, {}, 'HEAD')).headers.get('etag') ?? '';
    const fresh = await get(srv, keys.k1, k1Upload, { range: 'bytes=0-9', 'if-range': etag });
    expect(fresh.status).toBe(206);
    expect((await fresh.arrayBuffer()).byteLength).toBe(10);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const etag = (await get(srv, keys.k1, k1Upload, {}, 'HEAD')).headers.get('etag') ?? '';
    const res = await get(srv, keys.k1, k1Upload, { 'if-none-match': etag });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
  });

  it('checks the path like an upload path (400 naming path)', async () => {
    await expectError(await get(srv, keys.adm, '/storage/../etc/passwd'), 400, 'path');
    await expectError(await get(srv, keys.adm, '/etc/passwd'), 400, 'path');
    await expectError(await fetch(`${srv.url}/api/v1/files`, { headers: { 'x-api-key': keys.k1 } }), 400, /path/);
  });

  it('hides files a client key may not read behind 404, the same answer as for a missing file', async () => {
    const missing = await expectError(await get(srv, keys.k1, `/storage/uploads/${idOf(keys.k1)}/nothing-here.mp4`), 404, 'path', 'NOT_FOUND');
    const others = await expectError(await get(srv, keys.k2, k1Upload), 404, 'path', 'NOT_FOUND');
    expect(others.error.message).toBe(missing.error.message);
    await expectError(await get(srv, keys.k1, '/storage/input/admin.mp4'), 404, 'path');
    expect((await get(srv, keys.k2, k1Upload, {}, 'HEAD')).status).toBe(404);
    // A folder is not a file.
    await expectError(await get(srv, keys.k1, `/storage/uploads/${idOf(keys.k1)}/explicit`), 404, 'path');
  });

  it('lets admin keys read anything in storage, but nothing through a symlink out of it', async () => {
    const res = await get(srv, keys.adm, k1Upload);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const outside = mkdtempSync(join(tmpdir(), 'kubeff-outside-'));
    writeFileSync(join(outside, 'secret.mp4'), mp4);
    mkdirSync(join(srv.storage, 'links'), { recursive: true });
    symlinkSync(join(outside, 'secret.mp4'), join(srv.storage, 'links', 'secret.mp4'));
    await expectError(await get(srv, keys.adm, '/storage/links/secret.mp4'), 404, 'path');
    rmSync(outside, { recursive: true, force: true });
  });
});

describe('job outputs', () => {
  async function runJob(kind: 'convert' | 'stream', key: string, body: unknown): Promise<{ id: string; outputs: { path: string; role: string }[] }> {
    const res = await fetch(`${srv.url}/api/v1/${kind}`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = (await res.json()) as { job: { id: string } };
    expect(res.status, JSON.stringify(created)).toBe(201);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const job = (await (await fetch(`${srv.url}/api/v1/jobs/${created.job.id}`, { headers: { 'x-api-key': key } })).json()) as { status: string; outputs: { path: string; role: string }[]; error: unknown };
      if (job.status === 'completed') return { id: created.job.id, outputs: job.outputs };
      if (job.status === 'failed' || job.status === 'cancelled') throw new Error(`job ${job.status}: ${JSON.stringify(job.error)}`);
      if (Date.now() > deadline) throw new Error(`job still ${job.status} after 90 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('lets the owner download a completed job\'s output, and no other client key', async () => {
    const { outputs } = await runJob('convert', keys.k1, { input: k1Upload, output: { path: '/storage/out/k1-job/result.mkv', video: { preset: 'ultrafast' } } });
    const out = outputs[0]?.path;
    expect(out).toBe('/storage/out/k1-job/result.mkv');
    const res = await get(srv, keys.k1, '/storage/out/k1-job/result.mkv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/x-matroska');
    const saved = join(work, 'downloaded.mkv');
    writeFileSync(saved, Buffer.from(await res.arrayBuffer()));
    expect(ffprobe(saved).format).toContain('matroska');
    expect(videoStream(ffprobe(saved)).width).toBe(320);
    await expectError(await get(srv, keys.k2, '/storage/out/k1-job/result.mkv'), 404, 'path');
    // Listing an output opens that file, not its neighbours.
    writeFileSync(host(srv, '/storage/out/k1-job/neighbour.mp4'), mp4);
    await expectError(await get(srv, keys.k1, '/storage/out/k1-job/neighbour.mp4'), 404, 'path');
  });

  it('opens the files under a job\'s playlist folder (segments, variant playlists) to its owner only', async () => {
    const { outputs } = await runJob('stream', keys.k1, { input: k1Upload, output: '/storage/out/k1-hls', type: 'hls', variants: [{ resolution: '240p', bitrate: '300k' }], segment_duration: 1 });
    expect(outputs.some((o) => o.role === 'playlist')).toBe(true);
    const files = tree(host(srv, '/storage/out/k1-hls')).map((f) => `/storage/out/k1-hls/${f.split('\\').join('/')}`);
    const segment = files.find((f) => /\.(ts|m4s|mp4)$/.test(f) && f.split('/').length > 5);
    if (!segment) throw new Error(`no segment among ${files.join(', ')}`);
    for (const f of [segment, '/storage/out/k1-hls/master.m3u8']) {
      const res = await get(srv, keys.k1, f);
      expect(res.status, f).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(statSync(host(srv, f)).size);
      await expectError(await get(srv, keys.k2, f), 404, 'path');
    }
    expect((await get(srv, keys.k1, '/storage/out/k1-hls/master.m3u8')).headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    // The folder above the playlist's is not opened by it.
    writeFileSync(host(srv, '/storage/out/beside-hls.mp4'), mp4);
    await expectError(await get(srv, keys.k1, '/storage/out/beside-hls.mp4'), 404, 'path');
  });
});
