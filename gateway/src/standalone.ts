// Standalone mode assembled: embedded store, in-process bus, local runtime, the app. Used by the
// server entrypoint and by tests, which pass their own configuration.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { processLogger } from '../../operator/src/logger.ts';
import type { FastifyInstance } from 'fastify';
import { LocalBus } from '../../operator/src/bus.ts';
import { LocalRuntime } from '../../operator/src/local/runtime.ts';
import { Store } from '../../operator/src/local/store.ts';
import type { RetryPolicy } from '../../operator/src/retry.ts';
import { storageFromEnv } from '../../worker-image/src/storage.ts';
import { toolsFromEnv, type Tools } from '../../worker-image/src/tools.ts';
import { buildApp, type AppOptions } from './app.ts';
import { bootstrapKeys, keyService } from './auth.ts';
import type { Config } from './config.ts';
import type { Deps } from './deps.ts';
import { linkKey } from './download-links.ts';
import { standaloneLinkSecret } from './link-secret.ts';
import { metricsPlugin } from './metrics.ts';
import { openapiPlugin } from './openapi.ts';
import { fileLinksPlugin } from './routes/file-links.ts';
import { filesPlugin } from './routes/files.ts';
import { uiPlugin } from './ui.ts';
import { jobAttemptTracer, tracingPlugin } from './tracing.ts';
import { webhooksPlugin, type WebhooksPluginOptions } from './webhooks/plugin.ts';

/**
 * Tracing first (its hooks wrap everything after it); OpenAPI before every plugin that adds
 * routes, or they are left out of the document; metrics after OpenAPI so /metrics is documented.
 */
export function defaultPlugins(opts: { webhooks?: WebhooksPluginOptions | undefined } = {}): NonNullable<AppOptions['plugins']> {
  return [tracingPlugin, openapiPlugin, metricsPlugin, webhooksPlugin(opts.webhooks), filesPlugin, uiPlugin, fileLinksPlugin];
}

const repo = join(import.meta.dirname, '..', '..');

/** The worker as a child process: the bundle when built (fast start), else the TypeScript entry. */
export function defaultWorkerCommand(): string[] {
  const bundle = join(repo, 'worker-image', 'dist', 'kubeff-worker.mjs');
  const entry = process.env['KUBEFF_WORKER_ENTRY'] || (existsSync(bundle) ? bundle : join(repo, 'worker-image', 'src', 'main.ts'));
  return [process.execPath, entry];
}

/** The FFmpeg and ffprobe the gateway runs (probes, estimates): the configured ones, else from PATH. */
export function toolsFor(config: Config): Tools {
  return toolsFromEnv({ ...process.env, ...(config.ffmpegPath ? { FFMPEG_PATH: config.ffmpegPath } : {}), ...(config.ffprobePath ? { FFPROBE_PATH: config.ffprobePath } : {}) });
}

export interface Standalone {
  app: FastifyInstance;
  deps: Deps;
  /** Keys created on first start, to show once. */
  bootstrap: { admin: string; client: string } | undefined;
  close(): Promise<void>;
}

export async function startStandalone(config: Config, opts: { logger?: Logger; retry?: RetryPolicy; plugins?: AppOptions['plugins']; webhooks?: WebhooksPluginOptions } = {}): Promise<Standalone> {
  const log = opts.logger ?? processLogger(config.logLevel);
  const store = new Store(config.dataDir, { synchronous: config.sqliteSynchronous });
  const bus = new LocalBus();
  const tools = toolsFor(config);
  const runtime = new LocalRuntime({
    store,
    bus,
    log: log.child({ component: 'runtime' }),
    workerCommand: defaultWorkerCommand(),
    storageRoot: config.storageRoot,
    workDir: join(config.dataDir, 'work'),
    limits: { global: config.limits.globalJobs, perOwner: () => config.limits.concurrentJobs },
    ...(opts.retry ? { retry: opts.retry } : {}),
    env: { FFMPEG_PATH: tools.ffmpeg, FFPROBE_PATH: tools.ffprobe, ...(tools.fileProbe ? { KUBEFF_FILE_FFPROBE_PATH: tools.fileProbe } : {}) },
    spareWorkers: config.limits.spareWorkers,
    tracer: await jobAttemptTracer(),
  });
  const keys = keyService(store, { acceptAnyKey: config.acceptAnyKey });
  const bootstrap = await bootstrapKeys(store, keys, config);
  const deps: Deps = { config, store, bus, runtime, keys, storage: storageFromEnv(config.storageRoot, process.env), tools, linkKey: linkKey(standaloneLinkSecret(store, config.linkSecret)) };
  const app = await buildApp(deps, { logger: log, plugins: opts.plugins ?? defaultPlugins({ webhooks: opts.webhooks }) });
  runtime.start();
  return {
    app,
    deps,
    bootstrap,
    async close() {
      await app.close();
      await runtime.stop();
      store.close();
    },
  };
}
