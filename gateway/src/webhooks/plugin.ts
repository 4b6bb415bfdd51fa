// Webhooks wired into the app: the signing secret, the dispatcher (subscribed to the job event
// bus, its loop stopped when the app closes) and the routes. Standalone mode adds it to the
// plugin list of startStandalone; tests pass their own fast timings.
import type { FastifyInstance } from 'fastify';
import type { JobEventBus } from '../../../operator/src/bus.ts';
import type { Deps } from '../deps.ts';
import { DeliveryStore } from './deliveries.ts';
import { WebhookDispatcher } from './dispatcher.ts';
import { webhookRoutes } from './routes.ts';
import { generateSecret, secretKey } from './signing.ts';
import type { Resolver } from './url-guard.ts';

// For job submission (routes/jobs.ts imports them from url-guard.ts directly: no import cycle).
export { assertWebhookUrl, checkWebhookUrl } from './url-guard.ts';

export interface WebhooksPluginOptions {
  /** Delays between attempts (default 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h). */
  retryDelaysMs?: readonly number[];
  /** How often the loop looks for due deliveries (default 1 s). */
  tickMs?: number;
  /** Least time between two progress webhooks of one job (default 2 s). */
  progressIntervalMs?: number;
  /** Deadline of one attempt (default 10 s). */
  timeoutMs?: number;
  /** Hostname resolution (default dns.lookup with all addresses). */
  resolve?: Resolver;
  /** Where KUBEFF_WEBHOOK_SECRET is read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /**
   * The events that become deliveries (default the app's bus). Cluster mode passes the events of
   * a durable JetStream consumer shared by all replicas, so each event is delivered by one.
   */
  source?: JobEventBus;
}

/**
 * The signing secret: KUBEFF_WEBHOOK_SECRET when set (either `whsec_<base64>` or a raw string of
 * at least 16 characters), else one generated on first start and kept in the database, so it
 * survives restarts and receivers keep verifying.
 */
export function webhookSecret(deliveries: DeliveryStore, env: NodeJS.ProcessEnv): { value: string; source: 'env' | 'generated' } {
  const configured = env['KUBEFF_WEBHOOK_SECRET'];
  if (configured) {
    try {
      secretKey(configured);
    } catch (err) {
      throw new Error(`KUBEFF_WEBHOOK_SECRET: ${(err as Error).message}`);
    }
    return { value: configured, source: 'env' };
  }
  return { value: deliveries.setting('signing_secret', generateSecret), source: 'generated' };
}

export function webhooksPlugin(options: WebhooksPluginOptions = {}): (app: FastifyInstance, deps: Deps) => void {
  return (app, deps) => {
    const log = app.log.child({ component: 'webhooks' });
    const deliveries = new DeliveryStore(deps.store);
    const secret = webhookSecret(deliveries, options.env ?? process.env);
    const dispatcher = new WebhookDispatcher({
      store: deps.store,
      deliveries,
      bus: options.source ?? deps.bus,
      log,
      secret: secret.value,
      allowPrivate: deps.config.webhookAllowPrivate,
      ...(options.resolve ? { resolve: options.resolve } : {}),
      ...(options.retryDelaysMs ? { retryDelaysMs: options.retryDelaysMs } : {}),
      ...(options.tickMs ? { tickMs: options.tickMs } : {}),
      ...(options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    log.info({ secretSource: secret.source }, 'webhooks enabled');
    webhookRoutes(app, deps, dispatcher, secret);
    dispatcher.start();
    app.addHook('onClose', async () => dispatcher.stop());
  };
}
