// S3 storage against a real S3 server (versitygw, started here on a loopback port): inputs read
// by FFmpeg through presigned URLs, outputs uploaded with multipart uploads (HLS folders whole),
// presigned download URLs, and clear 4xx errors naming the field for wrong credentials, missing
// objects and buckets no backend serves. Signatures and keys never appear in a log line.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest, type RequestKind } from '../../crds/src/normalize.ts';
import { MemorySink } from '../../worker-image/src/events.ts';
import { runJob } from '../../worker-image/src/job.ts';
import { hashKey } from '../../gateway/src/auth.ts';
import { Storage, storageFromEnv } from '../../worker-image/src/storage.ts';
import { s3BackendsFromEnv } from '../../worker-image/src/storage/s3.ts';
import { toolSpy, type ToolSpy } from '../support/ffmpeg-spy.ts';
import { startGateway, waitForJob, type TestGateway } from '../support/gateway.ts';
import { ffprobe, makeSource, makeStorage, videoStream, type StorageRoot } from '../support/media.ts';
import { installNetGuard } from '../support/net-guard.ts';
import { startS3, type S3Server } from '../support/s3.ts';

installNetGuard();

let s3: S3Server;
let local: StorageRoot;
let spy: ToolSpy;
let mp4: Buffer;

const bodyOf = async (bucket: string, key: string): Promise<Buffer> => {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
};
const keysUnder = async (bucket: string, prefix: string): Promise<string[]> => {
  const r = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key ?? '').sort();
};

function storageWith(env: Record<string, string>): Storage {
  return new Storage(local.root, { s3: s3BackendsFromEnv(env) });
}

async function run(kind: RequestKind, body: unknown, storage = storageWith(s3.env())) {
  const sink = new MemorySink();
  const outcome = await runJob(normalizeRequest(kind, body), { jobId: `s3-${Math.random().toString(36).slice(2, 8)}`, storage, tools: spy.tools, sink });
  const logs = sink.events.filter((e) => e.type === 'log').map((e) => (e as { line: string }).line);
  return { ...outcome, events: sink.events, logs };
}

/** Nothing the worker said or wrote may carry the secret key or a presigned URL's signature. */
function expectNoSecrets(text: string): void {
  expect(text).not.toContain(s3.secretAccessKey);
  expect(text).not.toMatch(/X-Amz-Signature=[0-9a-f]{16}/);
  expect(text).not.toMatch(/X-Amz-Credential=kubeff/);
}

beforeAll(async () => {
  s3 = await startS3(['media', 'outputs']);
  local = makeStorage('kubeff-s3-local-');
  spy = toolSpy(local.root);
  makeSource(local.host('/storage/in/video.mp4'), { seconds: 3, width: 640, height: 360 });
  mp4 = readFileSync(local.host('/storage/in/video.mp4'));
  await s3.client.send(new PutObjectCommand({ Bucket: 'media', Key: 'in/video.mp4', Body: mp4, ContentType: 'video/mp4' }));
}, 20 * 60_000);

afterAll(async () => {
  await s3?.stop();
  local?.remove();
});

describe('S3 inputs and outputs (worker, real S3 server)', () => {
  it('reads an S3 input through a presigned URL (only http,tcp and media demuxers allowed) and writes a local output', async () => {
    const r = await run('convert', { input: { path: 's3://media/in/video.mp4', credentials: 'presigned' }, output: { path: '/storage/out/from-s3.mp4', video: { codec: 'h264', preset: 'ultrafast' } } });
    expect(r.result.status, JSON.stringify(r.result.error)).toBe('completed');
    expect(r.result.outputs[0]?.path).toBe('/storage/out/from-s3.mp4');
    const out = ffprobe(local.host('/storage/out/from-s3.mp4'));
    expect(videoStream(out).width).toBe(640);
    expect(out.duration).toBeCloseTo(3, 0);
    // FFmpeg was handed a presigned URL behind the tightest whitelists.
    const call = spy.ffmpegCalls().at(-1) ?? '';
    expect(call).toMatch(/-protocol_whitelist http,tcp -format_whitelist mov,[^ ]+ -reconnect 1 -reconnect_delay_max 10 -i http:\/\/127\.0\.0\.1:\d+\/media\/in\/video\.mp4\?X-Amz-/);
    expect(call).not.toMatch(/hls|concat/);
    expectNoSecrets(JSON.stringify(r.events));
    expect(r.logs.join('\n'), 'FFmpeg names its input by its s3:// location').toContain("from 's3://media/in/video.mp4'");
  });

  it('writes a local input to S3 (multipart upload) and reports its location and a presigned download URL', async () => {
    const r = await run('convert', { input: '/storage/in/video.mp4', output: 's3://outputs/clips/small.mp4', operations: [{ type: 'resize', resolution: '320x180' }], options: { presign_outputs: 600 } });
    expect(r.result.status, JSON.stringify(r.result.error)).toBe('completed');
    const o = r.result.outputs[0];
    expect(o).toMatchObject({ path: 's3://outputs/clips/small.mp4', role: 'media', width: 320, height: 180, videoCodec: 'h264' });
    expect(o?.url).toMatch(new RegExp(`^${s3.endpoint}/outputs/clips/small\\.mp4\\?.*X-Amz-Expires=600`));
    const stored = await bodyOf('outputs', 'clips/small.mp4');
    expect(stored.length).toBe(o?.sizeBytes);
    // The presigned URL downloads the same bytes, without credentials.
    const viaUrl = Buffer.from(await (await fetch(o?.url ?? '')).arrayBuffer());
    expect(viaUrl.equals(stored)).toBe(true);
    const tmp = local.host('/storage/check/small.mp4');
    mkdirSync(dirname(tmp), { recursive: true });
    writeFileSync(tmp, stored);
    expect(videoStream(ffprobe(tmp))).toMatchObject({ width: 320, height: 180 });
    expect(await keysUnder('outputs', 'clips/'), 'no staging object is left behind').toEqual(['clips/small.mp4']);
  });

  it('uploads a whole HLS ladder folder to S3: master, variant playlists and every segment', async () => {
    const r = await run('stream', {
      input: 's3://media/in/video.mp4',
      output: 's3://outputs/hls/ladder/',
      segment_duration: 1,
      variants: [{ resolution: '640x360', bitrate: '800k', name: 'hi' }, { resolution: '320x180', bitrate: '300k', name: 'lo' }],
    });
    expect(r.result.status, JSON.stringify(r.result.error)).toBe('completed');
    expect(r.result.outputs.map((o) => o.path)).toEqual(['s3://outputs/hls/ladder/master.m3u8', 's3://outputs/hls/ladder/hi/index.m3u8', 's3://outputs/hls/ladder/lo/index.m3u8']);
    const keys = await keysUnder('outputs', 'hls/ladder/');
    expect(keys).toContain('hls/ladder/master.m3u8');
    for (const v of ['hi', 'lo']) {
      const playlist = (await bodyOf('outputs', `hls/ladder/${v}/index.m3u8`)).toString();
      const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(segments.length, `${v} has segments`).toBeGreaterThanOrEqual(3);
      for (const s of segments) expect(keys, `segment ${v}/${s} was uploaded`).toContain(`hls/ladder/${v}/${s}`);
    }
    const master = (await bodyOf('outputs', 'hls/ladder/master.m3u8')).toString();
    expect(master).toContain('hi/index.m3u8');
    expect(master).toContain('lo/index.m3u8');
    expectNoSecrets(JSON.stringify(r.events));
  });

  it('refuses a playlist stored in S3 as an input: the format whitelist keeps FFmpeg from opening the URLs it names', async () => {
    const playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://169.254.169.254/latest/meta-data/x.ts\n#EXT-X-ENDLIST\n';
    await s3.client.send(new PutObjectCommand({ Bucket: 'media', Key: 'in/evil.m3u8', Body: playlist }));
    const r = await run('convert', { input: 's3://media/in/evil.m3u8', output: '/storage/out/evil.mp4' });
    expect(r.result.status).toBe('failed');
    expect(r.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'input.path', retryable: false });
    expect(r.result.error?.message).toMatch(/not on whitelist|not a readable media file/);
    expectNoSecrets(JSON.stringify(r.result));
  });

  it('fails with INVALID_INPUT naming the field for a missing object, and never runs FFmpeg', async () => {
    const before = spy.ffmpegCalls().length;
    const r = await run('convert', { input: 's3://media/in/missing.mp4', output: '/storage/out/missing.mp4' });
    expect(r.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'input.path', retryable: false });
    expect(r.result.error?.message).toContain('object not found: s3://media/in/missing.mp4');
    expect(r.exitCode).toBe(65);
    expect(spy.ffmpegCalls().length).toBe(before);
  });

  it('fails with a clear error naming the field for wrong credentials, on an input and on an output', async () => {
    const wrong = storageWith(s3.env({ secretAccessKey: 'not-the-secret' }));
    const input = await run('convert', { input: 's3://media/in/video.mp4', output: '/storage/out/denied.mp4' }, wrong);
    expect(input.result.error).toMatchObject({ code: 'INVALID_INPUT', field: 'input.path', retryable: false });
    expect(input.result.error?.message).toMatch(/S3 storage 'default' refused access to s3:\/\/media\/in\/video\.mp4 \((SignatureDoesNotMatch|HTTP 403|AccessDenied)\)/);
    expectNoSecrets(JSON.stringify(input.result));

    // Reading with the right keys and writing with wrong ones: a second backend for the output bucket.
    const split = storageWith({ ...s3.env({ buckets: ['media'] }), ...s3.env({ name: 'archive', buckets: ['outputs'], secretAccessKey: 'wrong-secret' }) });
    const output = await run('convert', { input: 's3://media/in/video.mp4', output: { path: 's3://outputs/denied/x.mp4', video: { preset: 'ultrafast' } } }, split);
    expect(output.result.error).toMatchObject({ code: 'INVALID_OUTPUT', field: 'output.path', retryable: false });
    expect(output.result.error?.message).toContain("S3 storage 'archive' refused access to s3://outputs/denied/x.mp4");
    expect(await keysUnder('outputs', 'denied/')).toEqual([]);
  });

  it('fails naming the field for a bucket no backend serves', async () => {
    const only = storageWith(s3.env({ buckets: ['media'] }));
    const r = await run('convert', { input: '/storage/in/video.mp4', output: 's3://elsewhere/x.mp4' }, only);
    expect(r.result.error).toMatchObject({ code: 'INVALID_OUTPUT', field: 'output.path' });
    expect(r.result.error?.message).toBe("no S3 storage configured here serves bucket 'elsewhere'");
  });
});

describe('S3 through the API (real server, real workers)', () => {
  let gw: TestGateway;
  const idOf = (raw: string) => `env-${hashKey(raw).slice(0, 12)}`;

  beforeAll(async () => {
    // Workers are child processes: they read the same S3 settings from the environment.
    Object.assign(process.env, s3.env({ buckets: ['media', 'outputs'] }));
    // The gateway builds its storage with the S3 backends from the same environment.
    gw = await startGateway();
    makeSource(gw.storage.host('/storage/in/video.mp4'), { seconds: 2 });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  async function expectError(res: Response, status: number, field: string, code?: string): Promise<{ message: string; code: string }> {
    const body = (await res.json()) as { error: { code: string; message: string; details?: { field?: string } } };
    expect(res.status, JSON.stringify(body)).toBe(status);
    expect(body.error.details?.field).toBe(field);
    if (code) expect(body.error.code).toBe(code);
    return body.error;
  }

  it('runs a job from an S3 input to an S3 output and lists the output with a presigned URL', async () => {
    const res = await gw.api('/api/v1/convert', { method: 'POST', json: { input: 's3://media/in/video.mp4', output: { path: 's3://outputs/api/out.webm', video: { codec: 'vp9', crf: 40 } }, operations: [{ type: 'trim', start: 0, duration: 1 }], options: { presign_outputs: true } } });
    expect(res.status, await res.clone().text()).toBe(201);
    const { job } = (await res.json()) as { job: { id: string } };
    const done = await waitForJob(gw, job.id);
    expect(done['status'], JSON.stringify(done['error'])).toBe('completed');
    const outputs = done['outputs'] as { path: string; url?: string; videoCodec?: string }[];
    expect(outputs[0]).toMatchObject({ path: 's3://outputs/api/out.webm', videoCodec: 'vp9' });
    expect(outputs[0]?.url).toMatch(/X-Amz-Expires=3600/);
    const viaUrl = await fetch(outputs[0]?.url ?? '');
    expect(viaUrl.status).toBe(200);
    expect((await viaUrl.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    const logs = await (await gw.api(`/api/v1/jobs/${job.id}/logs?lines=200`)).text();
    expectNoSecrets(logs);
  });

  it('refuses a missing object, wrong credentials and an unserved bucket with 400 naming the field, before a job exists', async () => {
    const missing = await expectError(await gw.api('/api/v1/convert', { method: 'POST', json: { input: 's3://media/in/nope.mp4', output: '/storage/out/x.mp4' } }), 400, 'input', 'INVALID_INPUT');
    expect(missing.message).toBe('input: object not found: s3://media/in/nope.mp4');
    const ref = await expectError(await gw.api('/api/v1/analyze', { method: 'POST', json: { input: '/storage/in/video.mp4', reference: 's3://media/ref/nope.mp4' } }), 400, 'reference', 'INVALID_INPUT');
    expect(ref.message).toContain('object not found');
    const unserved = await expectError(await gw.api('/api/v1/convert', { method: 'POST', json: { input: 's3://other-bucket/in.mp4', output: '/storage/out/x.mp4' } }), 400, 'input', 'INVALID_INPUT');
    expect(unserved.message).toContain("no S3 storage configured here serves bucket 'other-bucket'");

    const right = gw.s.deps.storage;
    gw.s.deps.storage = storageFromEnv(gw.storage.root, { ...process.env, KUBEFF_S3_SECRET_ACCESS_KEY: 'Wr0ngSecretValue' });
    try {
      const denied = await expectError(await gw.api('/api/v1/convert', { method: 'POST', json: { input: 's3://media/in/video.mp4', output: '/storage/out/x.mp4' } }), 400, 'input', 'INVALID_INPUT');
      expect(denied.message).toMatch(/S3 storage 'default' refused access to s3:\/\/media\/in\/video\.mp4/);
      expect(denied.message).not.toContain('Wr0ngSecretValue');
    } finally {
      gw.s.deps.storage = right;
    }
    const list = (await (await gw.api('/api/v1/jobs?per_page=100')).json()) as { jobs: { input?: string }[] };
    expect(JSON.stringify(list)).not.toContain('nope.mp4');
  });

  it('estimates a job whose input is an S3 object (probed through a presigned URL)', async () => {
    const res = await gw.api('/api/v1/estimate', { method: 'POST', json: { input: 's3://media/in/video.mp4', output: { path: 's3://outputs/est.mp4' } } });
    const body = (await res.json()) as { input?: { duration_seconds: number; video_codec: string } };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.input?.video_codec).toBe('h264');
    expect(body.input?.duration_seconds, 'the 3 s object uploaded to s3://media/in/video.mp4').toBeCloseTo(3, 0);
  });

  it('refuses at submission an output to a bucket no backend serves (not after the encode), naming the output', async () => {
    const e = await expectError(await gw.api('/api/v1/convert', { method: 'POST', json: { input: 's3://media/in/video.mp4', output: { path: 's3://nowhere/out.mp4' } } }), 400, 'output', 'INVALID_OUTPUT');
    expect(e.message).toContain("'nowhere'");
  });

  it("refuses a client key's job that reads another key's S3 upload folder", async () => {
    await expectError(await gw.api('/api/v1/convert', { method: 'POST', json: { input: 's3://media/uploads/0123456789ab/x.mp4', output: '/storage/out/x.mp4' } }), 403, 'input', 'ACCESS_DENIED');
  });

  it('uploads to S3 through POST /files (probed, copied into place) and downloads with Range; upload folders stay private', async () => {
    const own = `s3://media/uploads/${idOf(gw.keys.client)}/clip.mp4`;
    const up = await gw.api(`/api/v1/files?${new URLSearchParams({ path: own })}`, { method: 'POST', body: mp4, headers: { 'content-type': 'video/mp4' } });
    expect(up.status, await up.clone().text()).toBe(201);
    const file = ((await up.json()) as { file: { path: string; size_bytes: number; video_codec: string } }).file;
    expect(file).toMatchObject({ path: own, size_bytes: mp4.length, video_codec: 'h264' });
    expect((await bodyOf('media', own.slice('s3://media/'.length))).equals(mp4)).toBe(true);
    expect((await keysUnder('media', `uploads/${idOf(gw.keys.client)}/`)).filter((k) => k.endsWith('.part')), 'the temporary object is gone').toEqual([]);
    // An existing object is not replaced without overwrite=true.
    await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: own })}`, { method: 'POST', body: mp4 }), 409, 'path', 'FILE_EXISTS');
    // Not media: refused, nothing kept.
    const junkPath = `s3://media/uploads/${idOf(gw.keys.client)}/junk.mp4`;
    const junk = Buffer.concat([mp4.subarray(0, 64), Buffer.alloc(4096, 7)]);
    const bad = await gw.api(`/api/v1/files?${new URLSearchParams({ path: junkPath })}`, { method: 'POST', body: junk });
    expect([400, 415]).toContain(bad.status);
    expect(await keysUnder('media', `uploads/${idOf(gw.keys.client)}/junk`)).toEqual([]);

    const whole = await gw.api(`/api/v1/files?${new URLSearchParams({ path: own })}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await whole.arrayBuffer()).equals(mp4)).toBe(true);
    const etag = whole.headers.get('etag') ?? '';
    const part = await gw.api(`/api/v1/files?${new URLSearchParams({ path: own })}`, { headers: { range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${mp4.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(mp4.subarray(10, 20))).toBe(true);
    expect((await gw.api(`/api/v1/files?${new URLSearchParams({ path: own })}`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    // Another key can neither read it nor write there; a client key cannot write outside its folder.
    await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: own })}`, { key: gw.keys.other }), 404, 'path', 'NOT_FOUND');
    await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: own.replace('clip', 'other') })}`, { method: 'POST', body: mp4, key: gw.keys.other }), 403, 'path', 'ACCESS_DENIED');
    await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: 's3://media/in/overwrite.mp4' })}`, { method: 'POST', body: mp4 }), 403, 'path', 'ACCESS_DENIED');
    await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: 's3://media/in/missing.mp4' })}`, { key: gw.keys.admin }), 404, 'path', 'NOT_FOUND');
    await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: 's3://nowhere/x.mp4' })}`, { method: 'POST', body: mp4, key: gw.keys.admin }), 400, 'path');
    // A bucket the backend serves but that does not exist.
    Object.assign(process.env, { KUBEFF_S3_BUCKETS: 'media,outputs,ghost' });
    gw.s.deps.storage = storageFromEnv(gw.storage.root, process.env);
    const ghost = await expectError(await gw.api(`/api/v1/files?${new URLSearchParams({ path: 's3://ghost/x.mp4' })}`, { method: 'POST', body: mp4, key: gw.keys.admin }), 400, 'path');
    expect(ghost.message).toContain('does not exist');
  });
});
