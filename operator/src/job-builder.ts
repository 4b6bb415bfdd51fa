// Pure: the batch/v1 Job that runs one MediaJob attempt in cluster mode. Everything a pod needs
// is decided here, from the MediaJob and the operator's settings, so it can be tested without a
// cluster: owner reference, labels, priority class, resources, GPU limit and placement, a hardened
// security context, deadlines, and a podFailurePolicy that never retries invalid input.
import type { MediaJobSpec } from '../../crds/src/spec.ts';
import { NonRetryableExitCodes } from '../../worker-image/src/exit-codes.ts';
import type { Priority } from './admission.ts';

export interface MediaJobObject {
  apiVersion: 'kubeff.io/v1alpha1';
  kind: 'MediaJob';
  metadata: { name: string; namespace: string; uid: string; generation?: number; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: MediaJobSpec;
}

export interface Toleration {
  key: string;
  operator: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface JobBuilderSettings {
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  serviceAccountName: string;
  /** The ReadWriteMany claim mounted at /storage. */
  storageClaimName: string;
  /**
   * A Secret whose keys become the worker's environment: the S3 backends' settings and
   * credentials (KUBEFF_S3_*). Credentials never appear in a MediaJob or a Job spec.
   */
  storageSecretName?: string | undefined;
  natsUrl?: string | undefined;
  priorityClassNames?: Partial<Record<Priority, string>>;
  cpuPool: { nodeSelector?: Record<string, string>; tolerations?: Toleration[] };
  gpuPool: { resourceName: string; nodeSelector?: Record<string, string>; tolerations?: Toleration[]; runtimeClassName?: string };
  /** Attempts in all; the Job's backoffLimit is one less. */
  maxAttempts: number;
  defaultDeadlineSeconds: number;
  ttlSecondsAfterFinished: number;
  /** Resources when the MediaJob carries no estimate annotation. */
  defaultResources: { cpu: number; memoryGb: number };
}

export const EstimateAnnotation = 'kubeff.io/estimate';
export const TraceAnnotation = 'kubeff.io/traceparent';
export const JobLabel = 'kubeff.io/mediajob';
export const WorkerContainer = 'worker';

/** Kubernetes names are at most 63 characters; longer MediaJob names keep a hash suffix. */
export function jobName(mediaJobName: string): string {
  if (mediaJobName.length <= 63) return mediaJobName;
  let h = 0;
  for (const c of mediaJobName) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return `${mediaJobName.slice(0, 54)}-${h.toString(36).padStart(8, '0').slice(0, 8)}`;
}

/** Whether the MediaJob must run on the GPU pool: only when NVENC is explicitly requested. */
export function needsGpu(spec: MediaJobSpec): boolean {
  return spec.options.hardwareAcceleration === 'nvenc';
}

interface Estimate {
  resources?: { cpu_cores?: number; memory_gb?: number };
}

function resources(mj: MediaJobObject, s: JobBuilderSettings): { cpu: number; memoryGb: number } {
  const raw = mj.metadata.annotations?.[EstimateAnnotation];
  if (raw) {
    try {
      const e = JSON.parse(raw) as Estimate;
      const cpu = e.resources?.cpu_cores;
      const mem = e.resources?.memory_gb;
      if (typeof cpu === 'number' && cpu > 0 && typeof mem === 'number' && mem > 0) return { cpu: Math.min(cpu, 64), memoryGb: Math.min(mem, 256) };
    } catch {
      // a hand-written annotation that is not JSON: fall back to the defaults
    }
  }
  return s.defaultResources;
}

export function buildJob(mj: MediaJobObject, s: JobBuilderSettings) {
  const gpu = needsGpu(mj.spec);
  const pool = gpu ? s.gpuPool : s.cpuPool;
  const r = resources(mj, s);
  const name = jobName(mj.metadata.name);
  const labels = {
    'app.kubernetes.io/name': 'kubeff-worker',
    'app.kubernetes.io/managed-by': 'kubeff-operator',
    [JobLabel]: mj.metadata.name,
    'kubeff.io/job-type': mj.spec.type,
    'kubeff.io/pool': gpu ? 'gpu' : 'cpu',
  };
  const traceparent = mj.metadata.annotations?.[TraceAnnotation];
  const env = [
    { name: 'KUBEFF_SPEC', value: JSON.stringify(mj.spec) },
    { name: 'KUBEFF_JOB_ID', value: mj.metadata.name },
    { name: 'KUBEFF_NAMESPACE', value: mj.metadata.namespace },
    { name: 'KUBEFF_STORAGE_ROOT', value: '/storage' },
    { name: 'KUBEFF_RESULT_PATH', value: '/dev/termination-log' },
    ...(s.natsUrl ? [{ name: 'NATS_URL', value: s.natsUrl }] : []),
    ...(traceparent ? [{ name: 'TRACEPARENT', value: traceparent }] : []),
  ];
  const limits: Record<string, string> = { cpu: String(r.cpu), memory: `${r.memoryGb}Gi` };
  if (gpu) limits[s.gpuPool.resourceName] = '1';
  const priorityClassName = s.priorityClassNames?.[mj.spec.options.priority];
  return {
    apiVersion: 'batch/v1' as const,
    kind: 'Job' as const,
    metadata: {
      name,
      namespace: mj.metadata.namespace,
      labels,
      ...(traceparent ? { annotations: { [TraceAnnotation]: traceparent } } : {}),
      ownerReferences: [{ apiVersion: mj.apiVersion, kind: mj.kind, name: mj.metadata.name, uid: mj.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      backoffLimit: Math.max(0, s.maxAttempts - 1),
      activeDeadlineSeconds: mj.spec.options.timeoutSeconds ?? s.defaultDeadlineSeconds,
      ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
      // Exit codes the worker uses for "retrying cannot help" fail the Job at once; a pod evicted
      // by the cluster (node drain, preemption) does not count against the attempts.
      podFailurePolicy: {
        rules: [
          { action: 'FailJob' as const, onExitCodes: { containerName: WorkerContainer, operator: 'In' as const, values: [...NonRetryableExitCodes] } },
          { action: 'Ignore' as const, onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
        ],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never' as const,
          serviceAccountName: s.serviceAccountName,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(priorityClassName ? { priorityClassName } : {}),
          ...(gpu && s.gpuPool.runtimeClassName ? { runtimeClassName: s.gpuPool.runtimeClassName } : {}),
          ...(pool.nodeSelector ? { nodeSelector: pool.nodeSelector } : {}),
          ...(pool.tolerations?.length ? { tolerations: pool.tolerations } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' as const } },
          containers: [
            {
              name: WorkerContainer,
              image: s.image,
              imagePullPolicy: s.imagePullPolicy ?? 'IfNotPresent',
              args: ['--job-id', mj.metadata.name],
              env,
              ...(s.storageSecretName ? { envFrom: [{ secretRef: { name: s.storageSecretName } }] } : {}),
              resources: { requests: { cpu: String(r.cpu), memory: `${r.memoryGb}Gi` }, limits },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'storage', mountPath: '/storage' },
                { name: 'scratch', mountPath: '/tmp' },
              ],
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File' as const,
            },
          ],
          volumes: [
            { name: 'storage', persistentVolumeClaim: { claimName: s.storageClaimName } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      },
    },
  };
}

export type SplitJobStage = 'plan' | 'chunks' | 'merge' | 'cleanup';
export const SplitStageLabel = 'kubeff.io/split-stage';

/** The Job of one stage of a split MediaJob: `<name>-plan`, `<name>-chunks`, ... */
export function splitJobName(mediaJobName: string, stage: SplitJobStage): string {
  return jobName(`${mediaJobName}-${stage}`);
}

/**
 * Pure: the Job of a split job's stage. The same pod as a whole job's (placement, resources,
 * hardening, storage) with the stage's arguments. The chunks are ONE Indexed Job: each pod
 * encodes the chunk of its completion index (JOB_COMPLETION_INDEX, set by the Job controller),
 * retried alone (backoffLimitPerIndex); invalid input fails its index, and one failed index
 * fails the Job (maxFailedIndexes 0).
 */
export function buildSplitJob(mj: MediaJobObject, s: JobBuilderSettings, stage: SplitJobStage, opts: { capacity?: number; count?: number; parallelism?: number } = {}) {
  const base = buildJob(mj, s);
  const name = splitJobName(mj.metadata.name, stage);
  const labels = { ...base.metadata.labels, [SplitStageLabel]: stage };
  const container = base.spec.template.spec.containers[0] as (typeof base.spec.template.spec.containers)[number];
  const workerStage = stage === 'chunks' ? 'chunk' : stage;
  const args = [...container.args, '--stage', workerStage, ...(stage === 'plan' ? ['--capacity', String(opts.capacity ?? 1)] : [])];
  const template = { ...base.spec.template, metadata: { labels }, spec: { ...base.spec.template.spec, containers: [{ ...container, args }] } };
  const retries = Math.max(0, s.maxAttempts - 1);
  if (stage !== 'chunks') {
    return { ...base, metadata: { ...base.metadata, name, labels }, spec: { ...base.spec, template } };
  }
  const count = opts.count ?? 1;
  const { backoffLimit: _wholeJobLimit, ...rest } = base.spec;
  return {
    ...base,
    metadata: { ...base.metadata, name, labels },
    spec: {
      ...rest,
      completionMode: 'Indexed' as const,
      completions: count,
      parallelism: Math.max(1, Math.min(opts.parallelism ?? count, count)),
      backoffLimitPerIndex: retries,
      maxFailedIndexes: 0,
      podFailurePolicy: {
        rules: [
          { action: 'FailIndex' as const, onExitCodes: { containerName: WorkerContainer, operator: 'In' as const, values: [...NonRetryableExitCodes] } },
          { action: 'Ignore' as const, onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
        ],
      },
      template,
    },
  };
}
