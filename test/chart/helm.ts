// Helpers for the chart tests: run the helm binary built by test/cluster/build.sh, render the
// chart with values, and split the output into objects. Helm runs with its own throwaway config,
// cache and data folders, so nothing of the user's helm setup is read or written.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { clusterBinaries, clusterVersions } from '../cluster/control-plane.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const chartDir = join(repoRoot, 'charts', 'kubeff');
/**
 * The Kubernetes version the chart is rendered for: the one the test control plane runs. Passed
 * explicitly anyway (build.sh links that minor into helm as its default, as official builds do).
 */
export const kubeVersion = clusterVersions().kubernetes;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export function helmBinary(): string {
  const helm = clusterBinaries().helm;
  if (!existsSync(helm)) throw new Error(`helm is not built (${helm} is missing). Build it once with: bash test/cluster/build.sh`);
  return helm;
}

const helmHome = mkdtempSync(join(tmpdir(), 'kubeff-helm-home-'));
process.on('exit', () => rmSync(helmHome, { recursive: true, force: true }));

/** Runs helm; never throws on a non-zero exit (check `code`). `env` adds e.g. KUBECONFIG. */
export function helm(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(helmBinary(), args, {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: helmHome,
        HELM_CACHE_HOME: join(helmHome, 'cache'),
        HELM_CONFIG_HOME: join(helmHome, 'config'),
        HELM_DATA_HOME: join(helmHome, 'data'),
        NO_PROXY: '127.0.0.1,localhost',
        ...env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr: signal ? `${stderr}\nhelm killed by ${signal} (timeout ${timeoutMs} ms)` : stderr });
    });
  });
}

/** A values file in a temporary folder (JSON is YAML), for `-f`. */
export function valuesFile(values: unknown): string {
  const dir = mkdtempSync(join(helmHome, 'values-'));
  const file = join(dir, 'values.yaml');
  writeFileSync(file, JSON.stringify(values, null, 2));
  return file;
}

/** `helm template` of the chart as release `release` in `namespace`, with the given values. */
export async function template(values: unknown, opts: { release?: string; namespace?: string; extra?: string[] } = {}): Promise<Run> {
  return helm([
    'template', opts.release ?? 'kubeff', chartDir,
    '--namespace', opts.namespace ?? 'kubeff',
    '--kube-version', kubeVersion,
    '-f', valuesFile(values),
    ...(opts.extra ?? []),
  ]);
}

/** The objects of a rendered manifest stream (empty documents dropped). */
export function objects(manifests: string): KubeObject[] {
  return parseAllDocuments(manifests)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null && typeof o === 'object');
}

export function find(objs: KubeObject[], kind: string, nameSuffix: string): KubeObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name.endsWith(nameSuffix));
  if (!o) throw new Error(`no ${kind} named *${nameSuffix} among: ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

/** The env of the first container of a Deployment/StatefulSet, as name → value (valueFrom as JSON). */
export function containerEnv(workload: KubeObject): Record<string, string> {
  const spec = workload.spec as { template: { spec: { containers: Array<{ env?: EnvVar[] }> } } };
  const env: Record<string, string> = {};
  for (const e of spec.template.spec.containers[0]?.env ?? []) env[e.name] = e.value ?? JSON.stringify(e.valueFrom);
  return env;
}
