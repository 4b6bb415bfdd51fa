// The SDK (@kubeff/client) against a real standalone server on a loopback port, with real FFmpeg
// jobs and temporary storage: every method, typed errors, event streams resumed across dropped
// connections (a proxy cuts them mid-event), large transfers with flat memory, webhook
// verification of real signed deliveries, and the README's SDK examples run as written.
import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../gateway/src/config.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import { KubeffClient, KubeffError, KubeffNetworkError, parseWebhook, verifyWebhook, WebhookVerificationError, type FetchLike, type JobEvent } from '../../sdk/src/index.ts';
import { startCuttingProxy } from '../support/cutting-proxy.ts';
import { ffprobe, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';
import { peakRssGrowth } from '../support/memory.ts';
import { readmeBlocks } from '../support/readme.ts';

const repo = join(import.meta.dirname, '..', '..');
const nodeBin = join(repo, 'node_modules', '.bin', 'node');
const MiB = 1024 * 1024;
const adminKey = 'sdk-test-admin-key-0001';
const clientKey = 'sdk-test-client-key-0002';
const clip = '/storage/input/clip.mp4'; // 320x240, 25 fps, 3 s, stereo
const mov = '/storage/input/video.mov'; // the README examples' input

let storage: StorageRoot;
let dataDir: string;
let work: string;
let s: Standalone;
let url: string;
let port: number;
let kubeff: KubeffClient;
let admin: KubeffClient;

// The webhook receiver: records every delivery with its raw body.
interface Delivery {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
const deliveries: Delivery[] = [];
let receiver: http.Server;
let receiverUrl: string;

beforeAll(async () => {
  storage = makeStorage('kubeff-sdk-');
  dataDir = mkdtempSync(join(tmpdir(), 'kubeff-sdk-data-'));
  work = mkdtempSync(join(tmpdir(), 'kubeff-sdk-work-'));
  makeSource(storage.host(clip), { seconds: 3, width: 320, height: 240 });
  makeSource(storage.host(mov), { seconds: 1, width: 320, height: 240 });
  s = await startStandalone(configFromEnv({
    PORT: '0',
    KUBEFF_STORAGE_ROOT: storage.root,
    KUBEFF_DATA_DIR: dataDir,
    KUBEFF_API_KEYS: clientKey,
    KUBEFF_ADMIN_KEYS: adminKey,
    KUBEFF_WEBHOOK_ALLOW_PRIVATE: 'true',
    KUBEFF_RATE_LIMIT_PER_SECOND: '1000',
    KUBEFF_RATE_LIMIT_PER_HOUR: '1000000',
    KUBEFF_MAX_UPLOAD_BYTES: String(512 * MiB),
    LOG_LEVEL: 'warn',
  }), { webhooks: { tickMs: 50, env: {} } });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  port = (s.app.server.address() as net.AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
  kubeff = new KubeffClient({ baseUrl: url, apiKey: clientKey });
  admin = new KubeffClient({ baseUrl: `${url}/api/v1/`, apiKey: adminKey });

  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  await s?.close();
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  storage?.remove();
  for (const d of [dataDir, work]) if (d) rmSync(d, { recursive: true, force: true });
});

/** The promise's rejection, which must be one; fails with what it resolved to otherwise. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then((v) => {
    throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
  }, (e: unknown) => e);
}

/** A running child process's outcome; killed after timeoutMs. Asynchronous: the server lives in this process. */
function run(cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} ran past ${o.timeoutMs ?? 90_000} ms\n${stdout}\n${stderr}`));
    }, o.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('jobs', () => {
  it('converts a file, waits for the job and downloads an output that ffprobe reads as asked', async () => {
    const job = await kubeff.convert({ input: clip, output: { path: '/storage/out/small.mp4', video: { codec: 'h264', preset: 'veryfast', resolution: '160x120' }, audio: { codec: 'aac' } } });
    expect(job.status).toBe('queued');
    const seen: string[] = [];
    const done = await kubeff.waitFor(job, { onEvent: (e) => seen.push(e.event), timeoutMs: 60_000 });
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(seen.at(-1)).toBe('complete');
    expect(seen).toContain('progress');

    const output = done.outputs[0];
    expect(output?.path).toBe('/storage/out/small.mp4');
    const file = await kubeff.files.download(output?.path ?? '');
    expect(file.status).toBe(200);
    expect(file.contentType).toBe('video/mp4');
    const saved = join(work, 'small.mp4');
    await pipeline(Readable.fromWeb(file.body), createWriteStream(saved));
    expect(statSync(saved).size).toBe(file.length);
    const v = videoStream(ffprobe(saved));
    expect([v.codec_name, v.width, v.height]).toEqual(['h264', 160, 120]);
  });

  it('packages HLS and measures quality, each followed to its end by waitFor', async () => {
    const [hls, quality] = await Promise.all([
      kubeff.stream({ input: clip, output: '/storage/out/hls', type: 'hls', variants: [{ resolution: '240p', bitrate: '300k', name: 'low' }], segment_duration: 1 }),
      kubeff.analyze({ input: clip, reference: clip, metrics: ['psnr', 'ssim'] }),
    ]);
    const [h, q] = await Promise.all([kubeff.waitFor(hls.id), kubeff.waitFor(quality)]);
    expect(h.status, JSON.stringify(h.error)).toBe('completed');
    expect(h.outputs.map((o) => o.role)).toContain('playlist');
    expect(q.status, JSON.stringify(q.error)).toBe('completed');
    // A file against itself: identical pictures.
    expect(q.metrics?.ssim?.mean).toBeCloseTo(1, 3);
  });

  it('estimates a job without creating one', async () => {
    const before = (await kubeff.jobs.list()).total;
    const e = await kubeff.estimate({ input: clip, output: { path: '/storage/out/e.mp4', video: { codec: 'h264' } } });
    expect(e.input.duration_seconds).toBeCloseTo(3, 0);
    expect(e.input.width).toBe(320);
    expect((await kubeff.jobs.list()).total).toBe(before);
  });

  it('submits a batch, reads it back with its jobs, and waits for each', async () => {
    const batch = await kubeff.batch({ batch_name: 'two sizes', jobs: [
      { input: clip, output: { path: '/storage/out/b1.mp4', video: { preset: 'ultrafast', resolution: '160x120' } } },
      { input: clip, output: { path: '/storage/out/b2.mp4', video: { preset: 'ultrafast', resolution: '240p' } } },
    ] });
    expect(batch.total).toBe(2);
    const jobs = await Promise.all(batch.jobs.map((j) => kubeff.waitFor(j)));
    expect(jobs.map((j) => j.status)).toEqual(['completed', 'completed']);
    const again = await kubeff.batches.get(batch.id);
    expect(again).toMatchObject({ id: batch.id, name: 'two sizes', status: 'completed', total: 2 });
    const cancelled = await kubeff.batches.cancel(batch.id);
    expect(cancelled.counts.completed, 'cancelling a finished batch changes nothing').toBe(2);
  });

  it('lists, reads, logs and cancels jobs; a finished job cannot be cancelled (409, not retryable)', async () => {
    // Upscaled with the slowest preset: still running when it is cancelled.
    const job = await kubeff.convert({ input: clip, output: { path: '/storage/out/slow.mp4', video: { resolution: '1080p', preset: 'veryslow' } } });
    const listed = await kubeff.jobs.list({ per_page: 100, sort: 'created_at:desc' });
    expect(listed.jobs.map((j) => j.id)).toContain(job.id);
    expect((await kubeff.jobs.get(job.id)).id).toBe(job.id);
    const cancelled = await kubeff.jobs.cancel(job.id);
    expect(cancelled.id).toBe(job.id);
    const done = await kubeff.waitFor(job);
    expect(done.status).toBe('cancelled');
    const err = await rejection(kubeff.jobs.cancel(job.id));
    expect(err).toBeInstanceOf(KubeffError);
    expect(err).toMatchObject({ status: 409, code: 'JOB_ALREADY_FINISHED', retryable: false });
    expect((await kubeff.jobs.list({ status: 'cancelled' })).jobs.map((j) => j.id)).toContain(job.id);
    const logs = await kubeff.jobs.logs(job.id, { lines: 5 });
    expect(logs.job_id).toBe(job.id);
    expect(logs.lines.length).toBeLessThanOrEqual(5);
  });

  it('reports a refused request as a KubeffError carrying the API\'s envelope and field', async () => {
    const err = await rejection(kubeff.convert({ input: clip, output: { path: '/storage/out/x.mp4', video: { codec: 'vp9' } } }));
    expect(err).toBeInstanceOf(KubeffError);
    const e = err as KubeffError;
    expect([e.status, e.code, e.field, e.retryable]).toEqual([400, 'INVALID_CODEC_FORMAT', 'output.video.codec', false]);
    expect(e.type).toBe('validation_error');
    expect(e.requestId).toMatch(/^req_/);
    expect(e.envelope?.error.doc_url).toEqual(expect.any(String));
    const missing = await rejection(kubeff.jobs.get('00000000-0000-0000-0000-000000000000'));
    expect(missing).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND' });
    // Another key's job is not found either: its existence is not disclosed.
    const own = await admin.convert({ input: clip, output: { path: '/storage/out/admin.mp4', video: { preset: 'ultrafast' } } });
    expect(await rejection(kubeff.jobs.get(own.id))).toMatchObject({ status: 404 });
    await admin.waitFor(own);
  });

  it('creates one job for two submissions with the same idempotency key', async () => {
    const body = { input: clip, output: { path: '/storage/out/once.mp4', video: { preset: 'ultrafast' as const } } };
    const a = await kubeff.convert(body, { idempotencyKey: 'sdk-once-1' });
    const b = await kubeff.convert(body, { idempotencyKey: 'sdk-once-1' });
    expect(b.id).toBe(a.id);
    await kubeff.waitFor(a);
  });
});

describe('events', () => {
  it('resumes across dropped connections without losing or repeating an event', async () => {
    // The first events connection is cut inside its 3rd event, the second inside its 3rd.
    const proxy = await startCuttingProxy(port, [2, 2]);
    try {
      const viaProxy = new KubeffClient({ baseUrl: proxy.url, apiKey: clientKey });
      const job = await kubeff.convert({ input: clip, output: { path: '/storage/out/events.mp4', video: { preset: 'medium' } } });
      const got: JobEvent[] = [];
      const reconnects: string[] = [];
      for await (const e of viaProxy.events(job.id, { logs: true, onReconnect: (r) => reconnects.push(r.reason) })) got.push(e);

      const ids = got.map((e) => Number(e.id));
      expect(got.at(-1)?.event, 'the final event arrives').toBe('complete');
      expect(reconnects, 'two dropped connections, two reconnections').toHaveLength(2);
      expect(proxy.eventRequests.map((r) => r.cut)).toEqual([true, true, false]);
      // Each reconnection asked to resume right after the last event it had whole.
      expect(proxy.eventRequests.map((r) => r.lastEventId)).toEqual([undefined, String(ids[1]), String(ids[3])]);
      for (let i = 1; i < ids.length; i++) expect(ids[i], `event ${i} follows event ${i - 1} (ids ${ids.join(',')})`).toBe((ids[i - 1] ?? 0) + 1);

      // The same as one uninterrupted read of the whole stream.
      const whole: string[] = [];
      for await (const e of kubeff.events(job.id, { logs: true })) whole.push(`${e.id} ${e.event} ${e.raw}`);
      expect(got.map((e) => `${e.id} ${e.event} ${e.raw}`)).toEqual(whole);
    } finally {
      await proxy.close();
    }
  });

  it('falls back to polling in waitFor when the event stream is out of reach', async () => {
    let eventCalls = 0;
    // A fetch in front of which something answers event streams with a web page (a misconfigured proxy).
    const noEvents: FetchLike = (input, init) => {
      if (input.includes('/events')) {
        eventCalls++;
        return Promise.resolve(new Response('<html>blocked</html>', { status: 200, headers: { 'content-type': 'text/html' } }));
      }
      return fetch(input, init);
    };
    const k = new KubeffClient({ baseUrl: url, apiKey: clientKey, fetch: noEvents });
    const job = await k.convert({ input: clip, output: { path: '/storage/out/polled.mp4', video: { preset: 'ultrafast' } } });
    const done = await k.waitFor(job, { pollIntervalMs: 100, timeoutMs: 60_000 });
    expect(done.status).toBe('completed');
    expect(eventCalls).toBe(1);
  });
});

describe('files', () => {
  let ts: Buffer; // MPEG-TS: byte-wise concatenations of it are still readable
  beforeAll(() => {
    ts = readFileSync(makeSource(join(work, 'src.ts'), { seconds: 1 }));
  });

  it('uploads from a Uint8Array, a Blob, a web ReadableStream and a Node Readable, and a job reads the upload', async () => {
    const bytes = new Uint8Array(ts);
    const sources = [
      bytes,
      new Blob([bytes], { type: 'video/mp2t' }),
      new ReadableStream<Uint8Array>({ start: (c) => { c.enqueue(bytes.subarray(0, 1000)); c.enqueue(bytes.subarray(1000)); c.close(); } }),
      Readable.from([ts.subarray(0, 5000), ts.subarray(5000)]),
    ];
    const uploaded = [];
    for (const [i, source] of sources.entries()) uploaded.push(await kubeff.files.upload(source, { filename: `clip-${i}.ts` }));
    for (const f of uploaded) {
      expect(f).toMatchObject({ size_bytes: ts.length, format: 'mpegts', video_codec: 'h264' });
      expect(f.path).toMatch(/^\/storage\/uploads\/env-[0-9a-f]{12}\/[0-9a-f-]{36}-clip-\d\.ts$/);
      expect(readFileSync(storage.host(f.path)).equals(ts)).toBe(true);
    }
    const job = await kubeff.convert({ input: uploaded[0]?.path ?? '', output: 'mp4' });
    expect((await kubeff.waitFor(job)).status).toBe('completed');
  });

  it('refuses what is not media with a KubeffError naming the body', async () => {
    const err = await rejection(kubeff.files.upload(new TextEncoder().encode('not a video\n'.repeat(100)), { filename: 'notes.mp4' }));
    expect(err).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', field: 'body' });
  });

  it('downloads a byte range, and a suffix range, as 206 with where the bytes lie', async () => {
    const f = await kubeff.files.upload(ts, { filename: 'ranged.ts' });
    const part = await kubeff.files.download(f.path, { range: { start: 100, end: 1099 } });
    expect(part.status).toBe(206);
    expect(part.range).toEqual({ start: 100, end: 1099, size: ts.length });
    expect(Buffer.from(await new Response(part.body).arrayBuffer()).equals(ts.subarray(100, 1100))).toBe(true);
    const tail = await kubeff.files.download(f.path, { range: 'bytes=-188' });
    expect(Buffer.from(await new Response(tail.body).arrayBuffer()).equals(ts.subarray(ts.length - 188))).toBe(true);
    const outside = await rejection(kubeff.files.download(f.path, { range: { start: ts.length + 10 } }));
    expect(outside).toMatchObject({ status: 416, code: 'RANGE_NOT_SATISFIABLE' });
  });

  it('makes a signed link: an absolute URL that downloads a range without any key until it expires', async () => {
    const f = await kubeff.files.upload(ts, { filename: 'linked.ts' });
    const before = Date.now();
    const link = await kubeff.files.link(f.path, { expiresIn: 60 });
    expect(link.url.startsWith(`${url}/api/v1/files?`), link.url).toBe(true);
    expect(link.expiresAt.getTime() - before).toBeGreaterThanOrEqual(59_000);
    expect(link.expiresAt.getTime() - before).toBeLessThanOrEqual(62_000);
    const part = await fetch(link.url, { headers: { range: 'bytes=188-375' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(ts.subarray(188, 376))).toBe(true);
    // A base URL given with /api/v1 makes the same kind of link.
    expect((await admin.files.link(f.path)).url.startsWith(`${url}/api/v1/files?`)).toBe(true);
    // A file the key may not read gets no link.
    expect(await rejection(kubeff.files.link(clip))).toMatchObject({ status: 404, code: 'NOT_FOUND', field: 'path' });
  });

  it('streams a ~256 MiB upload and its download with flat memory', async () => {
    const total = 256 * MiB;
    async function* repeated(bytes: number): AsyncGenerator<Buffer> {
      for (let sent = 0; sent < bytes; sent += ts.length) yield sent + ts.length <= bytes ? ts : ts.subarray(0, bytes - sent);
    }
    // A smaller transfer first lets the allocator reach its working size, so the measured one
    // shows what grows with the body: nothing should.
    const warm = await kubeff.files.upload(Readable.from(repeated(32 * MiB)), { filename: 'warm.ts', contentType: 'video/mp2t' });
    await (await kubeff.files.download(warm.path)).body.cancel();
    rmSync(storage.host(warm.path));

    const up = await peakRssGrowth(() => kubeff.files.upload(Readable.from(repeated(total)), { filename: 'big.ts', contentType: 'video/mp2t' }));
    console.log(`SDK upload of ${total / MiB} MiB: rss baseline ${up.baselineMiB.toFixed(0)} MiB, peak ${up.peakMiB.toFixed(0)} MiB, growth ${up.growthMiB.toFixed(1)} MiB`);
    expect(up.result.size_bytes).toBe(total);
    expect(statSync(storage.host(up.result.path)).size).toBe(total);
    expect(up.growthMiB, 'memory grew with the upload').toBeLessThan(100);

    const expected = createHash('sha256');
    for await (const c of repeated(total)) expected.update(c);
    const down = await peakRssGrowth(async () => {
      const file = await kubeff.files.download(up.result.path);
      const hash = createHash('sha256');
      let bytes = 0;
      const reader = file.body.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        bytes += r.value.length;
        hash.update(r.value);
      }
      return { bytes, sha: hash.digest('hex'), length: file.length };
    });
    console.log(`SDK download of ${total / MiB} MiB: rss baseline ${down.baselineMiB.toFixed(0)} MiB, peak ${down.peakMiB.toFixed(0)} MiB, growth ${down.growthMiB.toFixed(1)} MiB`);
    expect(down.result).toEqual({ bytes: total, sha: expected.digest('hex'), length: total });
    expect(down.growthMiB, 'memory grew with the download').toBeLessThan(100);
    rmSync(storage.host(up.result.path));
  });
});

describe('administration', () => {
  it('creates, lists, rotates and revokes keys; the new key works until it is revoked', async () => {
    const created = await admin.admin.keys.create({ name: 'sdk made', scope: 'client' });
    expect(created.key).toMatch(new RegExp(`^kff_${created.api_key.id}_`));
    const fresh = new KubeffClient({ baseUrl: url, apiKey: created.key });
    expect((await fresh.jobs.list()).total).toBe(0);
    expect((await admin.admin.keys.list()).map((k) => k.id)).toContain(created.api_key.id);

    const rotated = await admin.admin.keys.rotate(created.api_key.id);
    expect(await rejection(fresh.jobs.list())).toMatchObject({ status: 401 });
    const renewed = new KubeffClient({ baseUrl: url, apiKey: rotated.key });
    expect((await renewed.jobs.list()).total).toBe(0);

    const revoked = await admin.admin.keys.revoke(created.api_key.id);
    expect(revoked.revoked_at).toEqual(expect.any(String));
    expect(await rejection(renewed.jobs.list())).toMatchObject({ status: 401 });
  });

  it('reads stats, health details, the webhook secret and cleans up, with an admin key only', async () => {
    expect((await admin.admin.stats()).keys).toBeGreaterThanOrEqual(2);
    expect((await admin.health()).details?.mode).toBe('standalone');
    expect((await kubeff.health()).details, 'health details are for admin keys').toBeUndefined();
    expect((await admin.admin.webhookSecret()).format).toBe('whsec');
    expect((await admin.admin.cleanup({ older_than_hours: 100_000 })).deleted).toBe(0);
    const refused = await rejection(kubeff.admin.stats());
    expect(refused).toMatchObject({ status: 403, code: 'ACCESS_DENIED', field: 'X-API-Key' });
  });
});

describe('webhooks', () => {
  it('verifies a real signed delivery, and refuses it tampered, late or under another secret', async () => {
    const { secret } = await admin.admin.webhookSecret();
    const job = await kubeff.convert({ input: clip, output: { path: '/storage/out/hooked.mp4', video: { preset: 'ultrafast' } }, options: { webhook_url: `${receiverUrl}/hook`, webhook_events: ['complete'] } });
    await kubeff.waitFor(job);
    let delivery: Delivery | undefined;
    for (let i = 0; i < 200 && !delivery; i++) {
      delivery = deliveries.find((d) => d.body.toString().includes(job.id));
      if (!delivery) await new Promise((r) => setTimeout(r, 50));
    }
    if (!delivery) throw new Error('no webhook delivery arrived within 10 s');
    const { headers, body } = delivery;
    const text = body.toString('utf8');

    expect(await verifyWebhook({ secret, headers, body: text })).toBe(true);
    expect(await verifyWebhook({ secret, headers, body: new Uint8Array(body) }), 'the raw bytes verify too').toBe(true);
    const payload = await parseWebhook({ secret, headers: new Headers(headers as Record<string, string>), body: text });
    expect(payload).toMatchObject({ event: 'complete', job_id: job.id });

    const tampered = text.replace(job.id, '00000000-0000-0000-0000-000000000000');
    expect(await verifyWebhook({ secret, headers, body: tampered }), 'a tampered body').toBe(false);
    await expect(parseWebhook({ secret, headers, body: tampered })).rejects.toThrow(WebhookVerificationError);
    const ts = Number(headers['webhook-timestamp']);
    expect(await verifyWebhook({ secret, headers, body: text, nowSeconds: ts + 301 }), 'a replay after the tolerance').toBe(false);
    expect(await verifyWebhook({ secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64'), headers, body: text }), 'another secret').toBe(false);
    expect(await verifyWebhook({ secret, headers: { ...headers, 'webhook-signature': 'v1,!!!' }, body: text }), 'a malformed signature').toBe(false);
  });

  it('lists a job\'s deliveries and redelivers one: same webhook-id, a fresh signature that verifies', async () => {
    const { secret } = await admin.admin.webhookSecret();
    const job = await kubeff.convert({ input: clip, output: { path: '/storage/out/redelivered.mp4', video: { preset: 'ultrafast' } }, options: { webhook_url: `${receiverUrl}/again`, webhook_events: ['complete'] } });
    await kubeff.waitFor(job);
    const deliveredTo = (id: string) => deliveries.filter((d) => d.headers['webhook-id'] === id);
    let log = await kubeff.jobs.webhooks(job.id);
    for (let i = 0; i < 200 && log.deliveries[0]?.state !== 'delivered'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = await kubeff.jobs.webhooks(job.id);
    }
    const first = log.deliveries[0];
    if (!first) throw new Error('the job has no webhook delivery');
    expect(first).toMatchObject({ event: 'complete', state: 'delivered', attempts: 1 });

    const again = await kubeff.jobs.redeliver(job.id, first.id);
    expect(again.id).toBe(first.id);
    for (let i = 0; i < 200 && deliveredTo(first.id).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const [a, b] = deliveredTo(first.id);
    if (!a || !b) throw new Error('the redelivery did not arrive within 10 s');
    expect(await verifyWebhook({ secret, headers: b.headers, body: b.body })).toBe(true);
    expect(b.body.equals(a.body), 'the same payload').toBe(true);
  });
});

describe('calls', () => {
  it('rejects with the caller\'s abort reason, and times out a server that never answers', async () => {
    const ctrl = new AbortController();
    ctrl.abort(new Error('caller gave up'));
    await expect(kubeff.jobs.list({}, { signal: ctrl.signal })).rejects.toThrow('caller gave up');

    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const k = new KubeffClient({ baseUrl: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, timeoutMs: 200 });
      const err = await rejection(k.health());
      expect(err).toBeInstanceOf(KubeffNetworkError);
      expect(err).toMatchObject({ reason: 'timeout', retryable: true });
      expect((err as Error).message).toMatch(/no answer within 0\.2 s/);
    } finally {
      silent.close();
    }
  });

  it('reports an unreachable server as a retryable KubeffNetworkError', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await rejection(new KubeffClient({ baseUrl: `http://127.0.0.1:${deadPort}` }).health());
    expect(err).toMatchObject({ name: 'KubeffNetworkError', reason: 'unreachable', retryable: true });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('the README\'s SDK examples', () => {
  const blocks = readmeBlocks('## SDK', 'ts');
  // In the repository, so '@kubeff/client' resolves as it does for a user of the workspace.
  const dir = join(repo, 'test', 'sdk', `.readme-${process.pid}`);
  const out = () => mkdtempSync(join(work, 'readme-'));
  const env = () => ({ ...process.env, KUBEFF_URL: url, KUBEFF_API_KEY: clientKey });

  beforeAll(() => {
    mkdirSync(dir, { recursive: true });
    blocks.forEach((b, i) => writeFileSync(join(dir, `example-${i + 1}.ts`), b));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../../../tsconfig.json', include: ['*.ts'] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are three: convert and download, events, webhook verification', () => {
    expect(blocks.map((b) => [b.includes('files.download'), b.includes('.events('), b.includes('parseWebhook')])).toEqual([[true, false, false], [false, true, false], [false, false, true]]);
  });

  it('type-check against the SDK', async () => {
    const tsc = join(repo, 'node_modules', '.bin', 'tsc');
    const r = await promisify(execFile)(tsc, ['--noEmit', '-p', join(dir, 'tsconfig.json')], { cwd: repo }).then(() => ({ code: 0, out: '' }), (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? '' }));
    expect(r.code, `a README example does not type-check:\n${r.out}`).toBe(0);
  });

  it('convert, wait and save the output: a real video.mp4', async () => {
    const cwd = out();
    const r = await run(nodeBin, [join(dir, 'example-1.ts')], { cwd, env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^saved video\.mp4 \(\d+ bytes\)$/m);
    const v = videoStream(ffprobe(join(cwd, 'video.mp4')));
    expect([v.codec_name, v.height]).toEqual(['h264', 720]);
  });

  it('follow a job\'s events to its end', async () => {
    const r = await run(nodeBin, [join(dir, 'example-2.ts')], { cwd: out(), env: env() });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.some((l) => l.startsWith('progress '))).toBe(true);
    expect(lines.at(-1)).toMatch(/^complete /);
  });

  it('verify a webhook: a real delivery is accepted (204) and a tampered one refused (401)', async () => {
    const { secret } = await admin.admin.webhookSecret();
    process.env['KUBEFF_WEBHOOK_SECRET'] = secret;
    const { handleWebhook } = (await import(join(dir, 'example-3.ts'))) as { handleWebhook: (r: Request) => Promise<Response> };
    const job = await kubeff.convert({ input: mov, output: { path: '/storage/out/readme-hook.mp4', video: { preset: 'ultrafast' } }, options: { webhook_url: `${receiverUrl}/readme`, webhook_events: ['complete'] } });
    await kubeff.waitFor(job);
    let d: Delivery | undefined;
    for (let i = 0; i < 200 && !d; i++) {
      d = deliveries.find((x) => x.body.toString().includes(job.id));
      if (!d) await new Promise((r) => setTimeout(r, 50));
    }
    if (!d) throw new Error('no webhook delivery arrived within 10 s');
    const request = (body: string) => new Request(`${receiverUrl}/readme`, { method: 'POST', headers: d?.headers as Record<string, string>, body });
    expect((await handleWebhook(request(d.body.toString()))).status).toBe(204);
    expect((await handleWebhook(request(d.body.toString().replace('complete', 'error')))).status).toBe(401);
    delete process.env['KUBEFF_WEBHOOK_SECRET'];
  });
});

