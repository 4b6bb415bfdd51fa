// The real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) built by
// test/cluster/build.sh: the MediaJob CRD is served and validated by the real API server, and the
// real controllers and scheduler act on a batch/v1 Job. Run with
//   PATH=$PWD/node_modules/.bin:$PATH vitest run --config test/cluster/vitest.config.ts
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { eventually } from '../support/eventually.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const crdPath = join(repoRoot, 'crds', 'mediajobs.kubeff.io.yaml');

function mediaJob(name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: 'kubeff.io/v1alpha1',
    kind: 'MediaJob',
    metadata: { name },
    spec: {
      type: 'convert',
      input: { path: '/storage/in.mp4' },
      output: { path: '/storage/out.mp4', format: 'mp4' },
      operations: [],
      options: { priority: 'normal', hardwareAcceleration: 'auto' },
      ...spec,
    },
  });
}

const validOptions = { priority: 'normal', hardwareAcceleration: 'auto' };

describe('a real Kubernetes control plane built from the Go module proxy', () => {
  let cp: ControlPlane;

  beforeAll(async () => {
    cp = await startControlPlane();
  });

  afterAll(async () => {
    await cp?.stop();
  });

  it('serves the pinned Kubernetes version (the version ldflags are set)', async () => {
    const r = await cp.api('GET', '/version');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ gitVersion: `v${cp.binaries.versions.kubernetes}`, major: '1' });
    expect(cp.apiServerUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('installs the generated MediaJob CRD and reports it Established', async () => {
    const applied = await cp.kubectl(['apply', '-f', crdPath]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('customresourcedefinition.apiextensions.k8s.io/mediajobs.kubeff.io');
    const waited = await cp.kubectl(['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=60s'], { timeoutMs: 70_000 });
    expect(waited.stderr).toBe('');
    expect(waited.code).toBe(0);
    // The short name resolves once discovery has the new resource.
    await eventually('kubectl get mj works', async () => ((await cp.kubectl(['get', 'mj'])).code === 0 ? true : undefined));
  });

  it('accepts a valid MediaJob', async () => {
    const r = await cp.kubectl(['apply', '-f', '-'], { input: mediaJob('job-a') });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('mediajob.kubeff.io/job-a created');
    const got = await cp.api('GET', '/apis/kubeff.io/v1alpha1/namespaces/default/mediajobs/job-a');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ spec: { type: 'convert', input: { path: '/storage/in.mp4' }, options: validOptions } });
  });

  it('lists MediaJobs with the printer columns Type, Phase, Progress, Chunks, Chunks-Done and Age', async () => {
    const r = await cp.kubectl(['get', 'mj']);
    expect(r.code).toBe(0);
    const [header, row] = r.stdout.trimEnd().split('\n');
    expect(header?.trim().split(/\s+/)).toEqual(['NAME', 'TYPE', 'PHASE', 'PROGRESS', 'CHUNKS', 'CHUNKS-DONE', 'AGE']);
    expect(row?.trim().split(/\s+/).slice(0, 2)).toEqual(['job-a', 'convert']);
    const wide = await cp.kubectl(['get', 'mj', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]?.trim().split(/\s+/)).toEqual(['NAME', 'TYPE', 'PHASE', 'PROGRESS', 'CHUNKS', 'CHUNKS-DONE', 'STAGE', 'PRIORITY', 'AGE']);
  });

  // status: 422 Invalid for a schema violation; 400 BadRequest for strict decoding (unknown field).
  const invalid: Array<{ name: string; why: string; spec: Record<string, unknown>; message: RegExp; status: number }> = [
    {
      name: 'bad-priority',
      why: 'options.priority is not one of low/normal/high',
      spec: { options: { ...validOptions, priority: 'urgent' } },
      message: /spec\.options\.priority: Unsupported value: "urgent": supported values: "low", "normal", "high"/,
      status: 422,
    },
    {
      name: 'bad-operation',
      why: 'operations[0].type is not a known operation',
      spec: { operations: [{ type: 'drawtext' }] },
      message: /spec\.operations\[0\]\.type: Unsupported value: "drawtext": supported values: "trim", "scale"/,
      status: 422,
    },
    {
      name: 'bad-path',
      why: 'input path is outside /storage/',
      spec: { input: { path: '/etc/passwd' } },
      message: /spec\.input\.path: Invalid value: "\/etc\/passwd": spec\.input\.path in body should match '\^\(\/storage\/\|s3:/,
      status: 422,
    },
    {
      name: 'unknown-field',
      why: 'input has an unknown field (strict field validation)',
      spec: { input: { path: '/storage/in.mp4', url: 'http://example.invalid/x' } },
      message: /unknown field "spec\.input\.url"/,
      status: 400,
    },
  ];

  it.each(invalid)('rejects a MediaJob whose $why, with the field named in the message', async ({ name, spec, message, status }) => {
    const r = await cp.kubectl(['apply', '-f', '-'], { input: mediaJob(name, spec) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    // The API server itself refuses it (not a client-side check of kubectl's).
    const direct = await cp.api('POST', '/apis/kubeff.io/v1alpha1/namespaces/default/mediajobs?fieldValidation=Strict', mediaJob(name, spec));
    expect(direct.status).toBe(status);
    expect((direct.body as { kind: string; message: string }).kind).toBe('Status');
    expect((direct.body as { message: string }).message).toMatch(message);
    expect((await cp.kubectl(['get', 'mj', name])).code).not.toBe(0);
  });

  it('updates status through the status subresource, and kubectl get shows the phase and progress', async () => {
    const patched = await cp.kubectl([
      'patch', 'mj', 'job-a', '--subresource=status', '--type=merge',
      '-p', JSON.stringify({ status: { phase: 'processing', stage: 'encode', progress: 42.5 } }),
    ]);
    expect(patched.stderr).toBe('');
    expect(patched.stdout.trim()).toBe('mediajob.kubeff.io/job-a patched');
    const r = await cp.kubectl(['get', 'mj', 'job-a', '--no-headers']);
    expect(r.stdout.trim().split(/\s+/).slice(0, 4)).toEqual(['job-a', 'convert', 'processing', '42.5']);
    // The status schema is enforced on the subresource too.
    const bad = await cp.kubectl(['patch', 'mj', 'job-a', '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"exploded"}}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/status\.phase: Unsupported value: "exploded"/);
    // A spec change through the main resource cannot touch status.
    const specPatch = await cp.kubectl(['patch', 'mj', 'job-a', '--type=merge', '-p', '{"status":{"phase":"failed"}}']);
    expect(specPatch.code).toBe(0);
    expect((await cp.kubectl(['get', 'mj', 'job-a', '-o', 'jsonpath={.status.phase}'])).stdout).toBe('processing');
  });

  it('runs the Job controller and the scheduler: a Job gets a Pod that stays Pending, unschedulable with no nodes', async () => {
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'probe' },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'kubeff/worker:test', command: ['true'] }] } },
      },
    };
    const created = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(job) });
    expect(created.stderr).toBe('');
    type Pod = {
      metadata: { name: string; ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> };
      spec: { nodeName?: string };
      status: { phase?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
    };
    const pod = await eventually('the scheduler marks the Job pod unschedulable', async () => {
      const r = await cp.api('GET', '/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dprobe');
      const items = (r.body as { items?: Pod[] }).items ?? [];
      const p = items[0];
      const cond = p?.status.conditions?.find((c) => c.type === 'PodScheduled');
      return cond?.status === 'False' ? p : undefined;
    });
    expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', name: 'probe', controller: true })]);
    expect(pod.status.phase).toBe('Pending');
    expect(pod.spec.nodeName).toBeUndefined();
    const cond = pod.status.conditions?.find((c) => c.type === 'PodScheduled');
    expect(cond).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(cond?.message).toMatch(/no nodes available/);

    // The garbage collector removes the pod when its Job goes (an unbound pod is deleted at once).
    const del = await cp.kubectl(['delete', 'job', 'probe', '--cascade=background']);
    expect(del.code).toBe(0);
    await eventually('the garbage collector deletes the Job pod', async () => {
      const r = await cp.api('GET', '/api/v1/namespaces/default/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dprobe');
      return ((r.body as { items?: Pod[] }).items ?? []).length === 0 ? true : undefined;
    });
  });

  it('stops cleanly: every component exits, the port closes and the temporary folder is removed', async () => {
    const port = Number(new URL(cp.apiServerUrl).port);
    expect(cp.components().map((c) => c.name)).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
    expect(cp.components().every((c) => c.running)).toBe(true);
    const started = Date.now();
    await cp.stop();
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(cp.components().some((c) => c.running)).toBe(false);
    expect(existsSync(cp.dir)).toBe(false);
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    await cp.stop(); // idempotent
  });
});
