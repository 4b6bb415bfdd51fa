// `helm install` of the chart into the real test control plane, its pods run by the test process
// node (test/cluster/process-node.ts) as local processes: the chart's gateway and operator
// containers run this repository's sources, each with its pod's own service-account token (so
// the chart's RBAC is what they get), in a namespace that enforces the "restricted" Pod Security
// Standard. An API call through the gateway pod's loopback port creates a job that the operator
// runs in a worker pod to completion; `helm upgrade` changes a setting, rolls the pods and loses
// no job; `helm uninstall` leaves only what the chart documents as kept.
//
// What a process node cannot be: NATS runs as an external loopback server (nats.enabled=false, the
// chart's "external NATS" mode), Services have no proxy (the test calls the gateway pod's own
// port), and the images are mapped to local commands.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { startProcessNode, type Container, type ContainerContext, type ProcessNode } from '../cluster/process-node.ts';
import { eventually } from '../support/eventually.ts';
import { ffprobe, makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { startNats } from '../support/nats.ts';
import { freePort } from '../support/ports.ts';
import { chartDir, helm, repoRoot, valuesFile } from './helm.ts';

const ns = 'kubeff';
const release = 'kubeff';

describe('helm install, upgrade and uninstall on the test control plane', () => {
  let cp: ControlPlane;
  let node: ProcessNode;
  let nats: Awaited<ReturnType<typeof startNats>>;
  let storage: StorageRoot;
  let volumeRoot: string;
  let values: Record<string, unknown>;
  /** Pod name → the loopback port its gateway container listens on. */
  const gatewayPorts = new Map<string, number>();

  // The chart's images as local commands. Each container gets a kubeconfig with its pod's
  // service-account token (the projected volume the API server injected), so it talks to the API
  // server as that service account, as in a real pod.
  const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
  const kubeconfigFor = (ctx: ContainerContext): string => {
    const saDir = ctx.mounts[serviceAccountDir];
    if (!saDir) throw new Error(`pod ${ctx.pod.metadata.name} has no service-account token mounted`);
    // The process node wrote the projected token before it calls the image mapper.
    const token = readFileSync(join(saDir, 'token'), 'utf8').trim();
    const file = join(volumeRoot, `kubeconfig-${ctx.pod.metadata.namespace}-${ctx.pod.metadata.name}`);
    writeFileSync(file, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'pod',
      clusters: [{ name: 'cp', cluster: { server: cp.apiServerUrl, 'certificate-authority-data': Buffer.from(cp.credentials.ca).toString('base64') } }],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'pod', context: { cluster: 'cp', user: 'sa', namespace: ctx.pod.metadata.namespace } }],
    }));
    return file;
  };
  const nodeCommand = (c: Container) => {
    const [bin, script, ...rest] = c.command ?? [];
    if (bin !== 'node' || !script) throw new Error(`${c.image}: expected command [node, <script>], got ${JSON.stringify(c.command)}`);
    return { command: process.execPath, args: [join(repoRoot, script), ...rest] };
  };
  const images = {
    'ghcr.io/kubeff/gateway': (c: Container, ctx: ContainerContext) => {
      const port = nextPort.shift();
      if (port === undefined) throw new Error('no free port left for a gateway pod');
      gatewayPorts.set(ctx.pod.metadata.name, port);
      return { ...nodeCommand(c), env: { KUBECONFIG: kubeconfigFor(ctx), HOST: '127.0.0.1', PORT: String(port) } };
    },
    'ghcr.io/kubeff/operator': (c: Container, ctx: ContainerContext) => {
      const port = nextPort.shift();
      return { ...nodeCommand(c), env: { KUBECONFIG: kubeconfigFor(ctx), ...(port ? { KUBEFF_METRICS_PORT: String(port) } : {}) } };
    },
    // Worker pods mount no token and need none.
    'ghcr.io/kubeff/worker': () => ({ command: process.execPath, args: [join(repoRoot, 'worker-image', 'src', 'main.ts')] }),
  };
  const nextPort: number[] = [];

  const kubectl = async (args: string[]) => {
    const r = await cp.kubectl(args, { timeoutMs: 90_000 });
    expect(r.code, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  const runHelm = async (args: string[]) => {
    const r = await helm(args, cp.env(), 240_000);
    expect(r.code, `helm ${args[0]}: ${r.stderr}\n${r.stdout}`).toBe(0);
    return r.stdout;
  };
  const adminKey = async () => Buffer.from(await kubectl(['get', 'secret', '-n', ns, `${release}-api-keys`, '-o', 'jsonpath={.data.admin-keys}']), 'base64').toString().split(',')[0] ?? '';

  interface PodView {
    metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string };
    status?: { phase?: string };
  }
  /** The newest running gateway pod whose API answers, and its base URL. */
  const gateway = (key: string, notPod?: string) =>
    eventually('a running gateway pod that answers /api/v1/health', async () => {
      const pods = (JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', 'app.kubernetes.io/component=gateway', '-o', 'json'])) as { items: PodView[] }).items
        .filter((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp && p.metadata.name !== notPod)
        .sort((a, b) => b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp));
      for (const p of pods) {
        const port = gatewayPorts.get(p.metadata.name);
        if (!port) continue;
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/health`, { headers: { 'x-api-key': key } }).catch(() => undefined);
        if (res?.ok) return { pod: p.metadata.name, url: `http://127.0.0.1:${port}` };
      }
      return undefined;
    }, 120_000, 500);

  const api = async (url: string, key: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  const convert = async (url: string, key: string, out: string) => {
    const r = await api(url, key, '/api/v1/convert', { input: '/storage/in.mp4', output: { path: out, format: 'mp4', video: { codec: 'h264', preset: 'ultrafast' } } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return (r.body['job'] as { id: string }).id;
  };
  const finished = (url: string, key: string, id: string) =>
    eventually(`job ${id} finished`, async () => {
      const r = await api(url, key, `/api/v1/jobs/${id}`);
      return ['completed', 'failed', 'cancelled'].includes(String(r.body['status'])) ? r.body : undefined;
    }, 120_000, 500);

  beforeAll(async () => {
    for (let i = 0; i < 8; i++) nextPort.push(await freePort());
    cp = await startControlPlane();
    nats = await startNats();
    storage = makeStorage('kubeff-helm-');
    makeSource(storage.host('/storage/in.mp4'), { seconds: 1 });
    volumeRoot = mkdtempSync(join(tmpdir(), 'kubeff-helm-vol-'));
    await kubectl(['create', 'namespace', ns]);
    await kubectl(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=restricted']);
    // The media volume: a PersistentVolume reserved for the chart's claim (class "manual").
    const pv = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'kubeff-media' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: 'manual', hostPath: { path: storage.root }, claimRef: { namespace: ns, name: `${release}-storage` } } };
    const created = await cp.api('POST', '/api/v1/persistentvolumes', pv);
    expect(created.status, created.text).toBe(201);
    node = await startProcessNode({
      kubeconfig: cp.kubeconfig,
      volumeRoot,
      nodes: [
        { name: 'cpu-node', labels: { 'kubeff.io/pool': 'cpu' }, capacity: { cpu: '8', memory: '16Gi', pods: '30' } },
        { name: 'gpu-node', labels: { 'kubeff.io/pool': 'gpu' }, taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }], capacity: { cpu: '4', memory: '8Gi', pods: '20', 'nvidia.com/gpu': '1' } },
      ],
      images,
      pvcPaths: { [`${release}-storage`]: storage.root },
    });
    values = {
      nats: { enabled: false, externalUrl: nats.url },
      storage: { storageClassName: 'manual', size: '1Gi' },
      gateway: { replicas: 1, logLevel: 'warn' },
      operator: { logLevel: 'warn' },
      worker: { defaultCpu: 1, defaultMemoryGb: 1, cpuPool: { nodeSelector: { 'kubeff.io/pool': 'cpu' } }, gpuPool: { nodeSelector: { 'kubeff.io/pool': 'gpu' } } },
    };
  }, 240_000);

  afterAll(async () => {
    await node?.stop();
    await cp?.stop();
    await nats?.stop();
    storage?.remove();
    if (volumeRoot) rmSync(volumeRoot, { recursive: true, force: true });
  });

  let firstJob = '';

  it('installs: the gateway pod serves the API and a job it creates runs to completion in a worker pod', async () => {
    await runHelm(['install', release, chartDir, '-n', ns, '-f', valuesFile(values), '--wait', '--timeout', '3m']);
    const key = await adminKey();
    expect(key).toMatch(/^kff_/);
    const { url } = await gateway(key);
    firstJob = await convert(url, key, '/storage/out-1.mp4');
    const job = await finished(url, key, firstJob);
    expect(job['status'], JSON.stringify(job['error'])).toBe('completed');
    expect(ffprobe(storage.host('/storage/out-1.mp4')).streams.some((s) => s.codec_name === 'h264')).toBe(true);
    // The job is a MediaJob, run by a worker Job on the CPU pool as the chart's worker account.
    expect(await kubectl(['get', 'mediajob', '-n', ns, firstJob, '-o', 'jsonpath={.status.phase}'])).toBe('completed');
    const pod = JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', `kubeff.io/mediajob=${firstJob}`, '-o', 'json'])) as { items: Array<{ spec: { nodeName: string; serviceAccountName: string } }> };
    expect(pod.items.map((p) => [p.spec.nodeName, p.spec.serviceAccountName])).toEqual([['cpu-node', `${release}-worker`]]);
  });

  it('upgrades a setting: the pods roll, the setting applies, the keys and every job stay', async () => {
    expect(firstJob, 'the install test ran first').not.toBe('');
    const key = await adminKey();
    const before = await gateway(key);
    await runHelm(['upgrade', release, chartDir, '-n', ns, '-f', valuesFile(values), '--set', 'limits.perSecond=7', '--wait', '--timeout', '3m']);
    expect(await adminKey(), 'the generated admin key is kept across upgrades').toBe(key);
    const after = await gateway(key, before.pod);
    const old = await api(after.url, key, `/api/v1/jobs/${firstJob}`);
    expect(old.body['status'], 'the job from before the upgrade').toBe('completed');
    expect(old.headers.get('x-ratelimit-limit'), 'the new rate limit is in force').toBe('7');
    const second = await convert(after.url, key, '/storage/out-2.mp4');
    expect((await finished(after.url, key, second))['status']).toBe('completed');
  });

  it('uninstalls, leaving only the documented keeps: the media claim, the API-key Secret, the CRD and the MediaJobs', async () => {
    await runHelm(['uninstall', release, '-n', ns, '--wait', '--timeout', '2m']);
    const left = await eventually('the release\'s objects gone', async () => {
      const names = (await kubectl(['get', 'deploy,rs,sts,pod,svc,cm,secret,sa,role,rolebinding,pvc,networkpolicy,pdb,ingress,hpa', '-n', ns, '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name'])).trim().split('\n').filter(Boolean).sort();
      const cluster = (await kubectl(['get', 'clusterrole,clusterrolebinding,priorityclass', '-l', `app.kubernetes.io/instance=${release}`, '-o', 'name'])).trim().split('\n').filter(Boolean);
      const all = [...names, ...cluster];
      return all.length === 2 ? all : undefined;
    }, 90_000, 500);
    expect(left).toEqual([`persistentvolumeclaim/${release}-storage`, `secret/${release}-api-keys`]);
    await eventually('every pod process stopped', async () => (node.processes().some((p) => p.running) ? undefined : true), 60_000, 250);
    expect(await kubectl(['get', 'crd', 'mediajobs.kubeff.io', '-o', 'name'])).toContain('mediajobs.kubeff.io');
    expect((await kubectl(['get', 'mediajobs', '-n', ns, '-o', 'name'])).trim().split('\n')).toHaveLength(2);
  });
});
