// The operator's cluster runtime against the real control plane: MediaJobs applied with kubectl
// (no gateway) become batch/v1 Jobs owned by them, admission holds the third job of an owner
// queued, a later high-priority job goes before older normal ones, and cancellation deletes the
// Job and makes the phase final. (Pods stay Pending here: running them is the process node's job.)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaJobController } from '../../operator/src/kube/controller.ts';
import { LeaderElector } from '../../operator/src/kube/leader.ts';
import type { JobBuilderSettings } from '../../operator/src/job-builder.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/ports.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

const settings: JobBuilderSettings = {
  image: 'kubeff/worker:test',
  serviceAccountName: 'default',
  storageClaimName: 'kubeff-storage',
  cpuPool: {},
  gpuPool: { resourceName: 'nvidia.com/gpu', nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] },
  maxAttempts: 3,
  defaultDeadlineSeconds: 3600,
  ttlSecondsAfterFinished: 600,
  defaultResources: { cpu: 1, memoryGb: 1 },
};

function manifest(name: string, priority: string): string {
  return JSON.stringify({
    apiVersion: 'kubeff.io/v1alpha1',
    kind: 'MediaJob',
    metadata: { name, labels: { 'kubeff.io/owner': 'team-a' } },
    spec: { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: `/storage/${name}.mp4`, format: 'mp4' }, operations: [], options: { priority, hardwareAcceleration: 'auto' } },
  });
}

/** A control plane with the MediaJob CRD installed and established. */
async function controlPlaneWithCrd(): Promise<ControlPlane> {
  const cp = await startControlPlane();
  const applied = await cp.kubectl(['apply', '-f', join(repoRoot, 'crds', 'mediajobs.kubeff.io.yaml')]);
  expect(applied.code, applied.stderr).toBe(0);
  await cp.kubectl(['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=30s']);
  return cp;
}

describe('the MediaJob controller on a real control plane', () => {
  let cp: ControlPlane;
  let controller: MediaJobController;

  const phase = async (name: string) => {
    const r = await cp.kubectl(['get', 'mj', name, '-o', 'jsonpath={.status.phase}']);
    return r.stdout.trim();
  };
  const jobExists = async (name: string) => (await cp.kubectl(['get', 'job', name, '-o', 'name'])).code === 0;

  beforeAll(async () => {
    cp = await controlPlaneWithCrd();
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    controller = new MediaJobController({ kubeconfig: kc, log: pino({ level: 'warn' }), settings, limits: { global: 10, perOwner: 2 }, resyncMs: 1000 });
    await controller.start();
  }, 120_000);

  afterAll(async () => {
    await controller?.stop();
    await cp?.stop();
  });

  it('turns applied MediaJobs into owned Jobs, two at a time for one owner; the third waits queued', async () => {
    for (const n of ['a1', 'a2', 'a3']) {
      const r = await cp.kubectl(['apply', '-f', '-'], { input: manifest(n, 'normal') });
      expect(r.code, r.stderr).toBe(0);
      await new Promise((res) => setTimeout(res, 1100)); // distinct creation times (second resolution)
    }
    await eventually('a1 and a2 processing', async () => ((await phase('a1')) === 'processing' && (await phase('a2')) === 'processing' ? true : undefined));
    expect(await jobExists('a1')).toBe(true);
    expect(await jobExists('a2')).toBe(true);
    await eventually('a3 queued', async () => ((await phase('a3')) === 'queued' ? true : undefined));
    expect(await jobExists('a3')).toBe(false);
    const owner = JSON.parse((await cp.kubectl(['get', 'job', 'a1', '-o', 'json'])).stdout) as { metadata: { ownerReferences: { kind: string; name: string; controller: boolean }[] } };
    expect(owner.metadata.ownerReferences[0]).toMatchObject({ kind: 'MediaJob', name: 'a1', controller: true });
    const cond = JSON.parse((await cp.kubectl(['get', 'mj', 'a3', '-o', 'jsonpath={.status.conditions[0]}'])).stdout) as { reason: string; observedGeneration: number };
    expect(cond).toMatchObject({ reason: 'Queued', observedGeneration: 1 });
  });

  it('admits a later high-priority job before older normal ones, and cancels by deleting the Job', async () => {
    const r = await cp.kubectl(['apply', '-f', '-'], { input: manifest('urgent', 'high') });
    expect(r.code, r.stderr).toBe(0);
    await eventually('urgent queued', async () => ((await phase('urgent')) === 'queued' ? true : undefined));
    // Cancel a1: its Job goes (foreground), its phase is final, and a slot frees.
    const ann = await cp.kubectl(['annotate', 'mj', 'a1', 'kubeff.io/cancel-requested=true']);
    expect(ann.code, ann.stderr).toBe(0);
    await eventually('a1 cancelled', async () => ((await phase('a1')) === 'cancelled' ? true : undefined));
    await eventually('a1 Job deleted', async () => ((await jobExists('a1')) ? undefined : true));
    await eventually('urgent admitted', async () => ((await phase('urgent')) === 'processing' ? true : undefined));
    expect(await phase('a3'), 'the older normal job still waits').toBe('queued');
    expect(await jobExists('urgent')).toBe(true);
    // Terminal is final: the controller keeps a1 cancelled on every resync.
    await new Promise((res) => setTimeout(res, 1500));
    expect(await phase('a1')).toBe('cancelled');
  });
});

describe('operator restarts', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await controlPlaneWithCrd();
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('loses nothing and creates no duplicate Job when the operator is stopped and started again', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const make = () => new MediaJobController({ kubeconfig: kc, log: pino({ level: 'silent' }), settings, limits: { global: 10, perOwner: 5 }, resyncMs: 500 });
    const first = make();
    await first.start();
    const r = await cp.kubectl(['apply', '-f', '-'], { input: manifest('survivor', 'normal') });
    expect(r.code, r.stderr).toBe(0);
    await eventually('Job created', async () => ((await cp.kubectl(['get', 'job', 'survivor', '-o', 'name'])).code === 0 ? true : undefined));
    await first.stop();
    const second = make();
    await second.start();
    try {
      // Several resyncs of the new operator: still one Job, the MediaJob still processing.
      await new Promise((res) => setTimeout(res, 2000));
      const jobs = JSON.parse((await cp.kubectl(['get', 'jobs', '-l', 'kubeff.io/mediajob=survivor', '-o', 'json'])).stdout) as { items: unknown[] };
      expect(jobs.items).toHaveLength(1);
      const p = (await cp.kubectl(['get', 'mj', 'survivor', '-o', 'jsonpath={.status.phase}'])).stdout.trim();
      expect(p).toBe('processing');
    } finally {
      await second.stop();
    }
  });
});

describe('the operator entrypoint (node operator/src/main.ts)', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await controlPlaneWithCrd();
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('leads, serves Prometheus metrics of its work, and on SIGTERM stops cleanly (exit 0) and releases its Lease', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(repoRoot, 'operator', 'src', 'main.ts')], {
      env: { ...cp.env(), POD_NAMESPACE: 'default', POD_NAME: 'operator-0', KUBEFF_METRICS_PORT: String(port), KUBEFF_METRICS_HOST: '127.0.0.1', KUBEFF_LEASE_SECONDS: '5', KUBEFF_WORKER_IMAGE: 'kubeff/worker:test', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const metric = (text: string, name: string) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.slice(name.length + 1) ?? NaN);
    try {
      await eventually('the operator leads', async () => (metric(await scrape(), 'kubeff_operator_leader') === 1 ? true : undefined), 30_000);
      const r = await cp.kubectl(['apply', '-f', '-'], { input: manifest('from-main', 'normal') });
      expect(r.code, r.stderr).toBe(0);
      await eventually('its Job exists', async () => ((await cp.kubectl(['get', 'job', 'from-main', '-o', 'name'])).code === 0 ? true : undefined), 30_000);
      const text = await eventually('metrics show the work', async () => {
        const t = await scrape();
        return metric(t, 'kubeff_operator_jobs_created_total') >= 1 && metric(t, 'kubeff_operator_mediajobs{phase="processing"}') === 1 ? t : undefined;
      }, 15_000);
      expect(metric(text, 'kubeff_operator_reconciles_total{result="ok"}')).toBeGreaterThan(0);
      expect(text).toContain('kubeff_operator_reconcile_duration_seconds_bucket');
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 15 s'), 15_000))]);
      expect(code, stderr).toBe(0);
      const lease = JSON.parse((await cp.kubectl(['get', 'lease', 'kubeff-operator', '-n', 'default', '-o', 'json'])).stdout) as { spec: { holderIdentity?: string } };
      expect(lease.spec.holderIdentity ?? '', 'the Lease is released for the next replica').toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('leader election on a Lease', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  }, 120_000);
  afterAll(async () => cp?.stop());

  it('lets exactly one replica lead, and hands over when the leader stops', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const leading = new Set<string>();
    const make = (identity: string) =>
      new LeaderElector({
        kubeconfig: kc, namespace: 'default', name: 'kubeff-operator', identity, leaseSeconds: 3, log: pino({ level: 'silent' }),
        onStartedLeading: () => void leading.add(identity),
        onStoppedLeading: () => void leading.delete(identity),
      });
    const a = make('replica-a');
    const b = make('replica-b');
    a.start();
    b.start();
    await eventually('one leader', async () => (leading.size === 1 ? true : undefined));
    // Several renewal periods later there is still exactly one.
    await new Promise((res) => setTimeout(res, 2500));
    expect(leading.size).toBe(1);
    const [first] = [...leading];
    const lease = JSON.parse((await cp.kubectl(['get', 'lease', 'kubeff-operator', '-o', 'json'])).stdout) as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toBe(first);
    const [leader, other] = first === 'replica-a' ? [a, b] : [b, a];
    await leader.stop();
    await eventually('the other replica takes over', async () => (other.isLeader() ? true : undefined), 10_000);
    await other.stop();
  });
});
