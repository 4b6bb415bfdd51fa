import { describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { buildJob, buildSplitJob, DefaultSplitCapacity, EstimateAnnotation, jobName, splitJobName, TraceAnnotation, type JobBuilderSettings, type MediaJobObject } from '../../operator/src/job-builder.ts';

const settings: JobBuilderSettings = {
  image: 'ghcr.io/kubeff/worker:0.1.0',
  serviceAccountName: 'kubeff-worker',
  storageClaimName: 'kubeff-storage',
  natsUrl: 'nats://kubeff-nats:4222',
  priorityClassNames: { high: 'kubeff-high', low: 'kubeff-low' },
  cpuPool: { nodeSelector: { 'kubeff.io/pool': 'cpu' } },
  gpuPool: { resourceName: 'nvidia.com/gpu', nodeSelector: { 'kubeff.io/pool': 'gpu' }, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }], runtimeClassName: 'nvidia' },
  maxAttempts: 3,
  defaultDeadlineSeconds: 21_600,
  ttlSecondsAfterFinished: 3600,
  defaultResources: { cpu: 2, memoryGb: 2 },
};

/** A MediaJob as the API server would hold it, built from a reference request. */
function mediaJob(body: Record<string, unknown>, meta: Partial<MediaJobObject['metadata']> = {}): MediaJobObject {
  return {
    apiVersion: 'kubeff.io/v1alpha1',
    kind: 'MediaJob',
    metadata: { name: 'job-1', namespace: 'media', uid: 'uid-1', ...meta },
    spec: normalizeRequest('convert', { input: '/storage/in.mp4', output: 'mp4', ...body }),
  };
}

describe('buildJob', () => {
  it('owns the Job through a controller owner reference to the MediaJob', () => {
    const job = buildJob(mediaJob({}), settings);
    expect(job.metadata.ownerReferences).toEqual([{ apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', name: 'job-1', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    expect(job.metadata.namespace).toBe('media');
    expect(job.metadata.labels['kubeff.io/mediajob']).toBe('job-1');
  });

  it('runs a CPU job on the CPU pool without a GPU', () => {
    const pod = buildJob(mediaJob({ options: { hardware_acceleration: 'auto' } }), settings).spec.template.spec;
    expect(pod.nodeSelector).toEqual({ 'kubeff.io/pool': 'cpu' });
    expect(pod.containers[0]?.resources.limits).not.toHaveProperty('nvidia.com/gpu');
    expect(pod).not.toHaveProperty('runtimeClassName');
    expect(pod).not.toHaveProperty('tolerations');
  });

  it('asks for one GPU, the GPU pool, its toleration and runtime class when NVENC is requested', () => {
    const pod = buildJob(mediaJob({ options: { hardware_acceleration: 'nvenc' } }), settings).spec.template.spec;
    expect(pod.containers[0]?.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(pod.nodeSelector).toEqual({ 'kubeff.io/pool': 'gpu' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.runtimeClassName).toBe('nvidia');
  });

  it('runs non-root, read-only, without privileges or a service-account token', () => {
    const pod = buildJob(mediaJob({}), settings).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers[0]?.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0]?.volumeMounts.map((v) => v.mountPath)).toEqual(['/storage', '/tmp']);
    expect(pod.volumes[0]).toEqual({ name: 'storage', persistentVolumeClaim: { claimName: 'kubeff-storage' } });
  });

  it('ignores disruptions first, then fails at once on invalid input; a pod stopped by SIGTERM alone is retried', () => {
    const spec = buildJob(mediaJob({}), settings).spec;
    expect(spec.backoffLimit).toBe(2);
    expect(spec.template.spec.restartPolicy).toBe('Never');
    // The first matching rule applies: an evicted pod (its worker exits 80 on SIGTERM) must not fail the Job.
    expect(spec.podFailurePolicy.rules[0]).toEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
    expect(spec.podFailurePolicy.rules[1]).toEqual({ action: 'FailJob', onExitCodes: { containerName: 'worker', operator: 'In', values: [64, 65, 69, 70] } });
  });

  it.each([
    { priority: 'high', cls: 'kubeff-high' },
    { priority: 'low', cls: 'kubeff-low' },
    { priority: 'normal', cls: undefined },
  ])('maps priority $priority to priority class $cls', ({ priority, cls }) => {
    expect(buildJob(mediaJob({ options: { priority } }), settings).spec.template.spec.priorityClassName).toBe(cls);
  });

  it('uses the timeout of the job as its deadline, else the default; and cleans up finished Jobs', () => {
    expect(buildJob(mediaJob({ options: { timeout: 600 } }), settings).spec.activeDeadlineSeconds).toBe(600);
    expect(buildJob(mediaJob({}), settings).spec.activeDeadlineSeconds).toBe(21_600);
    expect(buildJob(mediaJob({}), settings).spec.ttlSecondsAfterFinished).toBe(3600);
  });

  it.each([
    { name: 'the estimate annotation', annotations: { [EstimateAnnotation]: JSON.stringify({ resources: { cpu_cores: 8, memory_gb: 6 } }) } as Record<string, string>, cpu: '8', mem: '6Gi' },
    { name: 'the defaults without an estimate', annotations: {} as Record<string, string>, cpu: '2', mem: '2Gi' },
    { name: 'the defaults when the annotation is not JSON', annotations: { [EstimateAnnotation]: 'lots' }, cpu: '2', mem: '2Gi' },
  ])('requests resources from $name', ({ annotations, cpu, mem }) => {
    const c = buildJob(mediaJob({}, { annotations }), settings).spec.template.spec.containers[0];
    expect(c?.resources.requests).toEqual({ cpu, memory: mem });
    expect(c?.resources.limits).toMatchObject({ cpu, memory: mem });
  });

  it('passes the spec, identity, storage root, NATS and trace context to the worker', () => {
    const env = buildJob(mediaJob({}, { annotations: { [TraceAnnotation]: '00-abc-def-01' } }), settings).spec.template.spec.containers[0]?.env ?? [];
    const byName = Object.fromEntries(env.map((e) => [e.name, e.value]));
    expect(JSON.parse(String(byName['KUBEFF_SPEC']))).toMatchObject({ type: 'convert', input: { path: '/storage/in.mp4' } });
    expect(byName).toMatchObject({ KUBEFF_JOB_ID: 'job-1', KUBEFF_STORAGE_ROOT: '/storage', NATS_URL: 'nats://kubeff-nats:4222', TRACEPARENT: '00-abc-def-01', KUBEFF_RESULT_PATH: '/dev/termination-log' });
  });

  it('gives the worker the storage Secret (S3 settings and credentials) as environment only when one is configured', () => {
    const withSecret = buildJob(mediaJob({}), { ...settings, storageSecretName: 'kubeff-s3' }).spec.template.spec.containers[0];
    expect(withSecret?.envFrom).toEqual([{ secretRef: { name: 'kubeff-s3' } }]);
    expect(JSON.stringify(withSecret?.env), 'no credential is written into the Job').not.toMatch(/SECRET_ACCESS_KEY/);
    expect(buildJob(mediaJob({}), settings).spec.template.spec.containers[0]).not.toHaveProperty('envFrom');
  });

  it('keeps Job names within 63 characters, deterministically', () => {
    const long = 'x'.repeat(80);
    expect(jobName(long)).toHaveLength(63);
    expect(jobName(long)).toBe(jobName(long));
    expect(jobName(long)).not.toBe(jobName(`${'x'.repeat(79)}y`));
    expect(jobName('short')).toBe('short');
  });
});

describe('buildSplitJob', () => {
  const estimate = { [EstimateAnnotation]: JSON.stringify({ resources: { cpu_cores: 4, memory_gb: 3 } }) };
  const split = (options: Record<string, unknown> = {}) => mediaJob({ options: { parallelism: 3, ...options } }, { annotations: estimate });

  it('runs the chunks as ONE Indexed Job: completions = chunks, parallelism = the limit, retries per index', () => {
    const job = buildSplitJob(split(), settings, 'chunks', { count: 5, parallelism: 3 });
    expect(job.metadata.name).toBe('job-1-chunks');
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 5, parallelism: 3, backoffLimitPerIndex: 2, maxFailedIndexes: 0 });
    expect(job.spec).not.toHaveProperty('backoffLimit');
    expect(job.spec.podFailurePolicy.rules).toEqual([
      { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
      { action: 'FailIndex', onExitCodes: { containerName: 'worker', operator: 'In', values: [64, 65, 69, 70] } },
    ]);
    const c = job.spec.template.spec.containers[0];
    expect(c?.args).toEqual(['--job-id', 'job-1', '--stage', 'chunk']);
    expect(c?.resources.requests).toEqual({ cpu: '4', memory: '3Gi' });
    expect(job.spec.template.metadata.labels).toMatchObject({ 'kubeff.io/mediajob': 'job-1', 'kubeff.io/split-stage': 'chunks' });
  });

  it('never runs more chunk pods at once than there are chunks', () => {
    expect(buildSplitJob(split(), settings, 'chunks', { count: 2, parallelism: 8 }).spec).toMatchObject({ completions: 2, parallelism: 2 });
  });

  it('plans on the job\'s pool with one CPU and the configured capacity for "auto"', () => {
    const plan = buildSplitJob(split({ hardware_acceleration: 'nvenc' }), { ...settings, splitCapacity: 12 }, 'plan');
    const c = plan.spec.template.spec.containers[0];
    expect(c?.args).toEqual(['--job-id', 'job-1', '--stage', 'plan', '--capacity', '12']);
    expect(c?.resources.requests).toEqual({ cpu: '1', memory: '1Gi' });
    // It decides the encoder for every chunk: it must see the GPU the chunks will use.
    expect(c?.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(plan.spec.template.spec.nodeSelector).toEqual({ 'kubeff.io/pool': 'gpu' });
    expect(buildSplitJob(split(), settings, 'plan').spec.template.spec.containers[0]?.args).toContain(String(DefaultSplitCapacity));
  });

  it.each([
    { stage: 'audio' as const, cpu: '1', memory: '1Gi' },
    { stage: 'merge' as const, cpu: '2', memory: '3Gi' },
    { stage: 'cleanup' as const, cpu: '0.1', memory: '0.25Gi' },
  ])('runs the $stage step on the CPU pool without a GPU, with $cpu CPU', ({ stage, cpu, memory }) => {
    const job = buildSplitJob(split({ hardware_acceleration: 'nvenc' }), settings, stage);
    const c = job.spec.template.spec.containers[0];
    expect(job.metadata.name).toBe(splitJobName('job-1', stage));
    expect(c?.args).toEqual(['--job-id', 'job-1', '--stage', stage]);
    expect(c?.resources.requests).toEqual({ cpu, memory });
    expect(c?.resources.limits).not.toHaveProperty('nvidia.com/gpu');
    expect(job.spec.template.spec.nodeSelector).toEqual({ 'kubeff.io/pool': 'cpu' });
    expect(job.spec).toMatchObject({ backoffLimit: 2 });
  });

  it('gives every stage the same owner, hardening and storage as a whole job', () => {
    for (const stage of ['plan', 'chunks', 'audio', 'merge', 'cleanup'] as const) {
      const job = buildSplitJob(split(), settings, stage, { count: 3 });
      expect(job.metadata.ownerReferences[0]).toMatchObject({ kind: 'MediaJob', uid: 'uid-1', controller: true });
      expect(job.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
      expect(job.spec.template.spec.volumes[0]).toEqual({ name: 'storage', persistentVolumeClaim: { claimName: 'kubeff-storage' } });
    }
  });
});
