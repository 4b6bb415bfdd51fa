// The dashboard in a real headless Chromium against a real standalone kubeff (real workers, real
// FFmpeg) on loopback: signing in, a convert followed live to 100 % and its output played, an HLS
// ladder played through hls.js, an analyze job's per-frame plot, key isolation, errors shown at
// their fields, admin keys, the CSP, and no console errors anywhere unless a test expected them.
// Screenshots of the main pages go to test-results/screenshots/ (not committed).
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type BrowserHarness, type GuardedPage } from '../support/browser.ts';
import { makeSource } from '../support/media.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

const repo = join(import.meta.dirname, '..', '..');
let gw: TestGateway;
let browser: BrowserHarness;

beforeAll(async () => {
  execFileSync('bash', [join(repo, 'scripts', 'fetch-chromium.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Private webhook targets allowed: the redelivery test's receiver listens on loopback.
  gw = await startGateway({ KUBEFF_WORKERS: '2', KUBEFF_WEBHOOK_ALLOW_PRIVATE: 'true' });
  // Long enough at 720p that a convert takes seconds, so its progress is seen between 0 and 100.
  makeSource(gw.storage.host('/storage/in/long.mp4'), { seconds: 20, width: 1280, height: 720 });
  makeSource(gw.storage.host('/storage/in/clip.mp4'), { seconds: 4, width: 640, height: 360 });
  browser = await launchBrowser();
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
});

async function signIn(key: string, viewport?: { width: number; height: number }): Promise<GuardedPage> {
  const p = await browser.newPage(viewport ? { viewport } : {});
  await p.page.goto(`${gw.url}/ui`);
  await p.page.waitForURL(/#\/signin$/);
  await p.page.getByLabel('API key').fill(key);
  await p.page.getByRole('button', { name: 'Sign in' }).click();
  await p.page.waitForSelector('#jobs-table');
  return p;
}

async function submit(path: string, body: unknown, key = gw.keys.client): Promise<string> {
  const res = await gw.api(path, { method: 'POST', json: body, key });
  const json = (await res.json()) as { job: { id: string } };
  expect(res.status, JSON.stringify(json)).toBe(201);
  return json.job.id;
}

async function finished(id: string, key = gw.keys.client): Promise<void> {
  for (let i = 0; i < 240; i++) {
    const job = (await (await gw.api(`/api/v1/jobs/${id}`, { method: 'GET', key })).json()) as { status: string; error: unknown };
    if (job.status === 'completed') return;
    if (job.status === 'failed' || job.status === 'cancelled') throw new Error(`job ${id} ${job.status}: ${JSON.stringify(job.error)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`job ${id} did not finish in 60 s`);
}

/**
 * Plays a video element (muted, as autoplay rules allow) until its clock passes `seconds`. Page
 * code is given as strings: this project's TypeScript has Node's types, not the DOM's.
 */
async function plays(p: GuardedPage, selector: string, seconds = 0.5): Promise<number> {
  await p.page.locator(selector).first().waitFor({ timeout: 30_000 });
  const el = `document.querySelector(${JSON.stringify(selector)})`;
  await p.page.evaluate(`(() => { const v = ${el}; v.muted = true; return v.play(); })()`);
  await waitUntil(p, `${el} !== null && ${el}.currentTime > ${seconds}`);
  return p.page.evaluate<number>(`${el}.currentTime`);
}

/**
 * Waits until a page expression is true. Not page.waitForFunction: a string predicate is compiled
 * inside the page, which the dashboard's CSP (no 'unsafe-eval') rightly forbids; page.evaluate
 * runs through the debugger protocol instead.
 */
async function waitUntil(p: GuardedPage, expression: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await p.page.evaluate<boolean>(`Boolean(${expression})`)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A locator's text, polled until the expectation holds (Playwright's own expect is not in playwright-core). */
const textOf = (p: GuardedPage, selector: string) => () => p.page.locator(selector).first().textContent();
const attrOf = (p: GuardedPage, selector: string, name: string) => () => p.page.locator(selector).first().getAttribute(name);
const poll = { timeout: 20_000, interval: 100 };

describe('the dashboard', () => {
  it('is served with a strict Content-Security-Policy and nothing from another origin', async () => {
    const res = await fetch(`${gw.url}/ui`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    expect(html, 'no inline script').not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('signs in, submits a convert, shows its progress live up to 100 % and plays the output', async () => {
    const p = await signIn(gw.keys.client);
    await p.screenshot('jobs-empty');
    await p.page.getByRole('link', { name: 'New job' }).first().click();
    await p.page.getByLabel('Input').fill('/storage/in/long.mp4');
    await p.page.getByLabel('Resolution').fill('540p');
    await p.page.getByLabel('Preset').selectOption('medium');
    await p.screenshot('new-job');
    await p.page.getByRole('button', { name: 'Create convert job' }).click();
    await p.page.waitForURL(/#\/jobs\/[0-9a-f-]{36}$/);
    await p.page.waitForSelector('#job-progress');
    // Every value the progress bar takes, as the page sets it from the event stream (sampled:
    // setting .value from script changes no attribute an observer would see).
    await p.page.evaluate(`(() => {
      const seen = [];
      window.seenProgress = seen;
      const t = setInterval(() => {
        const bar = document.getElementById('job-progress');
        if (!bar) return;
        if (seen.at(-1) !== bar.value) seen.push(bar.value);
        if (bar.value >= 100) clearInterval(t);
      }, 20);
    })()`);
    await waitUntil(p, `document.querySelector('#job-status .status')?.textContent === 'completed'`, 90_000);
    await waitUntil(p, `window.seenProgress.at(-1) === 100`, 5_000);
    const seen = await p.page.evaluate<number[]>('window.seenProgress');
    expect(seen.at(-1), 'the bar ends at 100 %').toBe(100);
    expect(seen.some((v) => v > 0 && v < 100), `the bar moved live between 0 and 100: ${JSON.stringify(seen)}`).toBe(true);
    expect(seen.every((v, i) => i === 0 || v >= (seen[i - 1] ?? 0)), `never backwards: ${JSON.stringify(seen)}`).toBe(true);
    await expect.poll(textOf(p, '#outputs'), poll).toContain('/storage/in/long.out.mp4');
    const t = await plays(p, '#viewers video');
    expect(t).toBeGreaterThan(0.5);
    await p.screenshot('job-page', { fullPage: true });
    await p.close();
  });

  it('plays an HLS ladder output through hls.js', async () => {
    const id = await submit('/api/v1/stream', { input: '/storage/in/clip.mp4', output: '/storage/out/ladder', type: 'hls', variants: [{ resolution: '360p', bitrate: '800k' }, { resolution: '240p', bitrate: '400k' }], segment_duration: 2 });
    await finished(id);
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/jobs/${id}`);
    const t = await plays(p, 'video[aria-label^="HLS stream"]', 1);
    expect(t).toBeGreaterThan(1);
    await p.close();
  });

  it("draws an analyze job's per-frame plot with one point per frame, and its statistics", async () => {
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', gw.storage.host('/storage/in/clip.mp4'), '-c:v', 'libx264', '-crf', '35', '-preset', 'ultrafast', '-c:a', 'copy', gw.storage.host('/storage/in/clip-low.mp4')]);
    const id = await submit('/api/v1/analyze', { input: '/storage/in/clip-low.mp4', reference: '/storage/in/clip.mp4', metrics: ['psnr', 'ssim'] });
    await finished(id);
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/jobs/${id}`);
    const chart = p.page.locator('svg[data-series="psnr"]');
    await chart.waitFor({ timeout: 30_000 });
    // 4 s at 25 frames/s.
    expect(await chart.getAttribute('data-points')).toBe('100');
    const d = (await chart.locator('path.series').getAttribute('d')) ?? '';
    expect(d.match(/[ML]/g)?.length, 'one vertex per frame').toBe(100);
    await expect.poll(attrOf(p, '[data-metric="ssim"] svg', 'data-points'), poll).toBe('100');
    await expect.poll(textOf(p, '[data-metric="psnr"] .stats'), poll).toContain('5th pct');
    await p.screenshot('analyze-plot', { fullPage: true });
    await p.close();
  });

  it("never shows a client key another key's job", async () => {
    const theirs = await submit('/api/v1/convert', { input: '/storage/in/clip.mp4', output: { path: '/storage/out/theirs.mp4' } }, gw.keys.other);
    const p = await signIn(gw.keys.client);
    expect(await p.page.locator('#jobs-table').textContent()).not.toContain(theirs.slice(0, 8));
    await p.page.goto(`${gw.url}/ui#/jobs/${theirs}`);
    await expect.poll(textOf(p, '.banner.error'), poll).toContain('JOB_NOT_FOUND');
    // The browser logs the API's 404 as a failed resource load: expected here.
    expect(p.take('consoleErrors').every((e) => /404/.test(e)), 'only the expected 404').toBe(true);
    await p.close();
  });

  it('shows each problem of a refused request at the field it names', async () => {
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/new`);
    await p.page.getByLabel('Input').fill('/storage/in/missing.mp4');
    await p.page.getByLabel('Resolution').fill('huge');
    await p.page.getByRole('button', { name: 'Create convert job' }).click();
    await expect.poll(textOf(p, '[data-field="output.video.resolution"] .error'), poll).toContain('not a resolution');
    expect(await attrOf(p, '[data-field="output.video.resolution"] input', 'aria-invalid')()).toBe('true');
    // Fix the resolution: the next refusal names the input, at the input.
    await p.page.getByLabel('Resolution').fill('360p');
    await p.page.getByRole('button', { name: 'Create convert job' }).click();
    await expect.poll(textOf(p, '[data-field="input"] .error'), poll).toContain('not found');
    expect(await textOf(p, '[data-field="output.video.resolution"] .error')()).toBe('');
    await p.screenshot('new-job-errors');
    expect(p.take('consoleErrors').every((e) => /400/.test(e)), 'only the expected 400s').toBe(true);
    await p.close();
  });

  it('lets an admin create a key, shows its secret once, and revoke it', async () => {
    const p = await signIn(gw.keys.admin);
    await p.page.getByRole('link', { name: 'Admin' }).click();
    await p.page.waitForSelector('#keys-table tbody tr');
    await p.page.getByLabel('Name').fill('dashboard-made');
    await p.page.getByRole('button', { name: 'Create key' }).click();
    await expect.poll(textOf(p, '#new-secret .secret'), poll).toMatch(/^kff_/);
    const key = (await textOf(p, '#new-secret .secret')()) ?? '';
    const row = p.page.locator('#keys-table tr', { hasText: 'dashboard-made' });
    await expect.poll(() => row.textContent(), poll).toContain('client');
    const check = await fetch(`${gw.url}/api/v1/jobs`, { headers: { 'x-api-key': key } });
    expect(check.status, 'the new key works').toBe(200);
    await p.screenshot('admin');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => row.textContent(), poll).toContain('revoked');
    expect((await fetch(`${gw.url}/api/v1/jobs`, { headers: { 'x-api-key': key } })).status, 'the revoked key no longer works').toBe(401);
    await p.close();
  });

  it('fits a phone screen: the job list without sideways scrolling', async () => {
    const p = await signIn(gw.keys.client, { width: 390, height: 844 });
    const overflow = await p.page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await p.screenshot('jobs-phone');
    await p.close();
  });

  it('uploads a file with a progress bar and fills the job input with its stored path', async () => {
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/new`);
    await p.page.locator('#upload-file').setInputFiles(gw.storage.host('/storage/in/long.mp4'));
    await p.page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(textOf(p, '#upload-status'), { timeout: 60_000, interval: 100 }).toMatch(/^Uploaded: \/storage\/uploads\/[^/]+\/[0-9a-f-]+-long\.mp4$/);
    expect(await p.page.evaluate<number>(`document.getElementById('upload-progress').value`)).toBe(100);
    const path = (await textOf(p, '#upload-status')())?.replace('Uploaded: ', '');
    expect(await p.page.getByLabel('Input').inputValue()).toBe(path);
    await p.close();
  });

  it('cancels a running job from its page', async () => {
    const id = await submit('/api/v1/convert', { input: '/storage/in/long.mp4', output: { path: '/storage/out/cancelled.mp4', video: { preset: 'veryslow' } } });
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/jobs/${id}`);
    await p.page.locator('#cancel').click();
    await expect.poll(textOf(p, '#job-status'), poll).toBe('cancelled');
    expect(await p.page.locator('#cancel').count(), 'no cancel button on a finished job').toBe(0);
    await p.close();
  });

  it('shows a contact sheet as an image and its WebVTT sprite map', async () => {
    const id = await submit('/api/v1/convert', { input: '/storage/in/clip.mp4', output: '/storage/out/sheet/', operations: [{ type: 'thumbnail_grid', rows: 2, cols: 3, width: 480, height: 240 }] });
    await finished(id);
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/jobs/${id}`);
    const img = p.page.locator('#viewers img.output');
    await img.waitFor({ timeout: 20_000 });
    await waitUntil(p, `document.querySelector('#viewers img.output').naturalWidth === 480`);
    await expect.poll(textOf(p, '#viewers details'), poll).toContain('sprite.jpg#xywh=0,0,160,120');
    await p.close();
  });

  it('lists a job\'s webhook deliveries and redelivers one on request', async () => {
    const received: string[] = [];
    const hook = createServer((req, res) => {
      received.push(String(req.headers['webhook-id']));
      req.resume();
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      const id = await submit('/api/v1/convert', { input: '/storage/in/clip.mp4', output: { path: '/storage/out/hooked.mp4' }, options: { webhook_url: url, webhook_events: ['complete'] } });
      await finished(id);
      await expect.poll(() => received.length, poll).toBe(1);
      const p = await signIn(gw.keys.client);
      await p.page.goto(`${gw.url}/ui#/jobs/${id}`);
      const button = p.page.locator('#webhooks').getByRole('button', { name: 'Redeliver' });
      await button.waitFor({ timeout: 20_000 });
      await button.click();
      await expect.poll(() => received.length, poll).toBe(2);
      expect(received[1], 'the same delivery, sent again').toBe(received[0]);
      await p.close();
    } finally {
      hook.close();
    }
  });

  it("draws a per-title ladder's rungs as a rate-quality chart", async () => {
    const id = await submit('/api/v1/stream', { input: '/storage/in/clip.mp4', output: '/storage/out/per-title', type: 'hls', variants: 'auto', max_variants: 3, segment_duration: 2 });
    await finished(id);
    const job = (await (await gw.api(`/api/v1/jobs/${id}`, { method: 'GET' })).json()) as { quality?: { ladder?: unknown[] } };
    const rungs = job.quality?.ladder?.length ?? 0;
    expect(rungs, 'the ladder was built from the content').toBeGreaterThan(0);
    const p = await signIn(gw.keys.client);
    await p.page.goto(`${gw.url}/ui#/jobs/${id}`);
    const chart = p.page.locator('[data-chart="ladder"] svg');
    await chart.waitFor({ timeout: 20_000 });
    expect(await chart.getAttribute('data-points')).toBe(String(rungs));
    expect(await chart.locator('circle.point').count(), 'one point per rung').toBe(rungs);
    await p.screenshot('per-title-ladder', { fullPage: true });
    await p.close();
  });
});
