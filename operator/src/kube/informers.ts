// The JS client's informer stops for good on some errors (a dropped watch it cannot resume, a
// 429 while the API server's storage initializes): restart it with backoff until told to stop.
import type { Informer, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export async function startRestartable(inf: Informer<KubernetesObject>, log: Logger, stopped: () => boolean): Promise<void> {
  let attempt = 0;
  inf.on('error', (err: unknown) => {
    if (stopped()) return;
    attempt++;
    const delay = Math.min(30_000, 250 * 2 ** attempt);
    log.warn({ err: (err as Error)?.message ?? String(err), delay }, 'informer stopped; restarting');
    setTimeout(() => {
      if (!stopped()) inf.start().then(() => (attempt = 0), () => undefined);
    }, delay).unref();
  });
  await inf.start();
}
