// Cluster bench: time from creating a MediaJob to its batch/v1 Job existing, over 100 jobs, with
// the operator's controller against the real test control plane (test/cluster). Run after
// `bash test/cluster/build.sh`:   node test/bench/cluster.ts
import { join } from 'node:path';
import { BatchV1Api, KubeConfig, makeInformer, type V1Job } from '@kubernetes/client-node';
import pino from 'pino';
import { MediaJobController } from '../../operator/src/kube/controller.ts';
import { startControlPlane } from '../cluster/control-plane.ts';

const repo = join(import.meta.dirname, '../..');
const n = Number(process.argv[2] ?? 100);
const cp = await startControlPlane();
try {
  await cp.kubectl(['apply', '-f', join(repo, 'crds', 'mediajobs.kubeff.io.yaml')]);
  await cp.kubectl(['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=30s']);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfig);
  const controller = new MediaJobController({
    kubeconfig: kc,
    log: pino({ level: 'silent' }),
    settings: { image: 'kubeff/worker', serviceAccountName: 'default', storageClaimName: 'storage', cpuPool: {}, gpuPool: { resourceName: 'nvidia.com/gpu' }, maxAttempts: 3, defaultDeadlineSeconds: 3600, ttlSecondsAfterFinished: 600, defaultResources: { cpu: 1, memoryGb: 1 } },
    limits: { global: 100_000, perOwner: 100_000 },
  });
  await controller.start();
  const created = new Map<string, number>();
  const seen = new Map<string, number>();
  const batch = kc.makeApiClient(BatchV1Api);
  const jobs = makeInformer<V1Job>(kc, '/apis/batch/v1/jobs', () => batch.listJobForAllNamespaces({}));
  jobs.on('add', (j) => {
    const name = j.metadata?.name ?? '';
    if (!seen.has(name)) seen.set(name, performance.now());
  });
  await jobs.start();
  // Warm-up: the first MediaJobs after the CRD is installed meet a cold API server (its storage for
  // the new resource is still initializing) and a controller whose caches are just syncing.
  const warm = 5;
  for (let i = -warm; i < n; i++) {
    const name = i < 0 ? `warmup${-i}` : `bench-${i}`;
    const body = { apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', metadata: { name }, spec: { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: `/storage/${name}.mp4`, format: 'mp4' }, operations: [], options: { priority: 'normal', hardwareAcceleration: 'auto' } } };
    const t0 = performance.now();
    const r = await cp.api('POST', '/apis/kubeff.io/v1alpha1/namespaces/default/mediajobs', body);
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${r.text}`);
    if (i >= 0) created.set(name, t0);
    else await new Promise((res) => setTimeout(res, 300));
    // Paced like a steady stream of submissions, not one burst.
    await new Promise((res) => setTimeout(res, 20));
  }
  const deadline = Date.now() + 60_000;
  while ([...created.keys()].some((k) => !seen.has(k)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  const lat = [...created].map(([name, t0]) => (seen.get(name) ?? NaN) - t0).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
  console.log(`\nMediaJob created → Job created (operator controller, real control plane, ${lat.length}/${n} jobs)`);
  console.log(`| p50 | p99 | max |\n|---:|---:|---:|\n| ${pct(50).toFixed(1)} ms | ${pct(99).toFixed(1)} ms | ${(lat.at(-1) ?? NaN).toFixed(1)} ms |`);
  await jobs.stop();
  await controller.stop();
} finally {
  await cp.stop();
}
