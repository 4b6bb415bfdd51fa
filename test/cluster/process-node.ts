// The test "process node": a stand-in for a kubelet, for cluster tests against the real control
// plane (test/cluster/control-plane.ts). It registers Node objects, renews their Leases, watches
// the pods the real scheduler binds to them, runs each container as a local process (an image is
// mapped to a local command), and reports pod status like a kubelet through pods/status:
// Running, then Succeeded/Failed with the exit code and the termination message. Terminating pods
// get SIGTERM, SIGKILL after the grace period, and are then force-deleted (no kubelet confirms).
//
// What a process cannot have: its own mount namespace. Volume mounts are mapped to host folders
// (PVC → pvcPaths[claimName], emptyDir → a temporary folder, configMap/secret → files written
// from the object), and env values that name a mounted path (or the terminationMessagePath) are
// rewritten to the host path. Everything is loopback: podIP/hostIP 127.0.0.1, the in-cluster
// API server variables point at the API server's loopback address.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, Agent } from 'node:https';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

// ---------------------------------------------------------------------------------------------
// The parts of the Kubernetes objects used here

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  volumeMounts?: VolumeMount[];
  terminationMessagePath?: string;
  terminationMessagePolicy?: 'File' | 'FallbackToLogsOnError';
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  emptyDir?: Record<string, unknown>;
  hostPath?: { path: string };
  configMap?: { name: string; optional?: boolean };
  secret?: { secretName: string; optional?: boolean };
  projected?: { sources: ProjectedSource[] };
}

export interface ProjectedSource {
  serviceAccountToken?: { path: string; audience?: string; expirationSeconds?: number };
  configMap?: { name: string; items?: Array<{ key: string; path: string }>; optional?: boolean };
  secret?: { name: string; items?: Array<{ key: string; path: string }>; optional?: boolean };
  downwardAPI?: { items?: Array<{ path: string; fieldRef?: { fieldPath: string } }> };
}

export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    nodeName?: string;
    containers: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
    restartPolicy?: string;
    terminationGracePeriodSeconds?: number;
    serviceAccountName?: string;
  };
  status?: { phase?: string };
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface NodeSpec {
  name: string;
  labels?: Record<string, string>;
  taints?: Taint[];
  capacity: { cpu: string; memory: string; pods: string; 'nvidia.com/gpu'?: string };
}

/** What the image mapper gets besides the container: where its paths live on this host. */
export interface ContainerContext {
  pod: Pod;
  /** mountPath → host folder, for every volume mount of the container. */
  mounts: Record<string, string>;
  /** The host file standing in for the container's terminationMessagePath. */
  terminationMessageFile: string;
}

/** Maps a container to a local command; the container's args are appended to `args`. */
export type ImageMapper = (container: Container, ctx: ContainerContext) => { command: string; args: string[]; env?: Record<string, string> };

export interface ProcessNodeOptions {
  kubeconfig: string;
  nodes: NodeSpec[];
  /** Image (full reference, or without its tag/digest) → local command. */
  images: Record<string, ImageMapper>;
  /** Folder for per-pod folders (emptyDirs, logs, termination messages). */
  volumeRoot: string;
  /** PVC claim name → host folder. */
  pvcPaths?: Record<string, string>;
  /** Extra environment for every process (e.g. FFMPEG_PATH). */
  env?: Record<string, string>;
  /** Lease renewal interval, ms (default 3000). */
  leaseIntervalMs?: number;
  /** Bound on the wait for the registered nodes to be schedulable (no node.kubernetes.io/* taints), ms (default 60 s). */
  readyTimeoutMs?: number;
  /** Diagnostics (default: none). */
  log?: (line: string) => void;
}

export interface ProcessInfo {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  node: string;
  pid: number | undefined;
  running: boolean;
  exitCode: number | undefined;
  logFile: string;
  terminationMessageFile: string;
}

export interface ProcessNode {
  nodes: string[];
  /** Every container process started (running or exited), oldest first. */
  processes(): ProcessInfo[];
  /** Kills every process (process group, SIGKILL) and stops the watch and lease loops. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// A minimal client: plain https with the kubeconfig's client certificate, loopback only

interface Client {
  server: URL;
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: unknown; text: string }>;
  /** Streams a watch; resolves when the server ends it (timeoutSeconds) or rejects on error. */
  watch(path: string, onEvent: (ev: { type: string; object: unknown }) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

function makeClient(kubeconfig: string): Client {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster) throw new Error(`${kubeconfig}: no current cluster`);
  const server = new URL(cluster.server);
  if (server.hostname !== '127.0.0.1' && server.hostname !== 'localhost' && server.hostname !== '[::1]') {
    throw new Error(`refusing API server ${cluster.server}: the process node is loopback only`);
  }
  const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);
  const ca = b64(cluster.caData);
  const cert = b64(user?.certData);
  const key = b64(user?.keyData);
  const agent = new Agent({ keepAlive: true, maxSockets: 32, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) });

  const call: Client['call'] = (method, path, body, contentType) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (payload !== undefined) {
        headers['content-type'] = contentType ?? 'application/json';
        headers['content-length'] = String(Buffer.byteLength(payload));
      }
      const req = httpsRequest(new URL(path, server), { method, headers, agent, timeout: 30_000 });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after 30 s`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });

  const watch: Client['watch'] = (path, onEvent, signal) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      // No keep-alive agent for long-lived streams; an idle socket for 90 s means a dead stream
      // (the server ends each watch after its timeoutSeconds and sends bookmarks meanwhile).
      const req = httpsRequest(new URL(path, server), {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: 90_000,
        ...(ca ? { ca } : {}),
        ...(cert && key ? { cert, key } : {}),
      });
      const onAbort = () => req.destroy();
      signal.addEventListener('abort', onAbort, { once: true });
      // An error from the event handler (e.g. 410 Gone) wins over however the stream then ends.
      let failure: Error | undefined;
      const done = (err?: Error) => {
        signal.removeEventListener('abort', onAbort);
        const e = failure ?? err;
        if (e && !signal.aborted) reject(e);
        else resolve();
      };
      req.on('timeout', () => req.destroy(new Error(`watch ${path}: idle for 90 s`)));
      req.on('error', (e) => done(e));
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => done(new WatchError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8').slice(0, 500))));
          res.on('error', (e) => done(e));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            try {
              onEvent(JSON.parse(line) as { type: string; object: unknown });
            } catch (e) {
              failure = e as Error;
              req.destroy(failure);
              return;
            }
          }
        });
        res.on('error', (e) => done(e));
        res.on('end', () => done());
        res.on('close', () => done());
      });
      req.end();
    });

  return { server, call, watch, close: () => agent.destroy() };
}

class WatchError extends Error {
  status: number;
  constructor(status: number, text: string) {
    super(`watch failed: HTTP ${status} ${text}`);
    this.status = status;
  }
}

/** A watch said its resourceVersion is too old: list again. */
class GoneError extends Error {}

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** RFC 3339 with seconds, as metav1.Time serializes. */
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
/** RFC 3339 with microseconds, as metav1.MicroTime serializes (Lease renewTime). */
const microNow = () => new Date().toISOString().replace(/Z$/, '000Z');

const MaxTerminationMessage = 4096;

function readTerminationMessage(file: string, policy: Container['terminationMessagePolicy'], exitCode: number, logFile: string): string {
  let msg = '';
  try {
    msg = readFileSync(file).subarray(0, MaxTerminationMessage).toString('utf8');
  } catch {
    msg = '';
  }
  if (!msg && policy === 'FallbackToLogsOnError' && exitCode !== 0) {
    // The kubelet's fallback: the last 80 lines of the log, at most 2048 bytes.
    try {
      const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-80).join('\n');
      const bytes = Buffer.from(lines);
      msg = bytes.subarray(Math.max(0, bytes.length - 2048)).toString('utf8');
    } catch {
      msg = '';
    }
  }
  return msg;
}

function imageMapper(images: Record<string, ImageMapper>, image: string): ImageMapper | undefined {
  const exact = images[image];
  if (exact) return exact;
  const noDigest = image.split('@')[0] ?? image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  const noTag = colon > slash ? noDigest.slice(0, colon) : noDigest;
  return images[noDigest] ?? images[noTag];
}

/** Kubernetes' $(VAR) expansion ($$ escapes; unknown references stay as they are). */
function expand(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && vars[name] !== undefined ? vars[name] : m;
  });
}

/** A container path → host path through the mounts (longest mountPath wins), or undefined. */
function mapPath(p: string, mounts: Record<string, string>): string | undefined {
  let best: string | undefined;
  for (const mp of Object.keys(mounts)) {
    const norm = mp.replace(/\/+$/, '') || '/';
    if ((p === norm || p.startsWith(`${norm}/`)) && (best === undefined || norm.length > best.length)) best = norm;
  }
  if (best === undefined) return undefined;
  const host = mounts[best] ?? mounts[`${best}/`];
  return host === undefined ? undefined : host + p.slice(best.length);
}

/** A downward-API field of the pod (the ones a process node can answer). */
function fieldValue(pod: Pod, f: string): string {
  const label = /^metadata\.labels\['(.+)'\]$/.exec(f)?.[1];
  const annotation = /^metadata\.annotations\['(.+)'\]$/.exec(f)?.[1];
  const v =
    f === 'metadata.name' ? pod.metadata.name
    : f === 'metadata.namespace' ? pod.metadata.namespace
    : f === 'metadata.uid' ? pod.metadata.uid
    : f === 'spec.nodeName' ? pod.spec.nodeName
    : f === 'spec.serviceAccountName' ? pod.spec.serviceAccountName ?? 'default'
    : f === 'status.podIP' || f === 'status.hostIP' ? '127.0.0.1'
    : label !== undefined ? pod.metadata.labels?.[label] ?? ''
    // An Indexed Job's JOB_COMPLETION_INDEX comes from its pod's completion-index annotation.
    : annotation !== undefined ? pod.metadata.annotations?.[annotation] ?? ''
    : undefined;
  if (v === undefined) throw new ConfigError('CreateContainerConfigError', `unsupported fieldRef ${f}`);
  return v;
}

class ConfigError extends Error {
  reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// The node

interface RunningContainer {
  spec: Container;
  child: ChildProcess | undefined;
  pid: number | undefined;
  startedAt: string;
  finishedAt: string | undefined;
  exitCode: number | undefined;
  reason: string | undefined;
  exited: Promise<void>;
  logFile: string;
  terminationMessageFile: string;
}

interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  node: string;
  pod: Pod;
  dir: string;
  containers: RunningContainer[];
  /** The pod has a deletionTimestamp, or was deleted. */
  deleting: boolean;
  /** Deleted from the API (a DELETED event): nothing left to patch. */
  gone: boolean;
  forceDeleted: boolean;
  killTimer: NodeJS.Timeout | undefined;
  /** Resolves when the pod reached a terminal phase here (processes exited, status reported). */
  done: Promise<void>;
  terminal: boolean;
}

export async function startProcessNode(opts: ProcessNodeOptions): Promise<ProcessNode> {
  const client = makeClient(opts.kubeconfig);
  const log = opts.log ?? (() => undefined);
  const abort = new AbortController();
  const runs = new Map<string, PodRun>();
  const loops: Array<Promise<void>> = [];
  const nodeNames = opts.nodes.map((n) => n.name);
  mkdirSync(opts.volumeRoot, { recursive: true });
  const apiPort = client.server.port || '443';

  // ---- Nodes and Leases ----
  const nodeStatus = (n: NodeSpec) => {
    const t = now();
    const cond = (type: string, status: string, reason: string, message: string) => ({
      type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t,
    });
    const capacity: Record<string, string> = { ...n.capacity };
    return {
      capacity,
      allocatable: capacity,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'process node has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'process node has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'process node has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'process node is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: n.name },
      ],
      nodeInfo: {
        machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: 'kubeff process node',
        containerRuntimeVersion: 'process://1', kubeletVersion: 'v0.0.0-process-node', kubeProxyVersion: '',
        operatingSystem: 'linux', architecture: 'amd64',
      },
    };
  };

  for (const n of opts.nodes) {
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', ...n.labels },
      },
      spec: { ...(n.taints?.length ? { taints: n.taints } : {}) },
      status: nodeStatus(n),
    };
    const created = await client.call('POST', '/api/v1/nodes', node);
    if (created.status === 409) {
      const put = await client.call('PATCH', `/api/v1/nodes/${n.name}`, { metadata: { labels: node.metadata.labels }, spec: { taints: n.taints ?? null } }, 'application/merge-patch+json');
      if (put.status !== 200) throw new Error(`updating node ${n.name}: HTTP ${put.status} ${put.text}`);
    } else if (created.status !== 201) {
      throw new Error(`registering node ${n.name}: HTTP ${created.status} ${created.text}`);
    }
    // The status of a create may be reset by the strategy in other versions: set it explicitly.
    const st = await client.call('PATCH', `/api/v1/nodes/${n.name}/status`, { status: nodeStatus(n) }, 'application/merge-patch+json');
    if (st.status !== 200) throw new Error(`node ${n.name} status: HTTP ${st.status} ${st.text}`);
  }

  const renewLeases = async (): Promise<void> => {
    for (const name of nodeNames) {
      const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`;
      const r = await client.call('PATCH', path, { spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microNow() } }, 'application/merge-patch+json');
      if (r.status === 404) {
        const node = await client.call('GET', `/api/v1/nodes/${name}`);
        const uid = (node.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid;
        const c = await client.call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace: 'kube-node-lease', ...(uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid }] } : {}) },
          spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microNow() },
        });
        if (c.status !== 201 && c.status !== 409) throw new Error(`lease ${name}: HTTP ${c.status} ${c.text}`);
      } else if (r.status !== 200) {
        throw new Error(`lease ${name}: HTTP ${r.status} ${r.text}`);
      }
    }
  };
  await renewLeases();

  // The node lifecycle controller may taint a node it has just seen node.kubernetes.io/not-ready
  // until it notices the Ready condition: return once every node is schedulable.
  const readyDeadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (const name of nodeNames) {
    for (;;) {
      const r = await client.call('GET', `/api/v1/nodes/${name}`);
      const taints = (r.body as { spec?: { taints?: Taint[] } } | undefined)?.spec?.taints ?? [];
      const blocking = taints.filter((t) => t.key.startsWith('node.kubernetes.io/') || t.key.startsWith('node.cloudprovider.kubernetes.io/'));
      if (r.status === 200 && blocking.length === 0) break;
      if (Date.now() > readyDeadline) {
        client.close();
        throw new Error(`node ${name} not schedulable within ${opts.readyTimeoutMs ?? 60_000} ms: HTTP ${r.status}, taints ${JSON.stringify(blocking)}`);
      }
      await renewLeases().catch(() => undefined);
      await sleep(250);
    }
  }
  loops.push(
    (async () => {
      while (!abort.signal.aborted) {
        await sleep(opts.leaseIntervalMs ?? 3000, abort.signal);
        if (abort.signal.aborted) break;
        try {
          await renewLeases();
        } catch (e) {
          log(`lease renewal: ${(e as Error).message}`);
        }
      }
    })(),
  );

  // ---- Pod status ----
  const patchStatus = async (run: PodRun, status: Record<string, unknown>): Promise<void> => {
    // Transient API errors (a connection reset) are retried a few times, with a short backoff.
    for (let attempt = 1; ; attempt++) {
      try {
        await patchStatusOnce(run, status);
        return;
      } catch (e) {
        if (attempt >= 4 || abort.signal.aborted) throw e;
        await sleep(200 * attempt, abort.signal);
      }
    }
  };
  const patchStatusOnce = async (run: PodRun, status: Record<string, unknown>): Promise<void> => {
    if (run.gone) return;
    const r = await client.call(
      'PATCH',
      `/api/v1/namespaces/${run.namespace}/pods/${run.name}/status`,
      { metadata: { uid: run.uid }, status },
      'application/strategic-merge-patch+json',
    );
    if (r.status === 404 || r.status === 409) return; // deleted, or a new pod of the same name
    if (r.status !== 200) log(`status of ${run.namespace}/${run.name}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  };

  const condition = (type: string, status: 'True' | 'False', reason?: string) => ({
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: now(),
    ...(reason ? { reason } : {}),
  });

  const containerStatus = (c: RunningContainer, uid: string) => {
    const base = {
      name: c.spec.name,
      image: c.spec.image,
      imageID: `process://${c.spec.image}`,
      containerID: `process://${uid}/${c.spec.name}/${c.pid ?? 0}`,
      restartCount: 0,
      started: c.exitCode === undefined,
      ready: c.exitCode === undefined,
    };
    if (c.exitCode === undefined) return { ...base, state: { running: { startedAt: c.startedAt } } };
    const message = readTerminationMessage(c.terminationMessageFile, c.spec.terminationMessagePolicy, c.exitCode, c.logFile);
    return {
      ...base,
      state: {
        terminated: {
          exitCode: c.exitCode,
          reason: c.reason ?? (c.exitCode === 0 ? 'Completed' : 'Error'),
          ...(message ? { message } : {}),
          startedAt: c.startedAt,
          finishedAt: c.finishedAt ?? now(),
          containerID: base.containerID,
        },
      },
    };
  };

  // ---- Running a pod ----
  const resolveEnv = async (pod: Pod, c: Container): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    const cache = new Map<string, Record<string, string> | undefined>();
    const getData = async (kind: 'secrets' | 'configmaps', name: string): Promise<Record<string, string> | undefined> => {
      const k = `${kind}/${name}`;
      if (cache.has(k)) return cache.get(k);
      const r = await client.call('GET', `/api/v1/namespaces/${pod.metadata.namespace}/${kind}/${name}`);
      let data: Record<string, string> | undefined;
      if (r.status === 200) {
        const raw = (r.body as { data?: Record<string, string> }).data ?? {};
        data = kind === 'secrets' ? Object.fromEntries(Object.entries(raw).map(([key, v]) => [key, Buffer.from(v, 'base64').toString('utf8')])) : raw;
      } else if (r.status !== 404) {
        throw new ConfigError('CreateContainerConfigError', `${kind} ${name}: HTTP ${r.status}`);
      }
      cache.set(k, data);
      return data;
    };
    for (const e of c.env ?? []) {
      if (e.valueFrom) {
        const vf = e.valueFrom;
        const ref = vf.secretKeyRef ?? vf.configMapKeyRef;
        if (ref) {
          const kind = vf.secretKeyRef ? 'secrets' : 'configmaps';
          const data = await getData(kind, ref.name);
          const v = data?.[ref.key];
          if (v === undefined) {
            if (ref.optional) continue;
            throw new ConfigError('CreateContainerConfigError', `${kind === 'secrets' ? 'secret' : 'configmap'} "${ref.name}" ${data ? `has no key "${ref.key}"` : 'not found'}`);
          }
          out[e.name] = v;
        } else if (vf.fieldRef) {
          out[e.name] = fieldValue(pod, vf.fieldRef.fieldPath);
        } else {
          throw new ConfigError('CreateContainerConfigError', `env ${e.name}: unsupported valueFrom`);
        }
      } else {
        out[e.name] = expand(e.value ?? '', out);
      }
    }
    return out;
  };

  /** Host folders for the pod's volumes (by volume name). */
  const prepareVolumes = async (pod: Pod, dir: string): Promise<Record<string, string>> => {
    const hosts: Record<string, string> = {};
    for (const v of pod.spec.volumes ?? []) {
      if (v.persistentVolumeClaim) {
        const p = opts.pvcPaths?.[v.persistentVolumeClaim.claimName];
        if (!p) throw new ConfigError('ContainerCreating', `no host path for PersistentVolumeClaim "${v.persistentVolumeClaim.claimName}" (pvcPaths)`);
        hosts[v.name] = p;
      } else if (v.emptyDir) {
        const p = join(dir, 'volumes', v.name);
        mkdirSync(p, { recursive: true });
        hosts[v.name] = p;
      } else if (v.hostPath) {
        hosts[v.name] = v.hostPath.path;
      } else if (v.configMap || v.secret) {
        const kind = v.configMap ? 'configmaps' : 'secrets';
        const objName = v.configMap?.name ?? v.secret?.secretName ?? '';
        const optional = v.configMap?.optional ?? v.secret?.optional ?? false;
        const p = join(dir, 'volumes', v.name);
        mkdirSync(p, { recursive: true });
        const r = await client.call('GET', `/api/v1/namespaces/${pod.metadata.namespace}/${kind}/${objName}`);
        if (r.status === 200) {
          const data = (r.body as { data?: Record<string, string> }).data ?? {};
          for (const [k, val] of Object.entries(data)) writeFileSync(join(p, k), kind === 'secrets' ? Buffer.from(val, 'base64') : val);
        } else if (!(r.status === 404 && optional)) {
          throw new ConfigError('ContainerCreating', `${kind} "${objName}" for volume ${v.name}: HTTP ${r.status}`);
        }
        hosts[v.name] = p;
      } else if (v.projected) {
        // e.g. kube-api-access-*: a bound service-account token, kube-root-ca.crt, the namespace.
        const p = join(dir, 'volumes', v.name);
        mkdirSync(p, { recursive: true });
        const put = (rel: string, data: string | Buffer) => {
          const f = join(p, rel);
          mkdirSync(dirname(f), { recursive: true });
          writeFileSync(f, data);
        };
        for (const src of v.projected.sources) {
          if (src.serviceAccountToken) {
            const sa = pod.spec.serviceAccountName ?? 'default';
            const r = await client.call('POST', `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`, {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenRequest',
              spec: {
                ...(src.serviceAccountToken.audience ? { audiences: [src.serviceAccountToken.audience] } : {}),
                expirationSeconds: src.serviceAccountToken.expirationSeconds ?? 3607,
                boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
              },
            });
            const token = (r.body as { status?: { token?: string } } | undefined)?.status?.token;
            if (r.status !== 201 || !token) throw new ConfigError('ContainerCreating', `token for service account ${sa}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
            put(src.serviceAccountToken.path, token);
          } else if (src.configMap || src.secret) {
            const kind = src.configMap ? 'configmaps' : 'secrets';
            const ref = src.configMap ?? src.secret;
            if (!ref) continue;
            const r = await client.call('GET', `/api/v1/namespaces/${pod.metadata.namespace}/${kind}/${ref.name}`);
            if (r.status !== 200) {
              if (r.status === 404 && ref.optional) continue;
              throw new ConfigError('ContainerCreating', `${kind} "${ref.name}" for volume ${v.name}: HTTP ${r.status}`);
            }
            const data = (r.body as { data?: Record<string, string> }).data ?? {};
            const items = ref.items ?? Object.keys(data).map((key) => ({ key, path: key }));
            for (const it of items) {
              const val = data[it.key];
              if (val !== undefined) put(it.path, kind === 'secrets' ? Buffer.from(val, 'base64') : val);
            }
          } else if (src.downwardAPI) {
            for (const it of src.downwardAPI.items ?? []) if (it.fieldRef) put(it.path, fieldValue(pod, it.fieldRef.fieldPath));
          }
        }
        hosts[v.name] = p;
      } else {
        throw new ConfigError('ContainerCreating', `volume ${v.name}: unsupported volume type`);
      }
    }
    return hosts;
  };

  const startContainer = async (run: PodRun, c: Container, volumes: Record<string, string>): Promise<RunningContainer> => {
    const cdir = join(run.dir, 'containers', c.name);
    mkdirSync(cdir, { recursive: true });
    const logFile = join(cdir, 'log');
    const terminationMessageFile = join(cdir, 'termination-log');
    writeFileSync(terminationMessageFile, '');
    const mounts: Record<string, string> = {};
    for (const m of c.volumeMounts ?? []) {
      const host = volumes[m.name];
      if (host === undefined) throw new ConfigError('CreateContainerConfigError', `volume mount ${m.name}: no such volume`);
      mounts[m.mountPath] = m.subPath ? join(host, m.subPath) : host;
      if (m.subPath) mkdirSync(mounts[m.mountPath] ?? host, { recursive: true });
    }
    const mapper = imageMapper(opts.images, c.image);
    if (!mapper) throw new ConfigError('ErrImageNeverPull', `no local command for image "${c.image}" (process node images)`);
    const ctx: ContainerContext = { pod: run.pod, mounts, terminationMessageFile };
    const podEnv = await resolveEnv(run.pod, c);
    const tmMessagePath = c.terminationMessagePath ?? '/dev/termination-log';
    // Values naming a container path are rewritten to the host path: no mount namespace here.
    for (const [k, v] of Object.entries(podEnv)) {
      if (v === tmMessagePath) podEnv[k] = terminationMessageFile;
      else {
        const mapped = mapPath(v, mounts);
        if (mapped !== undefined) podEnv[k] = mapped;
      }
    }
    const tmp = mapPath('/tmp', mounts) ?? join(cdir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const home = join(cdir, 'home');
    mkdirSync(home, { recursive: true });
    const mapped = mapper(c, ctx);
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      HOSTNAME: run.name,
      LANG: 'C.UTF-8',
      // In-cluster clients reach the API server over loopback, never the service ClusterIP.
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: apiPort,
      KUBERNETES_SERVICE_PORT_HTTPS: apiPort,
      ...opts.env,
      ...podEnv,
      TMPDIR: tmp,
      ...mapped.env,
    };
    const args = [...mapped.args, ...(c.args ?? []).map((a) => expand(a, env))];
    const cwd = (c.workingDir && mapPath(c.workingDir, mounts)) ?? cdir;
    const fd = openSync(logFile, 'a');
    const rc: RunningContainer = {
      spec: c, child: undefined, pid: undefined, startedAt: now(), finishedAt: undefined,
      exitCode: undefined, reason: undefined, exited: Promise.resolve(), logFile, terminationMessageFile,
    };
    try {
      const child = spawn(mapped.command, args, { cwd, env, stdio: ['ignore', fd, fd], detached: true });
      rc.child = child;
      rc.pid = child.pid;
      rc.exited = new Promise<void>((resolve) => {
        let settled = false;
        const finish = (code: number, reason?: string) => {
          if (settled) return;
          settled = true;
          rc.exitCode = code;
          rc.reason = reason;
          rc.finishedAt = now();
          resolve();
        };
        child.once('error', (e) => {
          writeFileSync(logFile, `process node: cannot start ${mapped.command}: ${e.message}\n`, { flag: 'a' });
          if (rc.pid === undefined) finish(128, 'StartError');
        });
        child.once('exit', (code, signal) => {
          const signo = signal ? (osConstants.signals as Record<string, number>)[signal] ?? 9 : 0;
          finish(code ?? 128 + signo, signal === 'SIGKILL' && run.deleting ? 'Error' : undefined);
        });
      });
      log(`${run.namespace}/${run.name}/${c.name} on ${run.node}: pid ${child.pid} ${mapped.command} ${args.join(' ')}`);
    } finally {
      closeSync(fd);
    }
    return rc;
  };

  const killRun = (run: PodRun, signal: NodeJS.Signals) => {
    for (const c of run.containers) {
      if (c.exitCode !== undefined || c.pid === undefined) continue;
      try {
        process.kill(-c.pid, signal); // the process group: shells' children too
      } catch {
        try {
          c.child?.kill(signal);
        } catch {
          // gone
        }
      }
    }
  };

  const forceDelete = async (run: { namespace: string; name: string; uid: string }) => {
    const r = await client.call('DELETE', `/api/v1/namespaces/${run.namespace}/pods/${run.name}`, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 0,
      preconditions: { uid: run.uid },
    });
    if (r.status !== 200 && r.status !== 202 && r.status !== 404 && r.status !== 409) log(`force delete ${run.namespace}/${run.name}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  };

  const runPod = async (run: PodRun): Promise<void> => {
    const podIPs = { hostIP: '127.0.0.1', hostIPs: [{ ip: '127.0.0.1' }], podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] };
    const startTime = now();
    if (run.pod.spec.initContainers?.length) {
      throw new ConfigError('CreateContainerConfigError', 'init containers are not supported by the process node');
    }
    const volumes = await prepareVolumes(run.pod, run.dir);
    for (const c of run.pod.spec.containers) {
      if (run.deleting) break;
      run.containers.push(await startContainer(run, c, volumes));
    }
    if (run.containers.length > 0) {
      await patchStatus(run, {
        phase: 'Running',
        ...podIPs,
        startTime,
        conditions: [
          condition('PodReadyToStartContainers', 'True'),
          condition('Initialized', 'True'),
          condition('ContainersReady', 'True'),
          condition('Ready', 'True'),
        ],
        containerStatuses: run.containers.map((c) => containerStatus(c, run.uid)),
      });
    }
    await Promise.all(run.containers.map((c) => c.exited));
    if (run.killTimer) clearTimeout(run.killTimer);
    const ok = run.containers.length === run.pod.spec.containers.length && run.containers.every((c) => c.exitCode === 0);
    await patchStatus(run, {
      phase: ok ? 'Succeeded' : 'Failed',
      ...podIPs,
      startTime,
      conditions: [
        condition('PodReadyToStartContainers', 'False'),
        condition('Initialized', 'True', 'PodCompleted'),
        condition('ContainersReady', 'False', 'PodCompleted'),
        condition('Ready', 'False', 'PodCompleted'),
      ],
      containerStatuses: run.containers.map((c) => containerStatus(c, run.uid)),
    });
    log(`${run.namespace}/${run.name}: ${ok ? 'Succeeded' : 'Failed'} (${run.containers.map((c) => `${c.spec.name}=${c.exitCode}`).join(', ')})`);
  };

  const beginDeletion = (run: PodRun, pod: Pod | undefined) => {
    if (run.deleting) return;
    run.deleting = true;
    const grace = pod?.metadata.deletionGracePeriodSeconds ?? pod?.spec.terminationGracePeriodSeconds ?? 30;
    if (run.gone || grace <= 0) {
      killRun(run, 'SIGKILL');
    } else {
      killRun(run, 'SIGTERM');
      run.killTimer = setTimeout(() => killRun(run, 'SIGKILL'), grace * 1000);
    }
    void run.done.then(async () => {
      if (run.forceDeleted || run.gone) return;
      run.forceDeleted = true;
      await forceDelete(run).catch((e: unknown) => log(`force delete ${run.name}: ${(e as Error).message}`));
    });
  };

  const onPod = (type: string, pod: Pod) => {
    const node = pod.spec.nodeName;
    if (!node || !nodeNames.includes(node)) return;
    const existing = runs.get(pod.metadata.uid);
    if (type === 'DELETED') {
      if (existing) {
        existing.gone = true;
        beginDeletion(existing, undefined);
        killRun(existing, 'SIGKILL');
        void existing.done.then(() => runs.delete(pod.metadata.uid));
      }
      return;
    }
    if (existing) {
      existing.pod = pod;
      if (pod.metadata.deletionTimestamp) beginDeletion(existing, pod);
      return;
    }
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp) {
      // Never ran here (or ran before this node started): nothing to stop, confirm at once.
      const stub = { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
      void forceDelete(stub).catch((e: unknown) => log(`force delete ${stub.name}: ${(e as Error).message}`));
      return;
    }
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const dir = join(opts.volumeRoot, `${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}`);
    mkdirSync(dir, { recursive: true });
    const run: PodRun = {
      uid: pod.metadata.uid, namespace: pod.metadata.namespace, name: pod.metadata.name, node, pod, dir,
      containers: [], deleting: false, gone: false, forceDeleted: false, killTimer: undefined,
      done: Promise.resolve(), terminal: false,
    };
    runs.set(run.uid, run);
    run.done = runPod(run).then(
      () => {
        run.terminal = true;
      },
      async (err: unknown) => {
        const e = err as Error;
        const reason = e instanceof ConfigError ? e.reason : 'ContainerCreating';
        log(`${run.namespace}/${run.name}: cannot start: ${e.message}`);
        killRun(run, 'SIGKILL');
        await Promise.all(run.containers.map((c) => c.exited));
        // Like a kubelet: the pod stays Pending with the container waiting and the reason shown.
        await patchStatus(run, {
          ...{ hostIP: '127.0.0.1', hostIPs: [{ ip: '127.0.0.1' }] },
          containerStatuses: run.pod.spec.containers.map((c) => ({
            name: c.name, image: c.image, imageID: '', ready: false, started: false, restartCount: 0,
            state: { waiting: { reason, message: e.message } },
          })),
        }).catch(() => undefined);
        run.terminal = true;
      },
    );
  };

  // ---- Watches: list, then watch from the list's resourceVersion; re-list on 410 or errors ----
  const podLoop = async (nodeName: string): Promise<void> => {
    const base = `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`;
    let backoff = 200;
    while (!abort.signal.aborted) {
      try {
        const list = await client.call('GET', `${base}&limit=500`);
        if (list.status !== 200) throw new Error(`list pods: HTTP ${list.status} ${list.text.slice(0, 200)}`);
        const body = list.body as { metadata: { resourceVersion: string }; items: Pod[] };
        let rv = body.metadata.resourceVersion;
        const seen = new Set(body.items.map((p) => p.metadata.uid));
        for (const [uid, run] of runs) if (run.node === nodeName && !seen.has(uid)) onPod('DELETED', run.pod);
        for (const p of body.items) onPod('ADDED', p);
        backoff = 200;
        while (!abort.signal.aborted) {
          await client.watch(
            `${base}&watch=true&allowWatchBookmarks=true&timeoutSeconds=60&resourceVersion=${encodeURIComponent(rv)}`,
            (ev) => {
              if (ev.type === 'ERROR') {
                const st = ev.object as { code?: number; message?: string };
                if (st.code === 410) throw new GoneError(st.message ?? 'resourceVersion too old');
                throw new Error(`watch error: ${JSON.stringify(st)}`);
              }
              const obj = ev.object as Pod;
              if (obj.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
              if (ev.type === 'BOOKMARK') return;
              onPod(ev.type, obj);
            },
            abort.signal,
          );
        }
      } catch (e) {
        if (abort.signal.aborted) break;
        if (!(e instanceof GoneError)) log(`pod watch on ${nodeName}: ${(e as Error).message}; re-listing in ${backoff} ms`);
        await sleep(backoff, abort.signal);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  };
  for (const n of nodeNames) loops.push(podLoop(n));

  let stopping: Promise<void> | undefined;
  return {
    nodes: nodeNames,
    processes: () =>
      [...runs.values()].flatMap((r) =>
        r.containers.map((c) => ({
          namespace: r.namespace, pod: r.name, uid: r.uid, container: c.spec.name, node: r.node, pid: c.pid,
          running: c.exitCode === undefined, exitCode: c.exitCode, logFile: c.logFile, terminationMessageFile: c.terminationMessageFile,
        })),
      ),
    stop: () =>
      (stopping ??= (async () => {
        abort.abort();
        for (const r of runs.values()) {
          if (r.killTimer) clearTimeout(r.killTimer);
          r.gone = true; // no more status reports
          killRun(r, 'SIGKILL');
        }
        const bounded = (p: Promise<unknown>) => Promise.race([p, sleep(10_000)]);
        await bounded(Promise.all([...runs.values()].flatMap((r) => r.containers.map((c) => c.exited))));
        await bounded(Promise.allSettled(loops));
        client.close();
      })()),
  };
}

/** Removes a process node's volume root (a convenience for tests). */
export function removeVolumeRoot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
