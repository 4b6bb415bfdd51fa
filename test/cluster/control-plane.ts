// A real Kubernetes control plane on loopback ports for cluster tests: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, built from the Go module proxy by
// test/cluster/build.sh (no kubelet; no nodes unless a test registers them). Certificates are made
// with openssl in a temporary folder; everything listens on 127.0.0.1 only.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------------------------
// Binaries

export interface ClusterVersions {
  kubernetes: string;
  etcd: string;
  helm: string;
  nats: string;
}

export interface ClusterBinaries {
  versions: ClusterVersions;
  /** Folder with etcd, kube-apiserver, kube-controller-manager, kube-scheduler. */
  k8sBin: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  helm: string;
  natsServer: string;
}

/** The versions pinned in test/cluster/versions.env (the environment overrides, as in build.sh). */
export function clusterVersions(env: NodeJS.ProcessEnv = process.env): ClusterVersions {
  const text = readFileSync(join(HERE, 'versions.env'), 'utf8');
  const pinned = (key: string): string => {
    const fromEnv = env[key];
    if (fromEnv && fromEnv !== 'latest') return fromEnv;
    const m = new RegExp(`^${key}=(.+)$`, 'm').exec(text);
    if (!m?.[1]) throw new Error(`test/cluster/versions.env has no ${key}`);
    return m[1].trim();
  };
  return {
    kubernetes: pinned('K8S_VERSION'),
    etcd: pinned('ETCD_VERSION'),
    helm: pinned('HELM_VERSION'),
    nats: pinned('NATS_VERSION'),
  };
}

/**
 * Where build.sh puts the binaries: ${KUBEFF_CACHE:-~/.cache/kubeff}/bin/k8s-vK-etcd-vE/ (or
 * KUBEFF_K8S_BIN for a folder of your own). Does not check that they exist; see requireBinaries.
 */
export function clusterBinaries(env: NodeJS.ProcessEnv = process.env): ClusterBinaries {
  const versions = clusterVersions(env);
  const cache = env['KUBEFF_CACHE'] || join(homedir(), '.cache', 'kubeff');
  const k8sBin = env['KUBEFF_K8S_BIN'] || join(cache, 'bin', `k8s-v${versions.kubernetes}-etcd-v${versions.etcd}`);
  return {
    versions,
    k8sBin,
    etcd: join(k8sBin, 'etcd'),
    kubeApiserver: join(k8sBin, 'kube-apiserver'),
    kubeControllerManager: join(k8sBin, 'kube-controller-manager'),
    kubeScheduler: join(k8sBin, 'kube-scheduler'),
    // Keyed on the Kubernetes minor too: build.sh sets helm's default Kubernetes version to it.
    helm: join(cache, 'bin', `helm-v${versions.helm}-k8s1.${versions.kubernetes.split('.')[1]}`, 'helm'),
    natsServer: join(cache, 'bin', `nats-server-v${versions.nats}`, 'nats-server'),
  };
}

/** The binaries, or an error that says how to build them. */
export function requireBinaries(env: NodeJS.ProcessEnv = process.env): ClusterBinaries {
  const bins = clusterBinaries(env);
  const missing = [bins.etcd, bins.kubeApiserver, bins.kubeControllerManager, bins.kubeScheduler].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `Kubernetes control-plane binaries are not built (missing: ${missing.join(', ')}).\n` +
        `Build them once with: bash test/cluster/build.sh   (a cold build takes several minutes on 2 cores; see test/cluster/README.md)`,
    );
  }
  return bins;
}

// ---------------------------------------------------------------------------------------------
// Control plane

export interface ControlPlaneOptions {
  /** Binaries to use; default: requireBinaries(). */
  binaries?: ClusterBinaries;
  /** Bound on each readiness wait, ms (default 120 s: a loaded 2-core machine starts the apiserver slowly). */
  startTimeoutMs?: number;
  /** Bound on each component's exit after SIGTERM before SIGKILL, ms (default 10 s). */
  stopTimeoutMs?: number;
  /** Keep the temporary folder (logs, certificates, etcd data) after stop(); also KUBEFF_KEEP_CLUSTER_DIR=1. */
  keepDir?: boolean;
  /** Start kube-controller-manager (default true). */
  controllerManager?: boolean;
  /** Start kube-scheduler (default true). */
  scheduler?: boolean;
  /** Extra flags, appended after the defaults (a later flag wins). */
  extraArgs?: Partial<Record<ComponentName, string[]>>;
  /** klog verbosity of the Kubernetes components (default 1). */
  verbosity?: number;
}

export type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

export interface ControlPlane {
  /** Path of an admin kubeconfig (client certificate with O=system:masters). */
  kubeconfig: string;
  /** https://127.0.0.1:PORT */
  apiServerUrl: string;
  /** http://127.0.0.1:PORT */
  etcdUrl: string;
  /** The temporary folder: certs/, logs/, etcd-data/, kubeconfig. */
  dir: string;
  binaries: ClusterBinaries;
  /** PEM strings of the CA and the admin client credentials, for clients of the API server. */
  credentials: { ca: string; cert: string; key: string };
  /** Path of a component's log file. */
  logPath(component: ComponentName): string;
  /** The component processes started, with their pids and whether they still run. */
  components(): Array<{ name: ComponentName; pid: number | undefined; running: boolean }>;
  /** Environment for child processes (kubectl, helm, operators): KUBECONFIG set. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** A request to the API server with the admin client certificate; JSON in, parsed JSON out. */
  api(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: unknown; text: string }>;
  /** Runs kubectl against this control plane (never throws on a non-zero exit; check `code`). */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** SIGTERM every component (reverse start order), SIGKILL after stopTimeoutMs, remove the folder. Idempotent. */
  stop(): Promise<void>;
}

interface Proc {
  name: ComponentName;
  child: ChildProcess;
  log: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** Every component started by this process, so a crashing test run does not leave them behind. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Free loopback TCP ports, distinct from each other (all held open until all are picked). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** The last `n` lines of a file ('' when unreadable). */
export function tail(path: string, n = 40): string {
  try {
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd, timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

interface Certs {
  dir: string;
  caCrt: string;
  caKey: string;
  serverCrt: string;
  serverKey: string;
  adminCrt: string;
  adminKey: string;
  saKey: string;
  saPub: string;
  frontProxyCaCrt: string;
  frontProxyClientCrt: string;
  frontProxyClientKey: string;
}

/** A throwaway CA, a serving certificate for localhost/127.0.0.1, an admin client certificate and a service-account key pair. */
async function makeCerts(dir: string): Promise<Certs> {
  mkdirSync(dir, { recursive: true });
  const f = (name: string) => join(dir, name);
  // A minimal config of our own, so the system openssl.cnf's x509 extensions do not leak in.
  const cnf = (cn: string, o: string | undefined, ext: string[]) =>
    ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', ...(o ? [`O = ${o}`] : []), `CN = ${cn}`, '[ext]', ...ext, ''].join('\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  writeFileSync(f('ca.cnf'), cnf('kubeff-test-ca', undefined, [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash',
  ]));
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-config', 'ca.cnf', '-extensions', 'ext'], dir);

  writeFileSync(f('server.cnf'), cnf('kube-apiserver', undefined, [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = serverAuth',
    // Names only: the service IP and in-cluster names are never dialed from here.
    'subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:10.0.0.1',
    'authorityKeyIdentifier = keyid',
  ]));
  writeFileSync(f('admin.cnf'), cnf('kubeff-admin', 'system:masters', [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = clientAuth',
    'authorityKeyIdentifier = keyid',
  ]));
  // The aggregation layer's front proxy (requestheader authentication): a CA of its own, as kubeadm
  // does. Without it kube-scheduler's delegated authentication logs errors about a missing
  // requestheader-client-ca-file.
  writeFileSync(f('front-proxy-ca.cnf'), cnf('kubeff-test-front-proxy-ca', undefined, [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash',
  ]));
  writeFileSync(f('front-proxy-client.cnf'), cnf('front-proxy-client', undefined, [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, keyEncipherment',
    'extendedKeyUsage = clientAuth',
    'authorityKeyIdentifier = keyid',
  ]));
  const leaf = (name: string, ca = 'ca') =>
    openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-config', `${name}.cnf`, '-extensions', 'ext'], dir);
  await Promise.all([
    leaf('server'),
    leaf('admin'),
    (async () => {
      await openssl(['req', '-x509', ...ec, '-keyout', 'front-proxy-ca.key', '-out', 'front-proxy-ca.crt', '-days', '30', '-config', 'front-proxy-ca.cnf', '-extensions', 'ext'], dir);
      await leaf('front-proxy-client', 'front-proxy-ca');
    })(),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
      await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
    })(),
  ]);
  return {
    dir,
    caCrt: f('ca.crt'),
    caKey: f('ca.key'),
    serverCrt: f('server.crt'),
    serverKey: f('server.key'),
    adminCrt: f('admin.crt'),
    adminKey: f('admin.key'),
    saKey: f('sa.key'),
    saPub: f('sa.pub'),
    frontProxyCaCrt: f('front-proxy-ca.crt'),
    frontProxyClientCrt: f('front-proxy-client.crt'),
    frontProxyClientKey: f('front-proxy-client.key'),
  };
}

function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kubeff-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(ca)}`,
    'users:',
    '- name: kubeff-admin',
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    'contexts:',
    '- name: kubeff-test',
    '  context:',
    '    cluster: kubeff-test',
    '    user: kubeff-admin',
    '    namespace: default',
    'current-context: kubeff-test',
    '',
  ].join('\n');
}

interface HttpResult {
  status: number;
  text: string;
}

/** One bounded HTTP(S) request to 127.0.0.1. */
function httpCall(
  url: string,
  opts: { method?: string; body?: string; contentType?: string; tls?: { ca?: string; cert?: string; key?: string; insecure?: boolean }; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
      reject(new Error(`refusing to connect to ${u.hostname}: the test control plane is loopback only`));
      return;
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(opts.body));
    }
    const common = { method: opts.method ?? 'GET', headers, timeout: opts.timeoutMs ?? 5000 };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, {
            ...common,
            ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}),
            ...(opts.tls?.cert ? { cert: opts.tls.cert, key: opts.tls.key } : {}),
            rejectUnauthorized: !opts.tls?.insecure,
          })
        : httpRequest(u, common);
    req.on('timeout', () => req.destroy(new Error(`timed out after ${common.timeout} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

function startProc(name: ComponentName, bin: string, args: string[], logDir: string, env: NodeJS.ProcessEnv): Proc {
  const log = join(logDir, `${name}.log`);
  const fd = openSync(log, 'a');
  writeFileSync(fd, `$ ${bin} ${args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { stdio: ['ignore', fd, fd], env });
  } finally {
    closeSync(fd);
  }
  live.add(child);
  const proc: Proc = {
    name,
    child,
    log,
    exit: undefined,
    exited: new Promise((resolve) => {
      child.once('error', (err) => {
        writeFileSync(log, `spawn error: ${err.message}\n`, { flag: 'a' });
        proc.exit ??= { code: -1, signal: null };
        live.delete(child);
        resolve(proc.exit);
      });
      child.once('exit', (code, signal) => {
        proc.exit ??= { code, signal };
        live.delete(child);
        resolve(proc.exit);
      });
    }),
  };
  return proc;
}

async function stopProc(p: Proc, timeoutMs: number): Promise<void> {
  if (p.exit) return;
  p.child.kill('SIGTERM');
  const done = await Promise.race([p.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    p.child.kill('SIGKILL');
    await Promise.race([p.exited, sleep(5000)]);
  }
}

/**
 * Polls `check` until it returns true; fails after timeoutMs, or as soon as one of the `watch`
 * processes exits, with the last log lines of the process concerned.
 */
async function waitUntil(
  what: string,
  owner: Proc,
  watch: Proc[],
  timeoutMs: number,
  check: () => Promise<boolean | string>,
): Promise<void> {
  const started = Date.now();
  let last = 'not checked yet';
  for (;;) {
    const dead = watch.find((p) => p.exit);
    if (dead) {
      throw new Error(
        `${dead.name} exited (code ${dead.exit?.code}, signal ${dead.exit?.signal}) while waiting for ${what}; last lines of ${dead.log}:\n${tail(dead.log)}`,
      );
    }
    try {
      const r = await check();
      if (r === true) return;
      last = typeof r === 'string' ? r : 'not yet';
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${what}: not ready after ${timeoutMs} ms (last check: ${last}); last lines of ${owner.log}:\n${tail(owner.log)}`);
    }
    await sleep(250);
  }
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = opts.binaries ?? requireBinaries();
  const startTimeoutMs = opts.startTimeoutMs ?? 120_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const keepDir = opts.keepDir ?? process.env['KUBEFF_KEEP_CLUSTER_DIR'] === '1';
  const v = String(opts.verbosity ?? 1);
  const extra = (c: ComponentName) => opts.extraArgs?.[c] ?? [];
  installExitHook();

  const dir = mkdtempSync(join(tmpdir(), 'kubeff-cp-'));
  const logDir = join(dir, 'logs');
  mkdirSync(logDir);
  const procs: Proc[] = [];
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const p of [...procs].reverse()) await stopProc(p, stopTimeoutMs);
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort, schedulerPort] = (await freePorts(4)) as [number, number, number, number];
    const certs = await makeCerts(join(dir, 'certs'));
    const ca = readFileSync(certs.caCrt, 'utf8');
    const cert = readFileSync(certs.adminCrt, 'utf8');
    const key = readFileSync(certs.adminKey, 'utf8');
    const apiServerUrl = `https://127.0.0.1:${apiPort}`;
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, ca, cert, key), { mode: 0o600 });
    // No proxies for loopback; nothing inherited from the caller's cluster.
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };

    // etcd
    const etcd = startProc('etcd', binaries.etcd, [
      '--name=kubeff-test',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=kubeff-test=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
      ...extra('etcd'),
    ], logDir, childEnv);
    procs.push(etcd);
    await waitUntil('etcd /health', etcd, procs, startTimeoutMs, async () => {
      const r = await httpCall(`${etcdUrl}/health`);
      return r.status === 200 && /"health":\s*"true"/.test(r.text) ? true : `${r.status} ${r.text.trim()}`;
    });

    // kube-apiserver
    const apiserver = startProc('kube-apiserver', binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=127.0.0.1`,
      `--advertise-address=127.0.0.1`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${certs.serverCrt}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCrt}`,
      `--requestheader-client-ca-file=${certs.frontProxyCaCrt}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${certs.frontProxyClientCrt}`,
      `--proxy-client-key-file=${certs.frontProxyClientKey}`,
      '--authorization-mode=RBAC',
      // Configuration only: the service IP range is never dialed.
      '--service-cluster-ip-range=10.0.0.0/24',
      // The endpoint reconciler would publish 127.0.0.1 as the `kubernetes` Service's endpoint,
      // which Endpoints validation refuses (loopback); nothing in the tests uses that Service.
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      `--service-account-issuer=${apiServerUrl}/`,
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      '--profiling=false',
      `--v=${v}`,
      ...extra('kube-apiserver'),
    ], logDir, childEnv);
    procs.push(apiserver);
    const tls = { ca, cert, key };
    await waitUntil('kube-apiserver /readyz', apiserver, procs, startTimeoutMs, async () => {
      const r = await httpCall(`${apiServerUrl}/readyz`, { tls });
      return r.status === 200 ? true : `${r.status} ${r.text.trim().split('\n').filter((l) => l.includes('failed')).join('; ') || r.text.trim().slice(0, 200)}`;
    });

    // kube-controller-manager
    if (opts.controllerManager ?? true) {
      procs.push(startProc('kube-controller-manager', binaries.kubeControllerManager, [
        `--kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--secure-port=0',
        '--controllers=*',
        `--service-account-private-key-file=${certs.saKey}`,
        `--root-ca-file=${certs.caCrt}`,
        `--v=${v}`,
        ...extra('kube-controller-manager'),
      ], logDir, childEnv));
    }
    // kube-scheduler
    let scheduler: Proc | undefined;
    if (opts.scheduler ?? true) {
      scheduler = startProc('kube-scheduler', binaries.kubeScheduler, [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${schedulerPort}`,
        `--cert-dir=${join(dir, 'scheduler-certs')}`,
        `--v=${v}`,
        ...extra('kube-scheduler'),
      ], logDir, childEnv);
      procs.push(scheduler);
    }

    const api: ControlPlane['api'] = async (method, path, body, contentType) => {
      const r = await httpCall(`${apiServerUrl}${path}`, {
        method,
        tls,
        timeoutMs: 30_000,
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), ...(contentType ? { contentType } : {}) } : {}),
      });
      let parsed: unknown;
      try {
        parsed = JSON.parse(r.text);
      } catch {
        parsed = undefined;
      }
      return { status: r.status, body: parsed, text: r.text };
    };

    const cm = procs.find((p) => p.name === 'kube-controller-manager');
    if (cm) {
      // The service-account controller (in kube-controller-manager) creates it: proof the controllers run.
      await waitUntil('the default ServiceAccount (created by kube-controller-manager)', cm, procs, startTimeoutMs, async () => {
        const r = await api('GET', '/api/v1/namespaces/default/serviceaccounts/default');
        return r.status === 200 ? true : `HTTP ${r.status}`;
      });
    }
    if (scheduler) {
      // The scheduler serves its own self-signed certificate on the loopback port.
      await waitUntil('kube-scheduler /readyz', scheduler, procs, startTimeoutMs, async () => {
        const r = await httpCall(`https://127.0.0.1:${schedulerPort}/readyz`, { tls: { insecure: true } });
        return r.status === 200 ? true : `${r.status} ${r.text.trim().slice(0, 200)}`;
      });
    }

    const env = (more: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG: kubeconfig, ...more });
    return {
      kubeconfig,
      apiServerUrl,
      etcdUrl,
      dir,
      binaries,
      credentials: { ca, cert, key },
      logPath: (c) => join(logDir, `${c}.log`),
      components: () => procs.map((p) => ({ name: p.name, pid: p.child.pid, running: p.exit === undefined })),
      env,
      api,
      kubectl: (args, o = {}) => runKubectl(kubeconfig, args, o),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    if (!keepDir && err instanceof Error) err.message += `\n(${dir} was removed; KUBEFF_KEEP_CLUSTER_DIR=1 keeps it, with every log)`;
    throw err;
  }
}

/** kubectl with an explicit kubeconfig; resolves with the exit code instead of throwing. */
export function runKubectl(
  kubeconfig: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', [`--kubeconfig=${kubeconfig}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}\nkubectl killed by ${signal} (timeout ${opts.timeoutMs ?? 60_000} ms)` : stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
