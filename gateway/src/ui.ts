// The dashboard at /ui: a static page, its stylesheet, its script (the TypeScript in ui/src
// bundled by esbuild on first request, once per process, so `npm start` and the gateway image
// serve it without a build step) and hls.js from node_modules for HLS outputs (Chromium has no
// native HLS). Everything comes from this server: the Content-Security-Policy allows no other
// origin and no inline script or style.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Deps } from './deps.ts';

const repo = join(import.meta.dirname, '..', '..');
const uiRoot = join(repo, 'ui');

/**
 * media-src and worker-src allow blob: because hls.js feeds the video element through Media
 * Source Extensions (a blob: URL) and may run its demuxer in a worker made from a blob.
 */
export const uiContentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function secure(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .header('content-type', type)
    .header('content-security-policy', uiContentSecurityPolicy)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin')
    .header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
}

let bundle: Promise<string> | undefined;

/** ui/src/main.ts and what it imports (the SDK included), as one ES module; built once. */
export function uiBundle(): Promise<string> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const out = await build({
      entryPoints: [join(uiRoot, 'src', 'main.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome120', 'firefox120', 'safari17'],
      minify: true,
      sourcemap: false,
      write: false,
      logLevel: 'silent',
      // Loaded on demand from /ui/vendor/hls.mjs, only when an HLS output is shown.
      external: ['/ui/vendor/*'],
    });
    const file = out.outputFiles[0];
    if (!file) throw new Error('esbuild produced no output for the dashboard');
    return file.text;
  })();
  // A failed build is not cached: the next request tries again (and logs why).
  bundle.catch(() => {
    bundle = undefined;
  });
  return bundle;
}

const require = createRequire(import.meta.url);

export async function uiPlugin(app: FastifyInstance, _deps: Deps): Promise<void> {
  const page = await readFile(join(uiRoot, 'index.html'), 'utf8');
  const css = await readFile(join(uiRoot, 'app.css'), 'utf8');
  const hlsPath = join(require.resolve('hls.js/package.json'), '..', 'dist', 'hls.min.mjs');
  const hide = { schema: { hide: true } };

  for (const url of ['/ui', '/ui/']) {
    app.get(url, hide, async (_req, reply) => secure(reply, 'text/html; charset=utf-8').header('cache-control', 'no-cache').send(page));
  }
  app.get('/ui/app.css', hide, async (_req, reply) => secure(reply, 'text/css; charset=utf-8').header('cache-control', 'no-cache').send(css));
  app.get('/ui/app.js', hide, async (_req, reply) => secure(reply, 'text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(await uiBundle()));
  app.get('/ui/vendor/hls.mjs', hide, async (_req, reply) => secure(reply, 'text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').send(await readFile(hlsPath, 'utf8')));
}
