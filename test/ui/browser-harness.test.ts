// The browser harness the dashboard's end-to-end tests stand on: a real headless Chromium that
// loads pages from loopback, runs them, screenshots them, plays H.264/AAC, reports what went
// wrong in the page, and cannot reach anything but this machine.
import { readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type BrowserHarness } from '../support/browser.ts';
import { freePort } from '../support/ports.ts';
import { makeSource, makeStorage, type StorageRoot } from '../support/media.ts';

interface Served {
  type: string;
  body: Buffer;
}

interface Seen {
  method: string;
  url: string;
  range: string | undefined;
  status: number;
}

/** A static server on 127.0.0.1 that answers byte ranges (as a media element asks for them). */
async function serve(files: Map<string, Served>): Promise<{ origin: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const file = files.get(path);
    const range = req.headers.range;
    const answer = (status: number, headers: Record<string, string | number>, body?: Buffer) => {
      seen.push({ method: req.method ?? '', url: path, range, status });
      res.writeHead(status, headers).end(req.method === 'HEAD' ? undefined : body);
    };
    if (!file) return answer(404, { 'content-type': 'text/plain' }, Buffer.from('not found'));
    const size = file.body.length;
    const common = { 'content-type': file.type, 'accept-ranges': 'bytes', 'cache-control': 'no-store' };
    const m = range ? /^bytes=(\d*)-(\d*)$/.exec(range) : null;
    if (!range) return answer(200, { ...common, 'content-length': size }, file.body);
    if (!m || (m[1] === '' && m[2] === '')) return answer(416, { ...common, 'content-range': `bytes */${size}` });
    // bytes=a-b, bytes=a- (to the end) or bytes=-n (the last n bytes)
    const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
    const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start > end || start >= size) return answer(416, { ...common, 'content-range': `bytes */${size}` });
    return answer(206, { ...common, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` }, file.body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const html = (body: string): Served => ({ type: 'text/html; charset=utf-8', body: Buffer.from(`<!doctype html><meta charset="utf-8"><title>harness</title>${body}`) });

describe('the browser harness', () => {
  let h: BrowserHarness;
  let storage: StorageRoot;
  let site: Awaited<ReturnType<typeof serve>>;
  let mp4Path: string;

  beforeAll(async () => {
    storage = makeStorage('kubeff-browser-');
    // 3 s of 320x240 H.264 + stereo AAC, moov at the end as FFmpeg writes it by default, so the
    // browser has to ask for byte ranges to find it.
    mp4Path = makeSource(storage.host('/storage/source.mp4'), { seconds: 3 });
    const files = new Map<string, Served>([
      ['/', html(`<h1 id="h">kubeff</h1><p id="out">script did not run</p>
        <script>document.getElementById('out').textContent = 'script ran: ' + (6 * 7); document.body.dataset.ready = 'yes';</script>`)],
      ['/leak', html(`<p>leaks</p><img id="img" src="https://example.com/x.png">
        <script>window.fetchResult = fetch('http://10.255.255.1/').then(() => 'fetched', (e) => 'rejected: ' + e.name);
        window.socketResult = new Promise((resolve) => { const ws = new WebSocket('wss://example.com/socket'); ws.onopen = () => resolve('open'); ws.onclose = () => resolve('closed'); });</script>`)],
      ['/video', html(`<video id="v" muted playsinline preload="auto" src="/source.mp4"></video>`)],
      ['/noisy', html(`<script>console.error('something broke', 42); setTimeout(() => { throw new Error('uncaught in a timer'); }, 0);</script>`)],
      ['/source.mp4', { type: 'video/mp4', body: readFileSync(mp4Path) }],
    ]);
    site = await serve(files);
    h = await launchBrowser();
  });

  afterAll(async () => {
    await h?.close();
    await new Promise<void>((resolve) => (site ? site.server.close(() => resolve()) : resolve()));
    storage?.remove();
  });

  it('loads a page from a loopback server, runs its script and writes a screenshot', async () => {
    const p = await h.newPage();
    const response = await p.page.goto(`${site.origin}/`);
    expect(response?.status()).toBe(200);
    await p.page.waitForFunction('document.body.dataset.ready === "yes"');
    expect(await p.page.evaluate<string>('document.getElementById("out").textContent')).toBe('script ran: 42');
    expect(await p.page.evaluate<string>('navigator.userAgent')).toMatch(/HeadlessChrome\/156\./);

    const shot = await p.screenshot('harness-loopback-page');
    expect(shot).toMatch(/test-results\/screenshots\/harness-loopback-page\.png$/);
    const png = readFileSync(shot);
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    // The IHDR chunk holds the size: the viewport, 1280x800.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1280, 800]);
    expect(statSync(shot).size).toBeGreaterThan(2000);
    await p.close();
  });

  it('blocks requests from the page to non-loopback addresses before they leave, and records each as a violation', async () => {
    const p = await h.newPage();
    await p.page.goto(`${site.origin}/leak`);
    expect(await p.page.evaluate<string>('window.fetchResult')).toBe('rejected: TypeError');
    expect(await p.page.evaluate<string>('window.socketResult')).toBe('closed');
    await p.page.waitForFunction('document.getElementById("img").complete');
    expect(await p.page.evaluate<number>('document.getElementById("img").naturalWidth')).toBe(0);

    // Aborted by the route, so neither reached even the sink proxy, let alone the network.
    expect(h.sinkRequests).toEqual([]);
    expect(p.failedRequests).toEqual([]);
    expect(p.take('violations').sort()).toEqual(['GET http://10.255.255.1/', 'GET https://example.com/x.png', 'WebSocket wss://example.com/socket']);
    await p.close();
  });

  it('sends what goes around the page route to the sink proxy, never to the network', async () => {
    // A context made without the harness's route: only the browser's own switches fence it in.
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.origin}/`);
    const results = await page.evaluate<string[]>(`Promise.all(['http://10.255.255.1/', 'https://example.com/', 'http://kubeff.invalid/'].map((u) =>
      fetch(u).then((r) => 'status ' + r.status, (e) => 'rejected: ' + e.name)))`);
    await context.close();
    expect(results).toEqual(['rejected: TypeError', 'rejected: TypeError', 'rejected: TypeError']);
    expect(h.sinkRequests.splice(0).sort()).toEqual(['CONNECT example.com:443', 'GET http://10.255.255.1/', 'GET http://kubeff.invalid/']);
  });

  it('asks for nothing beyond loopback on its own while it idles', async () => {
    // Without its two measured switches Chromium 156 asks update.googleapis.com and
    // accounts.google.com within the first second (then again at 1 s and 4 s): the sink sees them.
    const p = await h.newPage();
    await p.page.goto(`${site.origin}/`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(h.sinkRequests).toEqual([]);
    await p.close();
  });

  it('plays an H.264/AAC MP4 served with byte ranges in a video element', async () => {
    const p = await h.newPage();
    await p.page.goto(`${site.origin}/video`);
    expect(await p.page.evaluate<string>('document.getElementById("v").canPlayType(\'video/mp4; codecs="avc1.42E01E, mp4a.40.2"\')')).toBe('probably');
    await p.page.evaluate('document.getElementById("v").play()');
    await p.page.waitForFunction('document.getElementById("v").currentTime > 0.5', undefined, { timeout: 15_000 });
    const v = await p.page.evaluate<{ width: number; height: number; duration: number; videoBytes: number; audioBytes: number; frames: number; error: unknown }>(`(() => {
      const v = document.getElementById('v');
      return { width: v.videoWidth, height: v.videoHeight, duration: v.duration, videoBytes: v.webkitVideoDecodedByteCount,
        audioBytes: v.webkitAudioDecodedByteCount, frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.message };
    })()`);
    expect(v.error).toBeNull();
    expect([v.width, v.height]).toEqual([320, 240]);
    expect(v.duration).toBeCloseTo(3, 0);
    // Both decoders ran: H.264 frames were decoded and so were AAC bytes (muted is not skipped).
    expect(v.frames).toBeGreaterThan(5);
    expect(v.videoBytes).toBeGreaterThan(0);
    expect(v.audioBytes).toBeGreaterThan(0);
    expect(site.seen.filter((s) => s.url === '/source.mp4' && s.status === 206).length).toBeGreaterThan(0);
    await p.screenshot('harness-video');
    await p.close();
  });

  it("reports the page's console errors, uncaught errors and failed requests", async () => {
    const p = await h.newPage();
    await p.page.goto(`${site.origin}/noisy`);
    await expect.poll(() => p.pageErrors.length).toBe(1);
    // A loopback port nothing listens on: a request that fails at the network level.
    const closed = `http://127.0.0.1:${await freePort()}/`;
    expect(await p.page.evaluate<string>(`fetch('${closed}').then(() => 'ok', () => 'failed')`)).toBe('failed');
    await expect.poll(() => p.failedRequests.length).toBe(1);

    const consoleErrors = p.take('consoleErrors');
    expect(consoleErrors[0]).toMatch(/^something broke 42 \(http:\/\/127\.0\.0\.1:\d+\/noisy:\d+\)$/);
    // Chromium logs the failed fetch as a console error too.
    expect(consoleErrors.slice(1).join('\n')).toMatch(/ERR_CONNECTION_REFUSED/);
    expect(p.take('pageErrors')[0]).toMatch(/^Error: uncaught in a timer/);
    expect(p.take('failedRequests')).toEqual([`GET ${closed} net::ERR_CONNECTION_REFUSED`]);
    await p.close();
  });

  it('fails the test that leaves a problem untaken (the check that runs after every test)', async () => {
    const p = await h.newPage();
    await p.page.goto(`${site.origin}/noisy`);
    await expect.poll(() => p.pageErrors.length).toBe(1);
    const problems = h.drainProblems();
    expect(problems).toHaveLength(2);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/^consoleErrors: something broke 42/), expect.stringMatching(/^pageErrors: Error: uncaught in a timer/)]));
    expect(h.drainProblems()).toEqual([]);

    // Closing the page does not lose what it recorded and nobody took.
    await p.page.evaluate('console.error("logged just before the page closed")');
    await expect.poll(() => p.consoleErrors.length).toBe(1);
    await p.close();
    expect(h.drainProblems()).toEqual([expect.stringMatching(/^consoleErrors: logged just before the page closed/)]);
  });
});
