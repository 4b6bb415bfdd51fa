import { describe, expect, it } from 'vitest';
import { normalizeRequest } from '../../crds/src/normalize.ts';
import { buildJob, EstimateAnnotation, jobName, TraceAnnotation, type JobBuilderSettings, type MediaJobObject } from '../../operator/src/job-builder.ts';

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

  it('fails at once on invalid input and ignores disruptions, retrying only transient failures', () => {
    const spec = buildJob(mediaJob({}), settings).spec;
    expect(spec.backoffLimit).toBe(2);
    expect(spec.template.spec.restartPolicy).toBe('Never');
    expect(spec.podFailurePolicy.rules[0]).toEqual({ action: 'FailJob', onExitCodes: { containerName: 'worker', operator: 'In', values: [64, 65, 69, 80] } });
    expect(spec.podFailurePolicy.rules[1]).toMatchObject({ action: 'Ignore' });
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
