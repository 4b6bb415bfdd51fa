// Cluster mode end to end, without the gateway: a MediaJob applied with kubectl is reconciled by
// the operator into a Job, the scheduler places its pod, the process node runs the real worker,
// and the operator records the result from the pod's termination message. Invalid input fails
// once without retries; an NVENC job is placed on the GPU node only.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaJobController } from '../../operator/src/kube/controller.ts';
import type { JobBuilderSettings } from '../../operator/src/job-builder.ts';
import { ffprobe, makeSource, makeStorage, type StorageRoot } from '../support/media.ts';
import { startNats } from '../support/nats.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { startProcessNode, type ProcessNode } from './process-node.ts';
import { stackSettings } from './stack.ts';
import { eventually } from '../support/eventually.ts';

const repo = join(import.meta.dirname, '..', '..');
const ns = 'default';

// The stack's worker settings, with the default ServiceAccount of the default namespace.
const settings: JobBuilderSettings = { ...stackSettings, serviceAccountName: 'default' };

interface MediaJobView {
  status?: { phase?: string; attempts?: number; outputs?: { path: string; videoCodec?: string }[]; error?: { code: string; retryable: boolean } };
}

describe('MediaJobs applied with kubectl run end to end', () => {
  let cp: ControlPlane;
  let node: ProcessNode;
  let controller: MediaJobController;
  let storage: StorageRoot;
  let volumeRoot: string;
  let nats: Awaited<ReturnType<typeof startNats>>;

  const apply = async (name: string, spec: Record<string, unknown>) => {
    const manifest = { apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', metadata: { name }, spec: { operations: [], options: { priority: 'normal', hardwareAcceleration: 'auto' }, ...spec } };
    const r = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(r.code, r.stderr).toBe(0);
  };
  const get = async (name: string) => JSON.parse((await cp.kubectl(['get', 'mj', name, '-o', 'json'])).stdout) as MediaJobView;
  const finished = (name: string) => eventually(`${name} finished`, async () => {
    const mj = await get(name);
    return ['completed', 'failed', 'cancelled'].includes(mj.status?.phase ?? '') ? mj : undefined;
  });
  const podsOf = async (name: string) =>
    (JSON.parse((await cp.kubectl(['get', 'pods', '-l', `kubeff.io/mediajob=${name}`, '-o', 'json'])).stdout) as { items: { spec: { nodeName?: string } }[] }).items;

  beforeAll(async () => {
    cp = await startControlPlane();
    nats = await startNats();
    storage = makeStorage('kubeff-e2e-');
    makeSource(storage.host('/storage/long.mp4'), { seconds: 12, width: 640, height: 480 });
    makeSource(storage.host('/storage/in.mp4'), { seconds: 1 });
    writeFileSync(storage.host('/storage/corrupt.mp4'), 'not a video at all '.repeat(200));
    volumeRoot = mkdtempSync(join(tmpdir(), 'kubeff-e2e-vol-'));
    for (const args of [['apply', '-f', join(repo, 'crds', 'mediajobs.kubeff.io.yaml')], ['wait', '--for=condition=Established', 'crd/mediajobs.kubeff.io', '--timeout=60s']]) {
      const r = await cp.kubectl(args, { timeoutMs: 70_000 });
      expect(r.code, r.stderr).toBe(0);
    }
    // The storage volume: a bound ReadWriteMany claim (the scheduler will not place pods without it).
    expect((await cp.api('POST', '/api/v1/persistentvolumes', { metadata: { name: 'media-pv' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: 'manual', hostPath: { path: storage.root }, claimRef: { namespace: ns, name: 'media' } } })).status).toBe(201);
    expect((await cp.api('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, { metadata: { name: 'media' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: 'manual', volumeName: 'media-pv', resources: { requests: { storage: '1Gi' } } } })).status).toBe(201);
    node = await startProcessNode({
      kubeconfig: cp.kubeconfig,
      volumeRoot,
      nodes: [
        { name: 'cpu-node', labels: { 'kubeff.io/pool': 'cpu' }, capacity: { cpu: '4', memory: '8Gi', pods: '20' } },
        { name: 'gpu-node', labels: { 'kubeff.io/pool': 'gpu' }, taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }], capacity: { cpu: '4', memory: '8Gi', pods: '20', 'nvidia.com/gpu': '1' } },
      ],
      images: { 'kubeff/worker': () => ({ command: process.execPath, args: [join(repo, 'worker-image', 'src', 'main.ts')] }) },
      pvcPaths: { media: storage.root },
    });
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    controller = new MediaJobController({ kubeconfig: kc, log: pino({ level: 'warn' }), settings: { ...settings, natsUrl: nats.url }, limits: { global: 10, perOwner: 10 }, resyncMs: 1000, natsUrl: nats.url, progressIntervalMs: 300 });
    await controller.start();
  }, 180_000);

  afterAll(async () => {
    await controller?.stop();
    await node?.stop();
    await cp?.stop();
    await nats?.stop();
    storage?.remove();
    if (volumeRoot) rmSync(volumeRoot, { recursive: true, force: true });
  });

  it('converts a file: MediaJob → Job → pod on the CPU node → real output → completed with outputs', async () => {
    await apply('convert-1', { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: '/storage/out.mp4', format: 'mp4', video: { preset: 'ultrafast' } } });
    const mj = await finished('convert-1');
    expect(mj.status?.phase, JSON.stringify(mj.status)).toBe('completed');
    expect(mj.status?.outputs?.[0]).toMatchObject({ path: '/storage/out.mp4', videoCodec: 'h264' });
    expect(ffprobe(storage.host('/storage/out.mp4')).streams.some((s) => s.codec_name === 'h264')).toBe(true);
    expect((await podsOf('convert-1')).map((p) => p.spec.nodeName)).toEqual(['cpu-node']);
    const columns = await cp.kubectl(['get', 'mj', 'convert-1']);
    expect(columns.stdout).toMatch(/convert-1\s+convert\s+completed\s+100/);
  });

  it('fails a job with invalid input once, without retries', async () => {
    await apply('bad-input', { type: 'convert', input: { path: '/storage/corrupt.mp4' }, output: { path: '/storage/never.mp4', format: 'mp4' } });
    const mj = await finished('bad-input');
    expect(mj.status?.phase).toBe('failed');
    expect(mj.status?.error).toMatchObject({ code: 'INVALID_INPUT', retryable: false });
    expect(await podsOf('bad-input'), 'one pod: the podFailurePolicy stopped the retries').toHaveLength(1);
  });

  it('places an NVENC job on the GPU node only (where this machine has no NVENC: a clear error, no retry)', async () => {
    await apply('gpu-1', { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: '/storage/gpu.mp4', format: 'mp4' }, options: { priority: 'normal', hardwareAcceleration: 'nvenc' } });
    const mj = await finished('gpu-1');
    expect((await podsOf('gpu-1')).map((p) => p.spec.nodeName)).toEqual(['gpu-node']);
    expect(mj.status?.error).toMatchObject({ code: 'UNSUPPORTED_CAPABILITY', retryable: false });
  });

  it('shows live progress in status while the job runs (workers → NATS → operator, throttled)', async () => {
    await apply('live-1', { type: 'convert', input: { path: '/storage/long.mp4' }, output: { path: '/storage/live.mp4', format: 'mp4', video: { preset: 'medium' } } });
    const seen = await eventually('a progress between 0 and 100 while processing', async () => {
      const mj = (await get('live-1')) as MediaJobView & { status?: { progress?: number } };
      const p = mj.status?.progress ?? 0;
      return mj.status?.phase === 'processing' && p > 0 && p < 100 ? p : undefined;
    }, 60_000);
    expect(seen).toBeGreaterThan(0);
    const done = await finished('live-1');
    expect(done.status?.phase).toBe('completed');
    expect((done as { status?: { progress?: number } }).status?.progress, 'the final state wins over late progress').toBe(100);
  });
});
