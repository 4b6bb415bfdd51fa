// The process node (test/cluster/process-node.ts) against the real control plane: the real
// scheduler binds pods to its Nodes, the real Job controller and garbage collector act on the
// status it reports, and the pods' containers are local processes (a shell, or the kubeff worker).
//   PATH=$PWD/node_modules/.bin:$PATH vitest run --config test/cluster/vitest.config.ts
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { buildJob, type JobBuilderSettings, type MediaJobObject } from '../../operator/src/job-builder.ts';
import { ffprobe, makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { startProcessNode, type Container, type ProcessNode } from './process-node.ts';
import { eventually } from '../support/eventually.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const crdPath = join(repoRoot, 'crds', 'mediajobs.kubeff.io.yaml');
const workerMain = join(repoRoot, 'worker-image', 'src', 'main.ts');
const ns = 'default';

interface ContainerStatus {
  name: string;
  state: { running?: { startedAt: string }; terminated?: { exitCode: number; reason?: string; message?: string }; waiting?: { reason?: string; message?: string } };
}
interface PodObj {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; hostIP?: string; conditions?: Array<{ type: string; status: string }>; containerStatuses?: ContainerStatus[] };
}
interface NodeObj {
  metadata: { name: string; labels: Record<string, string> };
  spec: { taints?: unknown[] };
  status: {
    capacity: Record<string, string>;
    allocatable: Record<string, string>;
    conditions: Array<{ type: string; status: string }>;
    addresses: Array<{ type: string; address: string }>;
  };
}
interface JobObj {
  metadata: { name: string; uid: string };
  status?: { conditions?: Array<{ type: string; status: string; reason?: string }>; succeeded?: number; failed?: number };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('the process node: pods of the real scheduler and Job controller run as local processes', () => {
  let cp: ControlPlane;
  let node: ProcessNode;
  let volumeRoot: string;
  let storage: StorageRoot;
  const nodeLog: string[] = [];

  const podsOf = async (job: string): Promise<PodObj[]> => {
    const r = await cp.api('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`batch.kubernetes.io/job-name=${job}`)}`);
    if (r.status !== 200) throw new Error(`list pods: ${r.status} ${r.text}`);
    return (r.body as { items: PodObj[] }).items;
  };
  const getJob = async (job: string): Promise<JobObj | undefined> => {
    const r = await cp.api('GET', `/apis/batch/v1/namespaces/${ns}/jobs/${job}`);
    return r.status === 200 ? (r.body as JobObj) : undefined;
  };
  /** Waits for the Job's Complete or Failed condition; returns which. */
  const jobFinished = async (job: string, timeoutMs = 60_000) => {
    try {
      return await eventually(`Job ${job} finishes`, async () => {
        const j = await getJob(job);
        const c = j?.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
        return c ? { type: c.type, reason: c.reason, job: j } : undefined;
      }, timeoutMs);
    } catch (e) {
      // What the pods and the process node saw, for the failure message.
      const pods = await podsOf(job).catch(() => []);
      throw new Error(`${(e as Error).message}\njob: ${JSON.stringify((await getJob(job))?.status)}\npods: ${JSON.stringify(pods.map((p) => ({ name: p.metadata.name, node: p.spec.nodeName, status: p.status })))}\nprocess node log:\n${nodeLog.slice(-30).join('\n')}`);
    }
  };
  const createJob = async (job: Record<string, unknown>) => {
    const r = await cp.api('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, job);
    if (r.status !== 201) throw new Error(`create job: HTTP ${r.status} ${r.text}`);
    return r.body as JobObj;
  };
  const shellJob = (name: string, script: string, extra: { backoffLimit?: number; podSpec?: Record<string, unknown>; container?: Partial<Container>; completions?: number } = {}) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: {
      backoffLimit: extra.backoffLimit ?? 0,
      ...(extra.completions ? { completions: extra.completions, parallelism: extra.completions } : {}),
      template: {
        spec: {
          restartPolicy: 'Never',
          ...extra.podSpec,
          containers: [{ name: 'main', image: 'busybox:1.36', command: ['sh', '-c', script], ...extra.container }],
        },
      },
    },
  });

  beforeAll(async () => {
    cp = await startControlPlane();
    volumeRoot = mkdtempSync(join(tmpdir(), 'kubeff-pn-'));
    storage = makeStorage('kubeff-pn-storage-');
    makeSource(storage.host('/storage/in.mp4'), { seconds: 1 });
    node = await startProcessNode({
      kubeconfig: cp.kubeconfig,
      volumeRoot,
      nodes: [
        { name: 'cpu-node', labels: { 'kubeff.io/pool': 'cpu' }, capacity: { cpu: '4', memory: '8Gi', pods: '20' } },
        {
          name: 'gpu-node',
          labels: { 'kubeff.io/pool': 'gpu' },
          taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
          capacity: { cpu: '4', memory: '8Gi', pods: '20', 'nvidia.com/gpu': '1' },
        },
      ],
      images: {
        // The container's command is the local command (sh is busybox's sh stand-in here).
        busybox: (c) => ({ command: c.command?.[0] ?? 'sh', args: c.command?.slice(1) ?? [] }),
        'kubeff/worker': () => ({ command: process.execPath, args: [workerMain] }),
      },
      pvcPaths: { media: storage.root },
      log: (l) => nodeLog.push(l),
    });
  });

  afterAll(async () => {
    await node?.stop();
    await cp?.stop();
    if (volumeRoot) rmSync(volumeRoot, { recursive: true, force: true });
    storage?.remove();
  });

  it('registers Ready nodes with capacity, loopback addresses, the GPU taint, and renews their Leases', async () => {
    const nodes = await eventually('both nodes listed', async () => {
      const r = await cp.api('GET', '/api/v1/nodes');
      const items = (r.body as { items: NodeObj[] }).items;
      return items.length === 2 ? items : undefined;
    });
    const gpu = nodes.find((n) => n.metadata.name === 'gpu-node');
    const cpu = nodes.find((n) => n.metadata.name === 'cpu-node');
    expect(gpu?.spec.taints).toEqual([{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }]);
    expect(gpu?.status.capacity).toMatchObject({ 'nvidia.com/gpu': '1', cpu: '4', memory: '8Gi', pods: '20' });
    expect(gpu?.status.allocatable).toMatchObject({ 'nvidia.com/gpu': '1' });
    expect(gpu?.metadata.labels).toMatchObject({ 'kubeff.io/pool': 'gpu', 'kubernetes.io/hostname': 'gpu-node' });
    expect(cpu?.status.capacity['nvidia.com/gpu']).toBeUndefined();
    for (const n of nodes) {
      const ready = n.status.conditions.find((c) => c.type === 'Ready');
      expect(ready?.status).toBe('True');
      const ips = n.status.addresses.filter((a) => a.type.endsWith('IP'));
      expect(ips).toEqual([{ type: 'InternalIP', address: '127.0.0.1' }]);
    }
    const lease = async () => {
      const r = await cp.api('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/cpu-node');
      return (r.body as { spec: { holderIdentity: string; renewTime: string } }).spec;
    };
    const first = await lease();
    expect(first.holderIdentity).toBe('cpu-node');
    await eventually('the lease is renewed', async () => ((await lease()).renewTime !== first.renewTime ? true : undefined), 15_000);
  });

  it('runs a Job pod that exits 0: the Job completes, the pod is Succeeded with the termination message', async () => {
    expect((await cp.api('POST', `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'greeting' }, data: { word: 'hello' } })).status).toBe(201);
    await createJob(shellJob('ok', 'printf "%s from %s" "$WORD" "$NODE" > "$MSG"; echo logged; exit 0', {
      container: {
        env: [
          { name: 'MSG', value: '/dev/termination-log' },
          { name: 'WORD', valueFrom: { configMapKeyRef: { name: 'greeting', key: 'word' } } },
          { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        ],
      },
    }));
    const done = await jobFinished('ok');
    expect(done.type).toBe('Complete');
    expect(done.job?.status?.succeeded).toBe(1);
    const [pod] = await podsOf('ok');
    expect(pod?.spec.nodeName).toBe('cpu-node');
    expect(pod?.status.phase).toBe('Succeeded');
    expect(pod?.status.podIP).toBe('127.0.0.1');
    expect(pod?.status.hostIP).toBe('127.0.0.1');
    expect(pod?.status.containerStatuses?.[0]?.state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed', message: 'hello from cpu-node' });
    const proc = node.processes().find((p) => p.pod === pod?.metadata.name);
    expect(proc).toMatchObject({ running: false, exitCode: 0, node: 'cpu-node' });
  });

  it('fails a Job with backoffLimit 0 when its process exits 3', async () => {
    await createJob(shellJob('bad', 'echo broken > "$MSG"; exit 3', { container: { env: [{ name: 'MSG', value: '/dev/termination-log' }] } }));
    const done = await jobFinished('bad');
    expect(done.type).toBe('Failed');
    expect(done.reason).toBe('BackoffLimitExceeded');
    const pods = await podsOf('bad');
    expect(pods).toHaveLength(1);
    expect(pods[0]?.status.phase).toBe('Failed');
    expect(pods[0]?.status.containerStatuses?.[0]?.state.terminated).toMatchObject({ exitCode: 3, reason: 'Error', message: 'broken\n' });
  });

  it('places a GPU Job only on gpu-node, and CPU Jobs never there', async () => {
    await createJob(shellJob('gpu', 'exit 0', {
      podSpec: {
        nodeSelector: { 'kubeff.io/pool': 'gpu' },
        tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      },
      container: { resources: { limits: { 'nvidia.com/gpu': '1' } } },
    }));
    await createJob(shellJob('cpus', 'exit 0', { completions: 4 }));
    expect((await jobFinished('gpu')).type).toBe('Complete');
    expect((await jobFinished('cpus')).type).toBe('Complete');
    const gpuPods = await podsOf('gpu');
    expect(gpuPods.map((p) => p.spec.nodeName)).toEqual(['gpu-node']);
    const cpuPods = await podsOf('cpus');
    expect(cpuPods).toHaveLength(4);
    expect(new Set(cpuPods.map((p) => p.spec.nodeName))).toEqual(new Set(['cpu-node']));
    // Without the toleration the GPU request cannot be placed: the only GPU node is tainted.
    await createJob(shellJob('gpu-untolerated', 'exit 0', { container: { resources: { limits: { 'nvidia.com/gpu': '1' } } } }));
    const pending = await eventually('the untolerated GPU pod is unschedulable', async () => {
      const p = (await podsOf('gpu-untolerated'))[0];
      return p?.status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False') ? p : undefined;
    });
    expect(pending.spec.nodeName).toBeUndefined();
    expect((await cp.api('DELETE', `/apis/batch/v1/namespaces/${ns}/jobs/gpu-untolerated`, { propagationPolicy: 'Background' })).status).toBe(200);
  });

  it('stops the process when a running Job is deleted with foreground propagation, and the pod goes', async () => {
    await createJob(shellJob('sleeper', 'sleep 300', { podSpec: { terminationGracePeriodSeconds: 5 } }));
    const pod = await eventually('the sleeper pod runs', async () => {
      const p = (await podsOf('sleeper'))[0];
      return p?.status.phase === 'Running' ? p : undefined;
    });
    expect(pod.status.containerStatuses?.[0]?.state.running).toBeDefined();
    expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const proc = node.processes().find((p) => p.uid === pod.metadata.uid);
    const pid = proc?.pid;
    if (pid === undefined) throw new Error('no process for the sleeper pod');
    expect(isAlive(pid)).toBe(true);
    const del = await cp.api('DELETE', `/apis/batch/v1/namespaces/${ns}/jobs/sleeper`, { propagationPolicy: 'Foreground' });
    expect(del.status).toBe(200);
    await eventually('the sleeper process is gone', async () => (isAlive(pid) ? undefined : true), 20_000);
    // Its process group too (the shell's sleep; a zombie counts until it is reaped).
    const groupAlive = () => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await eventually('the sleeper process group is gone', async () => (groupAlive() ? undefined : true), 20_000);
    await eventually('the pod and the Job are gone', async () => ((await podsOf('sleeper')).length === 0 && (await getJob('sleeper')) === undefined ? true : undefined), 60_000);
    expect(node.processes().find((p) => p.uid === pod.metadata.uid)?.running ?? false).toBe(false);
  });

  it('runs a real kubeff worker pod built by buildJob: the Job completes and the output exists', async () => {
    expect((await cp.kubectl(['apply', '-f', crdPath])).code).toBe(0);
    expect((await cp.kubectl(['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=60s'], { timeoutMs: 70_000 })).code).toBe(0);
    // A bound claim: the scheduler's volume binding refuses pods whose claim is missing or unbound.
    expect((await cp.api('POST', '/api/v1/persistentvolumes', {
      metadata: { name: 'media-pv' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: 'manual', hostPath: { path: storage.root }, claimRef: { namespace: ns, name: 'media' } },
    })).status).toBe(201);
    expect((await cp.api('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      metadata: { name: 'media' },
      spec: { accessModes: ['ReadWriteMany'], storageClassName: 'manual', volumeName: 'media-pv', resources: { requests: { storage: '1Gi' } } },
    })).status).toBe(201);
    await eventually('the claim is bound', async () => {
      const r = await cp.api('GET', `/api/v1/namespaces/${ns}/persistentvolumeclaims/media`);
      return (r.body as { status?: { phase?: string } }).status?.phase === 'Bound' ? true : undefined;
    });

    const spec = normalizeRequest('convert', { input: '/storage/in.mp4', output: { path: '/storage/out.mp4', video: { preset: 'ultrafast' } } });
    const created = await cp.api('POST', `/apis/kubeff.io/v1alpha1/namespaces/${ns}/mediajobs`, { apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', metadata: { name: 'convert-1' }, spec });
    expect(created.status, created.text).toBe(201);
    const mj: MediaJobObject = { apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', metadata: { name: 'convert-1', namespace: ns, uid: (created.body as { metadata: { uid: string } }).metadata.uid }, spec };
    const settings: JobBuilderSettings = {
      image: 'kubeff/worker',
      serviceAccountName: 'default',
      storageClaimName: 'media',
      cpuPool: {},
      gpuPool: { resourceName: 'nvidia.com/gpu', nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] },
      maxAttempts: 1,
      defaultDeadlineSeconds: 300,
      ttlSecondsAfterFinished: 3600,
      defaultResources: { cpu: 1, memoryGb: 1 },
    };
    await createJob(buildJob(mj, settings));
    const done = await jobFinished('convert-1', 120_000);
    const pods = await podsOf('convert-1');
    const pod = pods[0];
    const proc = node.processes().find((p) => p.uid === pod?.metadata.uid);
    expect(done.type, `pod status: ${JSON.stringify(pod?.status)}\nnode log: ${nodeLog.join('\n')}`).toBe('Complete');
    expect(pod?.spec.nodeName).toBe('cpu-node');
    expect(pod?.status.phase).toBe('Succeeded');
    const term = pod?.status.containerStatuses?.find((c) => c.name === 'worker')?.state.terminated;
    expect(term?.exitCode).toBe(0);
    const result = JSON.parse(term?.message ?? '') as { status: string; outputs: Array<{ path: string }> };
    expect(result.status).toBe('completed');
    expect(result.outputs.map((o) => o.path)).toContain('/storage/out.mp4');
    expect(existsSync(storage.host('/storage/out.mp4'))).toBe(true);
    const probed = ffprobe(storage.host('/storage/out.mp4'));
    expect(probed.streams.some((s) => s.codec_type === 'video' && s.codec_name === 'h264')).toBe(true);
    expect(proc?.exitCode).toBe(0);
  });

  it('stops: no process left running', async () => {
    await node.stop();
    expect(node.processes().filter((p) => p.running)).toEqual([]);
    await node.stop(); // idempotent
  });
});
