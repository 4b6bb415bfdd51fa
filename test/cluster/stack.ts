// The whole cluster-mode stack for tests and benchmarks: a real control plane with the CRD, a
// namespace (kubeff: the one operator/manifests/rbac.yaml names) with the project's RBAC and a storage claim, a process node (CPU and GPU nodes)
// running the real worker, a real nats-server with JetStream, the operator's controller, and
// gateway replicas in cluster mode running with the kubeff-gateway ServiceAccount's token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { startCluster, type Cluster, type ClusterOptions } from '../../gateway/src/cluster.ts';
import { configFromEnv } from '../../gateway/src/config.ts';
import { MediaJobController } from '../../operator/src/kube/controller.ts';
import type { JobBuilderSettings } from '../../operator/src/job-builder.ts';
import { eventually } from '../support/eventually.ts';
import { makeStorage, type StorageRoot } from '../support/media.ts';
import { startNats } from '../support/nats.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { startProcessNode, type ImageMapper, type ProcessNode } from './process-node.ts';

const repo = join(import.meta.dirname, '..', '..');
export const workerBundle = join(repo, 'worker-image', 'dist', 'kubeff-worker.mjs');

export const stackSettings: JobBuilderSettings = {
  image: 'kubeff/worker',
  serviceAccountName: 'kubeff-worker',
  storageClaimName: 'media',
  cpuPool: { nodeSelector: { 'kubeff.io/pool': 'cpu' } },
  gpuPool: { resourceName: 'nvidia.com/gpu', nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] },
  maxAttempts: 3,
  defaultDeadlineSeconds: 600,
  ttlSecondsAfterFinished: 3600,
  defaultResources: { cpu: 1, memoryGb: 1 },
};

export interface Stack {
  cp: ControlPlane;
  nats: Awaited<ReturnType<typeof startNats>>;
  node: ProcessNode;
  controller: MediaJobController;
  storage: StorageRoot;
  namespace: string;
  /** A gateway replica in cluster mode listening on a loopback port. */
  startReplica(name: string, env: Record<string, string>, opts?: Omit<ClusterOptions, 'kubeconfig'>): Promise<{ gw: Cluster; url: string }>;
  /** Stops everything started (replicas first). Idempotent. */
  stop(): Promise<void>;
}

export async function startStack(o: { namespace: string; worker?: ImageMapper; operatorLogLevel?: string } = { namespace: 'kubeff' }): Promise<Stack> {
  const ns = o.namespace;
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  };
  try {
    const cp = await startControlPlane();
    cleanups.push(() => cp.stop());
    const nats = await startNats();
    const stack = { nats } as { nats: typeof nats };
    cleanups.push(() => stack.nats.stop());
    const storage = makeStorage('kubeff-stack-');
    cleanups.push(() => storage.remove());
    const volumeRoot = mkdtempSync(join(tmpdir(), 'kubeff-stack-vol-'));
    cleanups.push(() => rmSync(volumeRoot, { recursive: true, force: true }));
    for (const args of [
      ['apply', '-f', join(repo, 'crds', 'mediajobs.kubeff.io.yaml')],
      ['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=60s'],
      ['create', 'namespace', ns],
      ['apply', '-f', join(repo, 'operator', 'manifests', 'rbac.yaml')],
    ]) {
      const r = await cp.kubectl(args, { timeoutMs: 70_000 });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    }
    await eventually('the kubeff-gateway ServiceAccount', async () => ((await cp.kubectl(['get', 'sa', 'kubeff-gateway', '-n', ns])).code === 0 ? true : undefined), 30_000);
    const pv = await cp.api('POST', '/api/v1/persistentvolumes', { metadata: { name: `${ns}-media` }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: 'manual', hostPath: { path: storage.root }, claimRef: { namespace: ns, name: 'media' } } });
    const pvc = await cp.api('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, { metadata: { name: 'media' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: 'manual', volumeName: `${ns}-media`, resources: { requests: { storage: '1Gi' } } } });
    if (pv.status !== 201 || pvc.status !== 201) throw new Error(`storage volume: ${pv.text} ${pvc.text}`);
    const node = await startProcessNode({
      kubeconfig: cp.kubeconfig,
      volumeRoot,
      nodes: [
        { name: 'cpu-node', labels: { 'kubeff.io/pool': 'cpu' }, capacity: { cpu: '8', memory: '16Gi', pods: '30' } },
        { name: 'gpu-node', labels: { 'kubeff.io/pool': 'gpu' }, taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }], capacity: { cpu: '4', memory: '8Gi', pods: '10', 'nvidia.com/gpu': '1' } },
      ],
      images: { 'kubeff/worker': o.worker ?? (() => ({ command: process.execPath, args: [workerBundle] })) },
      pvcPaths: { media: storage.root },
    });
    cleanups.push(() => node.stop());
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const controller = new MediaJobController({ kubeconfig: kc, log: pino({ level: o.operatorLogLevel ?? 'warn' }), settings: { ...stackSettings, natsUrl: nats.url }, limits: { global: 10, perOwner: 10 }, resyncMs: 1000, natsUrl: nats.url, progressIntervalMs: 300 });
    await controller.start();
    cleanups.push(() => controller.stop());

    /** A kubeconfig for a ServiceAccount: the gateway runs with exactly its RBAC. */
    const serviceAccountConfig = async (sa: string): Promise<KubeConfig> => {
      const token = await cp.kubectl(['create', 'token', sa, '-n', ns, '--duration=1h']);
      if (token.code !== 0) throw new Error(`token for ${sa}: ${token.stderr}`);
      const k = new KubeConfig();
      k.loadFromOptions({
        clusters: [{ name: 'test', server: cp.apiServerUrl, caData: Buffer.from(cp.credentials.ca).toString('base64') }],
        users: [{ name: sa, token: token.stdout.trim() }],
        contexts: [{ name: 'test', cluster: 'test', user: sa, namespace: ns }],
        currentContext: 'test',
      });
      return k;
    };

    const result: Stack = {
      cp, node, controller, storage, namespace: ns,
      get nats() {
        return stack.nats;
      },
      set nats(n) {
        stack.nats = n;
      },
      async startReplica(name, env, opts = {}) {
        const dataDir = mkdtempSync(join(tmpdir(), `kubeff-gw-${name}-`));
        cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
        const config = configFromEnv({ KUBEFF_MODE: 'cluster', KUBEFF_NAMESPACE: ns, NATS_URL: stack.nats.url, PORT: '0', HOST: '127.0.0.1', KUBEFF_STORAGE_ROOT: storage.root, KUBEFF_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env });
        const gw = await startCluster(config, { logger: pino({ level: 'warn' }).child({ replica: name }), ...opts, kubeconfig: await serviceAccountConfig('kubeff-gateway') });
        cleanups.push(() => gw.close());
        const url = await gw.app.listen({ port: 0, host: '127.0.0.1' });
        return { gw, url };
      },
      stop,
    };
    return result;
  } catch (err) {
    await stop();
    throw err;
  }
}
