#!/usr/bin/env node
// The operator entrypoint (cluster mode): leader election on a Lease, then the MediaJob
// controller while leading; clean shutdown on SIGTERM (the Lease is released for the next replica).
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { processLogger } from './logger.ts';
import { MediaJobController } from './kube/controller.ts';
import { OperatorMetrics } from './kube/metrics.ts';
// One OpenTelemetry setup for the project's processes; it loads nothing when tracing is off.
import { startTracing, stopTracing } from './tracing.ts';
import { LeaderElector } from './kube/leader.ts';
import type { JobBuilderSettings } from './job-builder.ts';

const env = process.env;
const log = processLogger(env['LOG_LEVEL'] || 'info', { component: 'operator' });

function int(name: string, def: number): number {
  const v = env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got '${v}'`);
  return n;
}

function json<T>(name: string, def: T): T {
  const v = env[name];
  return v ? (JSON.parse(v) as T) : def;
}

const kc = new KubeConfig();
// KUBECONFIG when given (development, tests), else the pod's service account.
kc.loadFromDefault();

const settings: JobBuilderSettings = {
  image: env['KUBEFF_WORKER_IMAGE'] || 'ghcr.io/kubeff/worker:0.1.0',
  serviceAccountName: env['KUBEFF_WORKER_SERVICE_ACCOUNT'] || 'kubeff-worker',
  storageClaimName: env['KUBEFF_STORAGE_CLAIM'] || 'kubeff-storage',
  storageSecretName: env['KUBEFF_STORAGE_SECRET'] || undefined,
  natsUrl: env['NATS_URL'] || undefined,
  priorityClassNames: json('KUBEFF_PRIORITY_CLASSES', {}),
  cpuPool: json('KUBEFF_CPU_POOL', {}),
  gpuPool: json('KUBEFF_GPU_POOL', { resourceName: 'nvidia.com/gpu', tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] }),
  maxAttempts: int('KUBEFF_MAX_ATTEMPTS', 3),
  defaultDeadlineSeconds: int('KUBEFF_JOB_DEADLINE_SECONDS', 6 * 3600),
  ttlSecondsAfterFinished: int('KUBEFF_JOB_TTL_SECONDS', 3600),
  defaultResources: { cpu: int('KUBEFF_DEFAULT_CPU', 2), memoryGb: int('KUBEFF_DEFAULT_MEMORY_GB', 2) },
  splitCapacity: Math.max(1, Math.min(64, int('KUBEFF_SPLIT_CAPACITY', 8))),
};

// Tracing only when an OTLP endpoint is configured (the gateway's setup, named for the operator).
await startTracing({ ...env, OTEL_SERVICE_NAME: env['OTEL_SERVICE_NAME'] || 'kubeff-operator' });

const metrics = new OperatorMetrics();
const served = await metrics.serve(int('KUBEFF_METRICS_PORT', 9090), env['KUBEFF_METRICS_HOST'] || '0.0.0.0');
log.info({ port: served.port }, 'metrics on /metrics');

const controller = new MediaJobController({
  metrics,
  kubeconfig: kc,
  log,
  settings,
  limits: { global: int('KUBEFF_MAX_RUNNING_JOBS', 100), perOwner: int('KUBEFF_MAX_CONCURRENT_JOBS', 10) },
  natsUrl: env['NATS_URL'] || undefined,
});
let running = false;
const elector = new LeaderElector({
  kubeconfig: kc,
  namespace: env['POD_NAMESPACE'] || 'default',
  name: env['KUBEFF_LEASE_NAME'] || 'kubeff-operator',
  identity: env['POD_NAME'] || `${hostname()}-${process.pid}`,
  leaseSeconds: int('KUBEFF_LEASE_SECONDS', 15),
  log,
  async onStartedLeading() {
    await controller.start();
    running = true;
    metrics.setLeading(true);
  },
  async onStoppedLeading() {
    metrics.setLeading(false);
    if (!running) return;
    running = false;
    await controller.stop();
    // A controller's informers cannot be restarted cleanly after stop: exit and let the
    // Deployment start a fresh replica, which will wait for the Lease.
    process.exit(1);
  },
});
elector.start();

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    log.info({ signal: sig }, 'shutting down');
    running = false;
    metrics.setLeading(false);
    // Bounded: a stuck API call must not keep a terminating pod past its grace period.
    setTimeout(() => process.exit(1), 20_000).unref();
    Promise.all([controller.stop(), elector.stop(), new Promise((r) => served.server.close(r))]).then(() => stopTracing()).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
