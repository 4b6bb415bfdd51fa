// Pure: the batch/v1 Job that runs one MediaJob attempt in cluster mode. Everything a pod needs
// is decided here, from the MediaJob and the operator's settings, so it can be tested without a
// cluster: owner reference, labels, priority class, resources, GPU limit and placement, a hardened
// security context, deadlines, and a podFailurePolicy that never retries invalid input.
import type { MediaJobSpec } from '../../crds/src/spec.ts';
import { FailFastExitCodes } from '../../worker-image/src/exit-codes.ts';
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
  /** Chunks a split job with parallelism "auto" may run at once (KUBEFF_SPLIT_CAPACITY). */
  splitCapacity?: number | undefined;
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
  return jobFor(mj, s, { name: jobName(mj.metadata.name), gpu: needsGpu(mj.spec), resources: resources(mj, s), args: [], failFast: 'FailJob' });
}

interface PodShape {
  name: string;
  gpu: boolean;
  resources: { cpu: number; memoryGb: number };
  /** Worker arguments after `--job-id`. */
  args: string[];
  /** Extra labels (a split job's stage). */
  labels?: Record<string, string>;
  /** What invalid input fails: the Job, or (Indexed Jobs) the index. */
  failFast: 'FailJob' | 'FailIndex';
}

function jobFor(mj: MediaJobObject, s: JobBuilderSettings, shape: PodShape) {
  const gpu = shape.gpu;
  const pool = gpu ? s.gpuPool : s.cpuPool;
  const r = shape.resources;
  const labels = {
    'app.kubernetes.io/name': 'kubeff-worker',
    'app.kubernetes.io/managed-by': 'kubeff-operator',
    [JobLabel]: mj.metadata.name,
    'kubeff.io/job-type': mj.spec.type,
    'kubeff.io/pool': gpu ? 'gpu' : 'cpu',
    ...shape.labels,
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
      name: shape.name,
      namespace: mj.metadata.namespace,
      labels,
      ...(traceparent ? { annotations: { [TraceAnnotation]: traceparent } } : {}),
      ownerReferences: [{ apiVersion: mj.apiVersion, kind: mj.kind, name: mj.metadata.name, uid: mj.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      backoffLimit: Math.max(0, s.maxAttempts - 1),
      activeDeadlineSeconds: mj.spec.options.timeoutSeconds ?? s.defaultDeadlineSeconds,
      ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
      // The first matching rule applies. A pod evicted by the cluster (node drain, preemption)
      // does not count against the attempts; exit codes that mean "retrying cannot help" fail at
      // once. A pod stopped by SIGTERM for any other reason is retried like a crash.
      podFailurePolicy: {
        rules: [
          { action: 'Ignore' as const, onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          { action: shape.failFast, onExitCodes: { containerName: WorkerContainer, operator: 'In' as const, values: [...FailFastExitCodes] } },
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
              args: ['--job-id', mj.metadata.name, ...shape.args],
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

/** The Jobs of a split MediaJob: plan, chunks beside audio, merge; `cleanup` when it did not complete. */
export type SplitJobStage = 'plan' | 'chunks' | 'audio' | 'merge' | 'cleanup';
export const SplitStageLabel = 'kubeff.io/split-stage';
/** Workers a split job with parallelism "auto" may count on when no setting says otherwise. */
export const DefaultSplitCapacity = 8;

/** The Job of one stage of a split MediaJob: `<name>-plan`, `<name>-chunks`, ... */
export function splitJobName(mediaJobName: string, stage: SplitJobStage): string {
  return jobName(`${mediaJobName}-${stage}`);
}

/**
 * Pure: the Job of a split job's stage, the same hardened pod as a whole job's with the stage's
 * arguments and what the stage needs:
 * - plan: on the job's pool (it decides the encoder, so it must see the GPU the chunks will
 *   use), one CPU;
 * - chunks: ONE Indexed Job. Each pod encodes the chunk of its completion index
 *   (JOB_COMPLETION_INDEX, set by the Job controller) with the job's resources; a failed pod is
 *   retried alone (backoffLimitPerIndex); invalid input fails its index, and one failed index
 *   fails the Job (maxFailedIndexes 0);
 * - audio: one encode over the whole input beside the chunks (audio encoders use one thread):
 *   the CPU pool, one CPU;
 * - merge: stream copies (and, for DASH ladders, the audio encode): the CPU pool, two CPUs at
 *   most, the job's memory;
 * - cleanup: removes the working folder: the CPU pool, a tenth of a CPU.
 */
export function buildSplitJob(mj: MediaJobObject, s: JobBuilderSettings, stage: SplitJobStage, opts: { count?: number; parallelism?: number } = {}) {
  const r = resources(mj, s);
  const gpu = needsGpu(mj.spec);
  const name = splitJobName(mj.metadata.name, stage);
  const labels = { [SplitStageLabel]: stage };
  switch (stage) {
    case 'plan':
      return jobFor(mj, s, { name, labels, gpu, resources: { cpu: 1, memoryGb: Math.min(r.memoryGb, 1) }, args: ['--stage', 'plan', '--capacity', String(s.splitCapacity ?? DefaultSplitCapacity)], failFast: 'FailJob' });
    case 'audio':
      return jobFor(mj, s, { name, labels, gpu: false, resources: { cpu: 1, memoryGb: Math.min(r.memoryGb, 1) }, args: ['--stage', 'audio'], failFast: 'FailJob' });
    case 'merge':
      return jobFor(mj, s, { name, labels, gpu: false, resources: { cpu: Math.min(r.cpu, 2), memoryGb: r.memoryGb }, args: ['--stage', 'merge'], failFast: 'FailJob' });
    case 'cleanup':
      return jobFor(mj, s, { name, labels, gpu: false, resources: { cpu: 0.1, memoryGb: 0.25 }, args: ['--stage', 'cleanup'], failFast: 'FailJob' });
    case 'chunks': {
      const count = Math.max(1, opts.count ?? 1);
      const base = jobFor(mj, s, { name, labels, gpu, resources: r, args: ['--stage', 'chunk'], failFast: 'FailIndex' });
      const { backoffLimit, ...rest } = base.spec;
      return {
        ...base,
        spec: {
          ...rest,
          completionMode: 'Indexed' as const,
          completions: count,
          parallelism: Math.max(1, Math.min(opts.parallelism ?? count, count)),
          backoffLimitPerIndex: backoffLimit,
          maxFailedIndexes: 0,
        },
      };
    }
  }
}
