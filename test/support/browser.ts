// A real headless Chromium for end-to-end tests of the dashboard: Debian's build (installed by
// scripts/fetch-chromium.sh, or CHROMIUM_PATH), driven by playwright-core, which downloads no browser.
//
// Tests may only reach this machine, and the browser is a child process outside the in-process
// net guard, so it is fenced in on its own, in three layers:
//  1. Every request a page makes goes through a route that lets through 127.0.0.1, localhost,
//     [::1], data: and blob: only. Anything else is aborted before it reaches the network and
//     recorded as a violation (WebSockets likewise).
//  2. The browser's proxy is a sink on loopback that answers 403 to everything and records it:
//     what the route never sees (the browser's own background requests, a context made without
//     the route) goes there instead of out, and is a violation too. Loopback is never proxied.
//  3. Host-resolver rules answer "not found" for every name and address but localhost,
//     127.0.0.1 and ::1, so nothing that bypasses the proxy (WebRTC, DNS prefetch) resolves or
//     reaches anything else either.
//  4. Below all of it, an LD_PRELOAD fence (loopback-fence.c) refuses connect/sendto/sendmsg to
//     any other address in libc, before the system call.
// On top, switches turn off Chromium's own phoning home (component updates, sign-in, sync,
// metrics, safe browsing, translation); the ones that were measured to matter say so.
//
// After every test, each open page's violations, console errors, uncaught page errors and failed
// requests, and the sink's requests, fail that test unless the test took them (`take`) first.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page, type Request } from 'playwright-core';
import { afterEach, expect } from 'vitest';

/** Where screenshots go (git-ignored): test-results/screenshots/<name>.png at the repository root. */
export const screenshotDir = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

const launcher = join(import.meta.dirname, 'chromium-launcher.sh');

/** The Chromium binary: CHROMIUM_PATH, else Debian's (the real binary, not its launcher script). */
export function chromiumPath(): string {
  const bin = process.env['CHROMIUM_PATH'] || '/usr/lib/chromium/chromium';
  if (!existsSync(bin)) throw new Error(`Chromium not found at ${bin}: run \`bash scripts/fetch-chromium.sh\` (Debian's chromium package) or set CHROMIUM_PATH`);
  return bin;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a page may request this URL: loopback, or data that never touches the network. */
export function allowedUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'data:' || parsed.protocol === 'blob:' || parsed.protocol === 'about:') return true;
  return loopbackHosts.has(parsed.hostname);
}

/** Chromium switches on top of Playwright's own defaults (which already cover some of these; they
 * are repeated so that the fence does not depend on what a later Playwright passes). */
function chromiumArgs(sinkPort: number): string[] {
  return [
    // Layer 3. IP literals go through these rules too (measured: without EXCLUDE 127.0.0.1 a
    // page on 127.0.0.1 does not load), and IPv6 is written bare: `EXCLUDE [::1]` matches nothing.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE ::1',
    // Layer 2. This also overrides any proxy in the environment; loopback bypasses it implicitly.
    `--proxy-server=http://127.0.0.1:${sinkPort}`,
    // Measured on Chromium 156: even with --disable-component-update it asks update.googleapis.com
    // for the on-device model manifest (ceofaddefefcbblgcgnibnonglccbfja) at startup, and asks
    // accounts.google.com/ListAccounts (retrying at 1 s and 4 s) for the default profile. Pointing
    // both services elsewhere is what stops them: at 127.0.0.2, a loopback address that no test
    // serves from (the sign-in origin gets special treatment) and that layer 3 answers "not found"
    // for. Both requests then end at name resolution, without a socket (read off a NetLog).
    '--component-updater=url-source=http://127.0.0.2/',
    '--gaia-url=http://127.0.0.2/',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    '--safebrowsing-disable-auto-update',
    '--disable-breakpad',
    '--metrics-recording-only',
    '--no-pings',
    '--no-first-run',
    '--no-default-browser-check',
    // Merged with Playwright's own list by chromium-launcher.sh (Chromium honours only the last).
    // A name this build does not know is ignored, so the list is belt and braces, not a contract.
    '--disable-features=' +
      [
        'Translate',
        'OptimizationHints',
        'OptimizationGuideModelDownloading',
        'MediaRouter',
        'DialMediaRouteProvider',
        'NetworkTimeServiceQuerying',
        'AutofillServerCommunication',
        'CertificateTransparencyComponentUpdater',
        'DnsOverHttps',
      ].join(','),
  ];
}

export type ProblemList = 'violations' | 'consoleErrors' | 'pageErrors' | 'failedRequests';

export interface GuardedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Requests (and WebSockets) to anything but loopback, aborted before they left: "GET https://…". */
  readonly violations: string[];
  /** console.error messages, with where they were logged. */
  readonly consoleErrors: string[];
  /** Uncaught exceptions and unhandled rejections in the page. */
  readonly pageErrors: string[];
  /** Requests that failed at the network level ("GET http://… net::ERR_CONNECTION_REFUSED"); a
   * request the page or browser cancelled itself (net::ERR_ABORTED) is not a failure. */
  readonly failedRequests: string[];
  /** A list's entries, emptied: what a test expected it takes, so the after-test check passes. */
  take(list: ProblemList): string[];
  /** Writes test-results/screenshots/<name>.png and returns its path. */
  screenshot(name: string, options?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export interface BrowserHarness {
  readonly browser: Browser;
  /** Requests that reached the sink proxy instead of the network: "CONNECT example.com:443". */
  readonly sinkRequests: string[];
  /** A page in a context of its own (fresh storage), with the guards installed. */
  newPage(options?: BrowserContextOptions): Promise<GuardedPage>;
  /** Every problem recorded since the last call, labelled, and the lists emptied. */
  drainProblems(): string[];
  close(): Promise<void>;
}

const open = new Set<BrowserHarness>();

// The check after every test of a file that imports this module (vitest runs each file in its own
// module graph, so this registers once per file, on its root suite).
afterEach(() => {
  const problems = [...open].flatMap((h) => h.drainProblems());
  expect(problems, 'the browser reported problems that the test did not take').toEqual([]);
});

/** A page's problems, labelled by list, and the lists emptied. */
function labelled(p: GuardedPage): string[] {
  return (['violations', 'consoleErrors', 'pageErrors', 'failedRequests'] as const).flatMap((list) => p.take(list).map((entry) => `${list}: ${entry}`));
}

/** A sink for whatever the browser sends to its proxy: recorded, answered 403, never forwarded. */
async function startSink(record: string[]): Promise<Server> {
  const sink = createServer((req, res) => {
    record.push(`${req.method} ${req.url}`);
    res.writeHead(403).end();
  });
  sink.on('connect', (req, socket) => {
    record.push(`CONNECT ${req.url}`);
    socket.on('error', () => {}); // the browser may hang up first; nothing to report
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  sink.on('upgrade', (req, socket) => {
    record.push(`UPGRADE ${req.url}`);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    sink.once('error', reject);
    sink.listen(0, '127.0.0.1', resolve);
  });
  return sink;
}

/** The browser's environment: this process's, without proxies (the sink is the only proxy) and
 * without Google API keys (Debian's launcher exports its own; nothing here should use them). */
function browserEnv(bin: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(https?_proxy|all_proxy|no_proxy)$/i.test(k) || k.startsWith('GOOGLE_')) continue;
    env[k] = v;
  }
  env['KUBEFF_CHROMIUM_BIN'] = bin;
  // Layer 4: no switch stops Chromium's IPv6 reachability probe (a UDP connect() to a public
  // address, measured with strace); the fence refuses it, and any other such call, in libc.
  env['LD_PRELOAD'] = loopbackFence();
  return env;
}

/** test/support/loopback-fence.c built once into the cache, keyed on its source. */
function loopbackFence(): string {
  const source = join(import.meta.dirname, 'loopback-fence.c');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const dir = join(process.env['KUBEFF_CACHE'] || join(homedir(), '.cache', 'kubeff'), 'loopback-fence');
  const lib = join(dir, `loopback-fence-${hash}.so`);
  if (!existsSync(lib)) {
    mkdirSync(dir, { recursive: true });
    const temp = `${lib}.${process.pid}.tmp`;
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', temp, source, '-ldl'], { stdio: ['ignore', 'ignore', 'inherit'] });
    renameSync(temp, lib);
  }
  return lib;
}

export interface LaunchOptions {
  /** More Chromium switches, after the harness's (a --disable-features list is merged with its). */
  args?: string[];
}

/** Launches one headless Chromium (do it once per test file, in beforeAll). */
export async function launchBrowser(options: LaunchOptions = {}): Promise<BrowserHarness> {
  const bin = chromiumPath();
  const sinkRequests: string[] = [];
  const sink = await startSink(sinkRequests);
  const sinkPort = (sink.address() as AddressInfo).port;
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: launcher,
      env: browserEnv(bin),
      // Playwright's default (plain --headless) is the new headless mode: Chromium 132 and later
      // have no other in the browser binary.
      headless: true,
      // Chromium refuses to start its sandbox as root, which is how tests run here (and
      // containers seldom allow the user namespaces it needs otherwise): --no-sandbox.
      chromiumSandbox: false,
      args: [...chromiumArgs(sinkPort), ...(options.args ?? [])],
      timeout: 30_000,
    });
  } catch (err) {
    sink.close();
    throw err;
  }

  const pages = new Set<GuardedPage>();
  const closedProblems: string[] = [];

  const newPage = async (options: BrowserContextOptions = {}): Promise<GuardedPage> => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'light',
      // A service worker's own requests could go around the route; the dashboard has none.
      serviceWorkers: 'block',
      ...options,
    });
    const lists: Record<ProblemList, string[]> = { violations: [], consoleErrors: [], pageErrors: [], failedRequests: [] };
    const blocked = new WeakSet<Request>();

    await context.route('**/*', async (route) => {
      const request = route.request();
      if (allowedUrl(request.url())) return route.fallback();
      lists.violations.push(`${request.method()} ${request.url()}`);
      blocked.add(request);
      return route.abort('blockedbyclient');
    });
    await context.routeWebSocket(
      (url) => !allowedUrl(url.href),
      (ws) => {
        lists.violations.push(`WebSocket ${ws.url()}`);
        return ws.close({ code: 1008, reason: 'tests may only reach loopback' });
      },
    );

    // Every page of the context reports here, popups included ('page' fires for newPage too).
    context.on('page', (page) => {
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        // A request the route blocked is already a violation; Chromium logs it again as this.
        if (msg.text().includes('net::ERR_BLOCKED_BY_CLIENT')) return;
        const where = msg.location();
        lists.consoleErrors.push(where.url ? `${msg.text()} (${where.url}:${where.lineNumber})` : msg.text());
      });
      page.on('pageerror', (err) => lists.pageErrors.push(err.stack ?? err.message));
    });
    context.on('requestfailed', (request) => {
      // Blocked by the route: already a violation.
      if (blocked.has(request)) return;
      const why = request.failure()?.errorText ?? 'unknown';
      // The page or the browser cancelled it itself (a navigation, an AbortController, a media
      // element done with a byte range): not a failure.
      if (why === 'net::ERR_ABORTED') return;
      lists.failedRequests.push(`${request.method()} ${request.url()} ${why}`);
    });
    const page = await context.newPage();

    const guarded: GuardedPage = {
      page,
      context,
      ...lists,
      take: (list) => lists[list].splice(0),
      async screenshot(name, opts = {}) {
        mkdirSync(screenshotDir, { recursive: true });
        const path = join(screenshotDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
        await page.screenshot({ path, fullPage: opts.fullPage ?? false });
        return path;
      },
      async close() {
        // What it recorded and no test took is still reported after the test that closed it.
        if (pages.delete(guarded)) closedProblems.push(...labelled(guarded));
        await context.close();
      },
    };
    pages.add(guarded);
    return guarded;
  };

  const harness: BrowserHarness = {
    browser,
    sinkRequests,
    newPage,
    drainProblems() {
      const out = sinkRequests.splice(0).map((r) => `browser request to the sink proxy (it tried to leave loopback): ${r}`);
      out.push(...closedProblems.splice(0));
      for (const p of pages) out.push(...labelled(p));
      return out;
    },
    async close() {
      open.delete(harness);
      for (const p of [...pages]) await p.close().catch(() => {}); // the browser may be gone already
      await browser.close();
      await new Promise<void>((resolve) => sink.close(() => resolve()));
      // What the browser sent after the last test's check fails the file instead.
      const late = sinkRequests.splice(0);
      if (late.length) throw new Error(`the browser tried to leave loopback (caught by the sink proxy):\n${late.join('\n')}`);
    },
  };
  open.add(harness);
  return harness;
}
