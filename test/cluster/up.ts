// Starts the test control plane by hand, for debugging; stops it on Ctrl-C (or SIGTERM).
//   bash test/cluster/up.sh            (builds first when needed)
//   node test/cluster/up.ts [--keep]   (--keep: leave the folder with logs and etcd data behind)
import { startControlPlane } from './control-plane.ts';

const keepDir = process.argv.includes('--keep') || process.env['KUBEFF_KEEP_CLUSTER_DIR'] === '1';
const started = Date.now();
const cp = await startControlPlane({ keepDir });
const logs = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
process.stderr.write(
  `# control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${cp.apiServerUrl} (Kubernetes v${cp.binaries.versions.kubernetes}, etcd v${cp.binaries.versions.etcd})\n` +
    `# logs: ${logs.map((c) => cp.logPath(c)).join(' ')}\n` +
    `# Ctrl-C stops it${keepDir ? ` (the folder ${cp.dir} is kept)` : ' and removes the folder'}.\n`,
);
process.stdout.write(`export KUBECONFIG=${cp.kubeconfig}\n`);

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`# ${signal}: stopping\n`);
  cp.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
// Exit if a component dies on its own, so a dead control plane is not mistaken for a live one.
const watch = setInterval(() => {
  const dead = cp.components().find((c) => !c.running);
  if (dead && !stopping) {
    process.stderr.write(`# ${dead.name} exited; see ${cp.logPath(dead.name)}\n`);
    clearInterval(watch);
    shutdown('component exit');
  }
}, 1000);
