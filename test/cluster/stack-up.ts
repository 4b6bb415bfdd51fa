// Starts the whole cluster-mode stack by hand, for debugging: control plane, process node (CPU and
// GPU nodes running real workers), NATS, the operator and one gateway replica in cluster mode.
//   bash test/cluster/build.sh && npm run build && node test/cluster/stack-up.ts
// Prints the KUBECONFIG, the gateway's URL and an admin and a client key; Ctrl-C stops it all.
import { randomBytes } from 'node:crypto';
import { startStack } from './stack.ts';

const key = (kind: string) => `kff_${kind.padEnd(12, '0')}_${randomBytes(24).toString('base64url')}`;
const admin = key('admin');
const client = key('client');
const stack = await startStack({ namespace: 'kubeff', operatorLogLevel: 'info' });
const { url } = await stack.startReplica('by-hand', { KUBEFF_ADMIN_KEYS: admin, KUBEFF_API_KEYS: client, LOG_LEVEL: 'info' });
process.stdout.write(
  `export KUBECONFIG=${stack.cp.kubeconfig}\n` +
    `export KUBEFF_URL=${url}\nexport KUBEFF_API_KEY=${client}\n` +
    `# admin key: ${admin}\n# storage root (/storage): ${stack.storage.root}\n# NATS: ${stack.nats.url}\n` +
    `# try: kubectl get mj -n kubeff -w    and    npm run kubeff -- convert ... --wait\n`,
);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    stack.stop().then(() => process.exit(0), () => process.exit(1));
  });
}
