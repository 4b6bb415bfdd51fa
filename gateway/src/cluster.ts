// Cluster mode assembled: the same app as standalone, backed by the Kubernetes API (MediaJobs,
// API-key Secrets) and NATS JetStream (job events). The replica's store is a local cache the
// informers and the stream fill; several replicas can serve the same namespace.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { processLogger } from '../../operator/src/logger.ts';
import { LocalBus } from '../../operator/src/bus.ts';
import { Store } from '../../operator/src/local/store.ts';
import { ensureJobStream } from '../../operator/src/nats/stream.ts';
import { storageFromEnv } from '../../worker-image/src/storage.ts';
import { buildApp, type AppOptions } from './app.ts';
import { bootstrapKeys, keyService } from './auth.ts';
import { ClusterMirror } from './cluster/mirror.ts';
import { keySecretName, secretForKey } from './cluster/resources.ts';
import { httpCode } from '../../operator/src/kube/api-errors.ts';
import { ClusterRuntime } from './cluster/runtime.ts';
import { WebhookFeed } from './cluster/webhook-feed.ts';
import type { Config } from './config.ts';
import type { Deps } from './deps.ts';
import { linkKey } from './download-links.ts';
import { generateLinkSecret } from './link-secret.ts';
import { defaultPlugins, toolsFor } from './standalone.ts';
import { generateSecret } from './webhooks/signing.ts';
import type { WebhooksPluginOptions } from './webhooks/plugin.ts';

export interface Cluster {
  app: FastifyInstance;
  deps: Deps;
  /** Keys created on first start (no keys configured, none in Secrets), to show once. */
  bootstrap: { admin: string; client: string } | undefined;
  close(): Promise<void>;
}

export interface ClusterOptions {
  logger?: Logger;
  /** Default: KUBECONFIG when set, else the pod's service account. */
  kubeconfig?: KubeConfig;
  plugins?: AppOptions['plugins'];
  webhooks?: WebhooksPluginOptions;
  finalEventGraceMs?: number;
}

const WebhookSecretName = 'kubeff-webhook-signing';
const LinkSecretName = 'kubeff-download-links';

/**
 * A secret every replica must share (webhook signing, download links): the configured value when
 * set, else one kept in a Secret of the namespace, created by the first replica that needs it.
 */
async function sharedSecret(core: CoreV1Api, namespace: string, name: string, configured: string | undefined, generate: () => string): Promise<string> {
  if (configured) return configured;
  const read = async () => {
    const s = await core.readNamespacedSecret({ name, namespace });
    const v = s.data?.['secret'];
    if (!v) throw new Error(`Secret ${namespace}/${name} has no 'secret' key`);
    return Buffer.from(v, 'base64').toString('utf8');
  };
  try {
    return await read();
  } catch (err) {
    if (httpCode(err) !== 404) throw err;
  }
  const value = generate();
  try {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'kubeff-gateway' } }, type: 'Opaque', stringData: { secret: value } } });
    return value;
  } catch (err) {
    if (httpCode(err) === 409) return read(); // another replica won the race
    throw err;
  }
}

export async function startCluster(config: Config, opts: ClusterOptions = {}): Promise<Cluster> {
  if (!config.natsUrl) throw new Error('cluster mode needs NATS_URL');
  const log = opts.logger ?? processLogger(config.logLevel);
  const kc = opts.kubeconfig ?? (() => {
    const k = new KubeConfig();
    k.loadFromDefault();
    return k;
  })();
  const ns = config.namespace;
  const core = kc.makeApiClient(CoreV1Api);
  const store = new Store(config.dataDir, { synchronous: config.sqliteSynchronous });
  const bus = new LocalBus();
  let nc: NatsConnection | undefined;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.warn({ err }, 'closing cluster mode'));
    await nc?.close().catch(() => undefined);
    store.close();
  };
  try {
    // Unlimited reconnects: a NATS restart pauses live events, it does not end the gateway.
    nc = await connect({ servers: config.natsUrl, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: `kubeff-gateway ${process.env['POD_NAME'] ?? process.pid}` });
    await ensureJobStream(nc, { maxAgeSeconds: config.eventRetentionSeconds });

    const mirror = new ClusterMirror({ kubeconfig: kc, namespace: ns, store, bus, nats: nc, log: log.child({ component: 'mirror' }), ...(opts.finalEventGraceMs !== undefined ? { finalEventGraceMs: opts.finalEventGraceMs } : {}) });
    closers.push(() => mirror.stop());
    await mirror.start();

    const runtime = new ClusterRuntime({ kubeconfig: kc, namespace: ns, store, log: log.child({ component: 'runtime' }) });
    const keys = keyService(store, {
      acceptAnyKey: false,
      async persist(record) {
        const body = secretForKey(record, ns);
        try {
          await core.replaceNamespacedSecret({ name: keySecretName(record.id), namespace: ns, body });
        } catch (err) {
          if (httpCode(err) !== 404) throw err;
          await core.createNamespacedSecret({ namespace: ns, body });
        }
      },
    });
    // Keys from the environment (the chart's bootstrap Secret) are the same on every replica.
    // With none configured and none in Secrets, a first pair is created (as Secrets) and shown once.
    const bootstrap = await bootstrapKeys(store, keys, config);

    const feed = new WebhookFeed({ nats: nc, namespace: ns, store, log: log.child({ component: 'webhooks' }) });
    const env = { ...process.env, ...(opts.webhooks?.env ?? {}) };
    const secret = await sharedSecret(core, ns, WebhookSecretName, env['KUBEFF_WEBHOOK_SECRET'], generateSecret);
    const links = await sharedSecret(core, ns, LinkSecretName, config.linkSecret, generateLinkSecret);
    const tools = toolsFor(config);
    const deps: Deps = { config, store, bus, runtime, keys, storage: storageFromEnv(config.storageRoot, process.env), tools, linkKey: linkKey(links) };
    const app = await buildApp(deps, {
      logger: log,
      plugins: opts.plugins ?? defaultPlugins({ webhooks: { ...opts.webhooks, env: { ...env, KUBEFF_WEBHOOK_SECRET: secret }, source: feed.bus } }),
    });
    closers.push(() => app.close());
    // After the app: the dispatcher subscribed to the feed's bus while the app was built.
    await feed.start();
    closers.push(() => feed.stop());
    log.info({ namespace: ns }, 'cluster mode ready');
    return { app, deps, bootstrap, close };
  } catch (err) {
    await close();
    throw err;
  }
}
