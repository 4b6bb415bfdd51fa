#!/usr/bin/env node
// `kubeff` server entrypoint, standalone mode: the whole API on one machine, no Kubernetes.
import { mkdirSync } from 'node:fs';
import { configFromEnv } from './config.ts';
import { startStandalone } from './standalone.ts';

const config = configFromEnv();
mkdirSync(config.storageRoot, { recursive: true });
const s = await startStandalone(config);
if (s.bootstrap) {
  // Shown once: only hashes are stored.
  process.stdout.write(
    `\nkubeff created two API keys on first start (shown only now; store them safely):\n` +
      `  admin:  ${s.bootstrap.admin}\n  client: ${s.bootstrap.client}\n\n`,
  );
}
await s.app.listen({ port: config.port, host: config.host });
s.app.log.info({ storageRoot: config.storageRoot, dataDir: config.dataDir }, 'kubeff standalone is serving');

let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    s.app.log.info({ signal: sig }, 'shutting down; running jobs will resume on the next start');
    s.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
