// Signed download links over a real standalone server on a loopback port: made with a key by
// POST /api/v1/files/links, then used the way a browser's <video src> uses them, with no key at
// all: byte ranges, HEAD, and every way such a link must stop working (expiry, tampering, a
// revoked or rotated key), what it must never open (other routes, other methods, other files),
// and that its signature never reaches the logs.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../gateway/src/auth.ts';
import { configFromEnv } from '../../gateway/src/config.ts';
import { signLink } from '../../gateway/src/download-links.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';
import { makeSource } from '../support/media.ts';

interface Server {
  s: Standalone;
  url: string;
  storage: string;
  data: string;
  /** Every line the server logged, as written (JSON). */
  logs: string[];
}

const keys = { mine: 'link-client-key-1', theirs: 'link-client-key-2', admin: 'link-admin-key-3' } as const;
/** Key ids of keys from the environment, as auth.ts derives them. */
const idOf = (raw: string) => `env-${hashKey(raw).slice(0, 12)}`;

async function start(env: Record<string, string> = {}, dirs?: { storage: string; data: string }): Promise<Server> {
  const storage = dirs?.storage ?? mkdtempSync(join(tmpdir(), 'kubeff-links-'));
  const data = dirs?.data ?? mkdtempSync(join(tmpdir(), 'kubeff-links-data-'));
  const logs: string[] = [];
  // Info level, so the access line of every request is seen.
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const s = await startStandalone(configFromEnv({
    PORT: '0',
    KUBEFF_STORAGE_ROOT: storage,
    KUBEFF_DATA_DIR: data,
    KUBEFF_API_KEYS: `${keys.mine},${keys.theirs}`,
    KUBEFF_ADMIN_KEYS: keys.admin,
    KUBEFF_WORKERS: '1',
    KUBEFF_SPARE_WORKERS: '0',
    KUBEFF_RATE_LIMIT_PER_SECOND: '100000',
    KUBEFF_RATE_LIMIT_PER_HOUR: '1000000',
    ...env,
  }), { logger });
  await s.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = s.app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('the server has no port');
  return { s, url: `http://127.0.0.1:${addr.port}`, storage, data, logs };
}

async function stop(srv: Server | undefined): Promise<void> {
  if (!srv) return;
  await srv.s.close();
  rmSync(srv.storage, { recursive: true, force: true });
  rmSync(srv.data, { recursive: true, force: true });
}

/** Writes bytes at a storage path (/storage/...) of the server. */
function put(srv: Server, storagePath: string, bytes: Uint8Array): void {
  const host = join(srv.storage, storagePath.replace(/^\/storage\//, ''));
  mkdirSync(dirname(host), { recursive: true });
  writeFileSync(host, bytes);
}

interface ErrorEnvelope {
  error: { type: string; code: string; message: string; details?: { field?: string; value?: unknown } };
}
interface Link {
  url: string;
  expires_at: string;
}

function makeLink(srv: Server, key: string, body: unknown): Promise<Response> {
  return fetch(`${srv.url}/api/v1/files/links`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function link(srv: Server, key: string, path: string, expiresIn?: number): Promise<Link> {
  const res = await makeLink(srv, key, { path, ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}) });
  const body = (await res.json()) as Link;
  expect(res.status, `making a link to ${path}: ${JSON.stringify(body)}`).toBe(201);
  return body;
}

/** A link's URL with some of its query parameters replaced. */
function altered(url: string, patch: Record<string, string>): string {
  const u = new URL(url, 'http://x');
  for (const [k, v] of Object.entries(patch)) u.searchParams.set(k, v);
  return `${u.pathname}${u.search}`;
}

async function expectError(res: Response, status: number, field: string, code?: string): Promise<ErrorEnvelope> {
  const body = (await res.json()) as ErrorEnvelope;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.error.details?.field, JSON.stringify(body)).toBe(field);
  if (code !== undefined) expect(body.error.code).toBe(code);
  return body;
}

let srv: Server;
const mine = `/storage/uploads/${idOf(keys.mine)}/clip.mp4`;
const mineToo = `/storage/uploads/${idOf(keys.mine)}/other.webm`;
const theirs = `/storage/uploads/${idOf(keys.theirs)}/secret.mp4`;
const bytes = randomBytes(64 * 1024);

beforeAll(async () => {
  srv = await start();
  put(srv, mine, bytes);
  put(srv, mineToo, randomBytes(1000));
  put(srv, theirs, randomBytes(1000));
});
afterAll(async () => stop(srv));

describe('making a link', () => {
  it('answers 201 with a relative URL carrying path, expiry, key id and signature, and when it expires', async () => {
    const before = Math.floor(Date.now() / 1000);
    const l = await link(srv, keys.mine, mine, 600);
    const u = new URL(l.url, 'http://x');
    expect(l.url.startsWith('/api/v1/files?'), l.url).toBe(true);
    expect(u.searchParams.get('path')).toBe(mine);
    expect(u.searchParams.get('key')).toBe(idOf(keys.mine));
    expect(u.searchParams.get('signature')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const expires = Number(u.searchParams.get('expires'));
    expect(expires - before).toBeGreaterThanOrEqual(600);
    expect(expires - before).toBeLessThanOrEqual(602);
    expect(l.expires_at).toBe(new Date(expires * 1000).toISOString());
  });

  it('gives a link 900 seconds when no lifetime is asked for', async () => {
    const before = Math.floor(Date.now() / 1000);
    const expires = Number(new URL((await link(srv, keys.mine, mine)).url, 'http://x').searchParams.get('expires'));
    expect(expires - before).toBeGreaterThanOrEqual(900);
    expect(expires - before).toBeLessThanOrEqual(902);
  });

  it('refuses a path the key may not read as if the file did not exist (404)', async () => {
    await expectError(await makeLink(srv, keys.mine, { path: theirs }), 404, 'path', 'NOT_FOUND');
  });

  it('refuses a missing file with 404', async () => {
    await expectError(await makeLink(srv, keys.mine, { path: `/storage/uploads/${idOf(keys.mine)}/none.mp4` }), 404, 'path', 'NOT_FOUND');
  });

  it('lets an admin key link to any file', async () => {
    const res = await fetch(`${srv.url}${(await link(srv, keys.admin, theirs)).url}`);
    expect(res.status).toBe(200);
  });

  it.each([
    ['a lifetime under 10 seconds', { path: mine, expires_in: 9 }, 'expires_in'],
    ['a lifetime over a day', { path: mine, expires_in: 86_401 }, 'expires_in'],
    ['a lifetime given as a string (JSON is not coerced)', { path: mine, expires_in: '600' }, 'expires_in'],
    ['a fractional lifetime', { path: mine, expires_in: 60.5 }, 'expires_in'],
    ['an unknown field', { path: mine, ttl: 60 }, ''],
    ['no path', { expires_in: 60 }, 'path'],
    ['a path outside storage', { path: '/etc/passwd' }, 'path'],
  ])('refuses %s with 400', async (_what, body, field) => {
    const res = await makeLink(srv, keys.mine, body);
    const err = (await res.json()) as ErrorEnvelope;
    expect(res.status, JSON.stringify(err)).toBe(400);
    if (field !== '') expect(err.error.details?.field, JSON.stringify(err)).toBe(field);
  });

  it('needs an API key to make a link', async () => {
    const res = await fetch(`${srv.url}/api/v1/files/links`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: mine }) });
    await expectError(res, 401, 'X-API-Key', 'UNAUTHORIZED');
  });
});

describe('using a link without a key', () => {
  it('plays with Range: 206 with Content-Range and exactly the bytes asked for', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const res = await fetch(`${srv.url}${url}`, { headers: { range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(1000, 2000)), 'the range holds the file\'s own bytes').toBe(true);
  });

  it('serves the whole file with 200, and an open-ended range as a player asks for its first bytes', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const whole = await fetch(`${srv.url}${url}`);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    const open = await fetch(`${srv.url}${url}`, { headers: { range: 'bytes=0-' } });
    expect(open.status).toBe(206);
    expect(open.headers.get('content-range')).toBe(`bytes 0-${bytes.length - 1}/${bytes.length}`);
    await open.arrayBuffer();
  });

  it('answers HEAD with the length and no body', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const res = await fetch(`${srv.url}${url}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('plays the output of a job of the key', async () => {
    const input = `/storage/uploads/${idOf(keys.mine)}/source.mp4`;
    makeSource(join(srv.storage, input.replace(/^\/storage\//, '')), { seconds: 1, width: 160, height: 120 });
    const output = `/storage/outputs/links-${Date.now()}/out.mp4`;
    const submitted = await fetch(`${srv.url}/api/v1/convert`, {
      method: 'POST',
      headers: { 'x-api-key': keys.mine, 'content-type': 'application/json' },
      body: JSON.stringify({ input, output: { path: output, video: { codec: 'h264', preset: 'ultrafast' } } }),
    });
    const { job } = (await submitted.json()) as { job: { id: string } };
    expect(submitted.status).toBe(201);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const j = (await (await fetch(`${srv.url}/api/v1/jobs/${job.id}`, { headers: { 'x-api-key': keys.mine } })).json()) as { status: string };
      if (j.status === 'completed') break;
      if (['failed', 'cancelled'].includes(j.status) || Date.now() > deadline) throw new Error(`the job ended ${j.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await fetch(`${srv.url}${(await link(srv, keys.mine, output)).url}`, { headers: { range: 'bytes=0-99' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).subarray(4, 8).toString('latin1'), 'an MP4 starts with its ftyp box').toBe('ftyp');
    // The other key may not link to it.
    await expectError(await makeLink(srv, keys.theirs, { path: output }), 404, 'path');
  }, 90_000);
});

describe('a link that must not work', () => {
  it('is refused once expired (401 naming expires)', async () => {
    // An authentic link, signed by the server's own key, that expired a minute ago.
    const rec = srv.s.deps.keys.find(idOf(keys.mine));
    if (!rec) throw new Error('the key is not stored');
    const expires = Math.floor(Date.now() / 1000) - 60;
    const signature = signLink(srv.s.deps.linkKey, { keyId: rec.id, credential: rec.hash, path: mine, expires });
    const query = new URLSearchParams({ path: mine, expires: String(expires), key: rec.id, signature });
    await expectError(await fetch(`${srv.url}/api/v1/files?${query.toString()}`), 401, 'expires', 'LINK_EXPIRED');
  });

  it('stops working when its lifetime is over', async () => {
    const { url } = await link(srv, keys.mine, mine, 10);
    expect((await fetch(`${srv.url}${url}`, { method: 'HEAD' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 11_000));
    await expectError(await fetch(`${srv.url}${url}`), 401, 'expires', 'LINK_EXPIRED');
  }, 20_000);

  it.each([
    ['another path of the same key', { path: mineToo }, 'signature'],
    ['another key id', { key: idOf(keys.theirs) }, 'signature'],
    ['a later expiry', { expires: String(Math.floor(Date.now() / 1000) + 3000) }, 'signature'],
    ['another signature', { signature: 'A'.repeat(43) }, 'signature'],
    ['a malformed signature', { signature: 'not-a-signature' }, 'signature'],
    ['a malformed expiry', { expires: 'soon' }, 'expires'],
  ])('is refused with %s (401 naming %s)', async (_what, patch, field) => {
    const { url } = await link(srv, keys.mine, mine);
    const res = await fetch(`${srv.url}${altered(url, patch)}`, { headers: { range: 'bytes=0-9' } });
    await expectError(res, 401, field);
  });

  it('is refused with a parameter given twice', async () => {
    const { url } = await link(srv, keys.mine, mine);
    await expectError(await fetch(`${srv.url}${url}&path=${encodeURIComponent(mineToo)}`), 401, 'path');
  });

  it('is refused when a part is missing', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const u = new URL(url, 'http://x');
    u.searchParams.delete('expires');
    await expectError(await fetch(`${srv.url}${u.pathname}${u.search}`), 401, 'expires');
  });

  it('made by an admin key cannot be pointed at another file', async () => {
    const { url } = await link(srv, keys.admin, mine);
    await expectError(await fetch(`${srv.url}${altered(url, { path: theirs })}`), 401, 'signature');
  });

  it('stops working at once when its key is revoked, and when its key is rotated', async () => {
    const made = await fetch(`${srv.url}/api/v1/admin/keys`, { method: 'POST', headers: { 'x-api-key': keys.admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dashboard' }) });
    const { key, api_key } = (await made.json()) as { key: string; api_key: { id: string } };
    const path = `/storage/uploads/${api_key.id}/movie.webm`;
    put(srv, path, randomBytes(2000));

    const beforeRotation = await link(srv, key, path);
    const rotated = await fetch(`${srv.url}/api/v1/admin/keys/${api_key.id}/rotate`, { method: 'POST', headers: { 'x-api-key': keys.admin } });
    const { key: newKey } = (await rotated.json()) as { key: string };
    await expectError(await fetch(`${srv.url}${beforeRotation.url}`), 401, 'signature');

    const { url } = await link(srv, newKey, path);
    const ok = await fetch(`${srv.url}${url}`, { headers: { range: 'bytes=0-9' } });
    expect(ok.status).toBe(206);
    expect(ok.headers.get('content-type')).toBe('video/webm');
    await ok.arrayBuffer();
    const revoked = await fetch(`${srv.url}/api/v1/admin/keys/${api_key.id}`, { method: 'DELETE', headers: { 'x-api-key': keys.admin } });
    expect(revoked.status).toBe(200);
    await expectError(await fetch(`${srv.url}${url}`), 401, 'key', 'UNAUTHORIZED');
  });
});

describe('what a link grants', () => {
  it('opens no other route: a signature on them is ignored and a key is still required', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const query = url.slice(url.indexOf('?'));
    for (const path of ['/api/v1/jobs', '/api/v1/admin/keys', '/api/v1/admin/stats', '/api/v1/jobs/nope/logs']) {
      await expectError(await fetch(`${srv.url}${path}${query}`), 401, 'X-API-Key', 'UNAUTHORIZED');
    }
  });

  it('allows no other method on /files: an upload with a link\'s parameters is refused', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const res = await fetch(`${srv.url}${url}&overwrite=true`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(100) });
    await expectError(res, 401, 'X-API-Key', 'UNAUTHORIZED');
  });

  it('cannot make more links', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const res = await fetch(`${srv.url}/api/v1/files/links${url.slice(url.indexOf('?'))}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: mine }) });
    await expectError(res, 401, 'X-API-Key', 'UNAUTHORIZED');
  });

  it('gives way to a key sent with it: the key decides, the signature is not checked', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const theirsWithMyLink = altered(url, { signature: 'A'.repeat(43) });
    const res = await fetch(`${srv.url}${theirsWithMyLink}`, { headers: { 'x-api-key': keys.theirs } });
    await expectError(res, 404, 'path', 'NOT_FOUND');
  });
});

describe('the logs', () => {
  it('never hold a link\'s signature: the access line shows the URL with it redacted', async () => {
    const { url } = await link(srv, keys.mine, mine);
    const signature = new URL(url, 'http://x').searchParams.get('signature') ?? '';
    const requestId = (await fetch(`${srv.url}${url}`, { method: 'HEAD' })).headers.get('x-request-id');
    await fetch(`${srv.url}${altered(url, { path: mineToo })}`); // a refused one too
    const all = srv.logs.join('');
    expect(all.includes(signature), 'the signature appears in the logs').toBe(false);
    const line = srv.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'request' && l['reqId'] === requestId);
    expect(line, `an access line for ${requestId}`).toBeDefined();
    expect(String(line?.['url'])).toContain('signature=[redacted]');
    expect(String(line?.['url'])).toContain(`key=${idOf(keys.mine)}`);
    expect(line?.['key']).toBe(idOf(keys.mine));
  });
});

describe('rate limits', () => {
  let limited: Server | undefined;
  afterAll(async () => stop(limited));

  it('count a link\'s requests for the key that made it: past the limit a link is answered 429', async () => {
    limited = await start({ KUBEFF_RATE_LIMIT_PER_HOUR: '3' });
    put(limited, mine, bytes);
    const { url } = await link(limited, keys.mine, mine); // 1
    const a = await fetch(`${limited.url}${url}`, { method: 'HEAD' }); // 2
    expect(a.headers.get('x-ratelimit-remaining')).toBe('1');
    expect((await fetch(`${limited.url}${url}`, { method: 'HEAD' })).status).toBe(200); // 3
    await expectError(await fetch(`${limited.url}${url}`), 429, 'X-API-Key', 'QUOTA_EXCEEDED');
    // The key itself is spent too.
    expect((await fetch(`${limited.url}/api/v1/jobs`, { headers: { 'x-api-key': keys.mine } })).status).toBe(429);
  });
});

describe('the link secret', () => {
  let dirs: { storage: string; data: string } | undefined;
  let running: Server | undefined;
  afterAll(async () => {
    await running?.s.close();
    for (const d of [dirs?.storage, dirs?.data]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('is kept in the data folder: a link made before a restart works after it', async () => {
    const first = await start();
    running = first;
    dirs = { storage: first.storage, data: first.data };
    put(first, mine, bytes);
    const { url } = await link(first, keys.mine, mine);
    await first.s.close();
    running = undefined;
    const second = await start({}, dirs);
    running = second;
    const res = await fetch(`${second.url}${url}`, { method: 'HEAD' });
    expect(res.status, 'the link after a restart').toBe(200);
  });

  it('is KUBEFF_LINK_SECRET when set: links of one server work on another with the same secret, not on one without it', async () => {
    const shared = { KUBEFF_LINK_SECRET: 'a shared link secret of enough characters' };
    const a = await start(shared);
    const b = await start(shared);
    const c = await start();
    try {
      for (const srvN of [a, b, c]) put(srvN, mine, bytes);
      const { url } = await link(a, keys.mine, mine);
      expect((await fetch(`${b.url}${url}`, { method: 'HEAD' })).status, 'on a replica with the same secret').toBe(200);
      await expectError(await fetch(`${c.url}${url}`), 401, 'signature', 'INVALID_SIGNATURE');
    } finally {
      await Promise.all([stop(a), stop(b), stop(c)]);
    }
  });
});
