#!/usr/bin/env node
// `kubeff` server entrypoint. KUBEFF_MODE=standalone (default): the whole API on one machine, no
// Kubernetes. KUBEFF_MODE=cluster: the same API over MediaJobs in the Kubernetes API and NATS.
import { mkdirSync } from 'node:fs';
import { configFromEnv } from './config.ts';
import { startStandalone } from './standalone.ts';

const config = configFromEnv();
if (config.mode === 'standalone') mkdirSync(config.storageRoot, { recursive: true });
// The Kubernetes and NATS clients load only in cluster mode.
const s = config.mode === 'cluster' ? await (await import('./cluster.ts')).startCluster(config) : await startStandalone(config);
if (s.bootstrap) {
  // Shown once: only hashes are stored.
  process.stdout.write(
    `\nkubeff created two API keys on first start (shown only now; store them safely):\n` +
      `  admin:  ${s.bootstrap.admin}\n  client: ${s.bootstrap.client}\n\n`,
  );
}
await s.app.listen({ port: config.port, host: config.host });
s.app.log.info({ mode: config.mode, storageRoot: config.storageRoot, dataDir: config.dataDir, ...(config.mode === 'cluster' ? { namespace: config.namespace } : {}) }, `kubeff ${config.mode} is serving`);

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    s.app.log.info({ signal: sig }, config.mode === 'cluster' ? 'shutting down; jobs run on in the cluster' : 'shutting down; running jobs will resume on the next start');
    s.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
