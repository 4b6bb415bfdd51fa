// Split and stitch in cluster mode, on the real control plane: a MediaJob with options.parallelism
// becomes a plan Job, ONE Indexed Job for the chunks (the real Job controller hands each pod its
// completion index) and a merge Job; the process node runs the real worker in every pod. The
// stitched output is compared with the source frame by frame; a chunk pod killed mid-run is
// retried alone; cancellation and failure leave no pod and no working folder; an operator
// restart in the middle creates nothing twice. Through the gateway, SSE shows the chunks' progress
// added up into the job's.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaJobController } from '../../operator/src/kube/controller.ts';
import { eventually } from '../support/eventually.ts';
import { ffprobe, frameHashes, makeSource, type StorageRoot } from '../support/media.ts';
import { readEvents, terminalEvent } from '../support/sse.ts';
import type { ControlPlane } from './control-plane.ts';
import { stackSettings, startStack, workerBundle, type Stack } from './stack.ts';

const ns = 'kubeff';
const clientKey = 'kff_splitclient0_splitclientsecretsplitclientsecret00';
const IndexAnnotation = 'batch.kubernetes.io/job-completion-index';

interface JobView {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { completionMode?: string; completions?: number; parallelism?: number; backoffLimitPerIndex?: number };
  status?: { failed?: number; succeeded?: number; completedIndexes?: string };
}
interface PodView {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { phase?: string };
}
interface MediaJobView {
  status?: {
    phase?: string;
    stage?: string;
    progress?: number;
    error?: { code: string; message: string };
    chunks?: { total: number; completed: number; failed: number };
    chunking?: { count: number; boundaries: number[]; encodeSeconds?: number[] };
    outputs?: { path: string }[];
    workFilesRemoved?: boolean;
  };
}

describe('split jobs in cluster mode', () => {
  let stack: Stack;
  let cp: ControlPlane;
  let storage: StorageRoot;
  let url: string;

  const kubectlJson = async <T>(args: string[]): Promise<T> => {
    const r = await cp.kubectl([...args, '-n', ns, '-o', 'json']);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const mediaJob = (name: string) => kubectlJson<MediaJobView>(['get', 'mj', name]);
  const jobsOf = async (name: string) => (await kubectlJson<{ items: JobView[] }>(['get', 'jobs', '-l', `kubeff.io/mediajob=${name}`])).items;
  const podsOf = async (name: string) => (await kubectlJson<{ items: PodView[] }>(['get', 'pods', '-l', `kubeff.io/mediajob=${name}`])).items;
  const finished = (name: string, timeoutMs = 150_000) => eventually(`${name} finished`, async () => {
    const mj = await mediaJob(name);
    return ['completed', 'failed', 'cancelled'].includes(mj.status?.phase ?? '') ? mj : undefined;
  }, timeoutMs);
  const apply = async (name: string, spec: Record<string, unknown>) => {
    const manifest = { apiVersion: 'kubeff.io/v1alpha1', kind: 'MediaJob', metadata: { name, namespace: ns }, spec: { operations: [], ...spec, options: { priority: 'normal', hardwareAcceleration: 'none', ...(spec['options'] as object) } } };
    const r = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    expect(r.code, r.stderr).toBe(0);
  };
  const lossless = (input: string, output: string, preset = 'ultrafast') => ({ type: 'convert', input: { path: input }, output: { path: output, format: 'mp4', video: { codec: 'h264', crf: 0, preset } } });
  const splitFolder = (name: string) => join(storage.root, '.kubeff', 'split', name);
  /** Chunk pods by completion index. */
  const podsByIndex = async (name: string) => {
    const out = new Map<number, PodView[]>();
    for (const p of await podsOf(name)) {
      if (p.metadata.labels?.['kubeff.io/split-stage'] !== 'chunks') continue;
      const i = Number(p.metadata.annotations?.[IndexAnnotation]);
      out.set(i, [...(out.get(i) ?? []), p]);
    }
    return out;
  };

  beforeAll(async () => {
    stack = await startStack({
      namespace: ns,
      worker: (c, ctx) => {
        // Chunk 2 of a job named doomed-*: invalid input (exit 65) fails its index for good.
        const id = c.env?.find((e) => e.name === 'KUBEFF_JOB_ID')?.value ?? '';
        if (id.startsWith('doomed-') && c.args?.includes('chunk') && ctx.pod.metadata.annotations?.[IndexAnnotation] === '2') {
          return { command: '/bin/sh', args: ['-c', 'sleep 1; echo "chunk 2: corrupt frames" >&2; exit 65', 'sh'] };
        }
        return { command: process.execPath, args: [workerBundle] };
      },
    });
    ({ cp, storage } = stack);
    // Frames that all differ (testsrc2 moves every frame), one keyframe: the cuts are exact.
    const gop = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '1000', '-keyint_min', '1000', '-sc_threshold', '0'];
    makeSource(storage.host('/storage/src/short.mp4'), { seconds: 6, width: 320, height: 240, args: gop });
    makeSource(storage.host('/storage/src/long.mp4'), { seconds: 12, width: 640, height: 360, args: gop });
    ({ url } = await stack.startReplica('split', { KUBEFF_API_KEYS: clientKey, KUBEFF_RATE_LIMIT_PER_SECOND: '1000' }));
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('runs POST /convert with parallelism 3 as a plan Job, ONE Indexed Job of 3 completions and a merge; the output is the source frame for frame; SSE shows the chunks added up', async () => {
    const res = await fetch(`${url}/api/v1/convert`, {
      method: 'POST',
      headers: { 'x-api-key': clientKey, 'content-type': 'application/json' },
      body: JSON.stringify({ input: '/storage/src/short.mp4', output: { path: '/storage/out/split3.mp4', video: { codec: 'h264', crf: 0, preset: 'ultrafast' } }, options: { parallelism: 3 } }),
    });
    const body = (await res.json()) as { job: { id: string } };
    expect(res.status, JSON.stringify(body)).toBe(201);
    const id = body.job.id;
    const sse = await fetch(`${url}/api/v1/jobs/${id}/events`, { headers: { 'x-api-key': clientKey } });
    const events = await readEvents(sse, terminalEvent, 150_000);
    expect(events[events.length - 1]?.event, events.map((e) => e.event).join(',')).toBe('complete');

    // Progress: the operator's sum of the chunks, never going back, carrying the chunk counts.
    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data) as { percentage: number; stage?: string; chunks?: { total: number } });
    expect(progress.length).toBeGreaterThan(0);
    progress.slice(1).forEach((p, i) => expect(p.percentage, `progress event ${i + 1}`).toBeGreaterThanOrEqual((progress[i] as { percentage: number }).percentage));
    expect(progress.every((p) => p.chunks?.total === 3), JSON.stringify(progress)).toBe(true);

    const jobs = await jobsOf(id);
    expect(jobs.map((j) => j.metadata.name).sort()).toEqual([`${id}-audio`, `${id}-chunks`, `${id}-merge`, `${id}-plan`]);
    const chunks = jobs.find((j) => j.metadata.name === `${id}-chunks`) as JobView;
    expect(chunks.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimitPerIndex: 2 });
    expect(chunks.status).toMatchObject({ succeeded: 3, completedIndexes: '0-2' });
    const byIndex = await podsByIndex(id);
    expect([...byIndex.keys()].sort()).toEqual([0, 1, 2]);
    for (const pods of byIndex.values()) expect(pods.map((p) => p.spec.nodeName)).toEqual(['cpu-node']);

    const mj = await mediaJob(id);
    expect(mj.status).toMatchObject({ phase: 'completed', progress: 100, chunks: { total: 3, completed: 3, failed: 0 }, workFilesRemoved: true });
    expect(mj.status?.chunking?.boundaries).toHaveLength(4);
    expect(mj.status?.chunking?.encodeSeconds).toHaveLength(3);
    const view = (await (await fetch(`${url}/api/v1/jobs/${id}`, { headers: { 'x-api-key': clientKey } })).json()) as { chunks?: unknown; chunking?: { count: number } };
    expect(view).toMatchObject({ chunks: { total: 3, completed: 3, failed: 0 }, chunking: { count: 3 } });

    const want = frameHashes(storage.host('/storage/src/short.mp4'));
    const got = frameHashes(storage.host('/storage/out/split3.mp4'));
    expect(got.length, 'frame count').toBe(want.length);
    expect(got.findIndex((h, i) => h !== want[i]), 'first frame that differs from the source').toBe(-1);
    expect(ffprobe(storage.host('/storage/out/split3.mp4')).streams.filter((s) => s.codec_type === 'audio')).toHaveLength(1);
    expect(existsSync(splitFolder(id)), 'the working folder is gone after success').toBe(false);
    const columns = await cp.kubectl(['get', 'mj', id, '-n', ns]);
    expect(columns.stdout).toMatch(new RegExp(`${id}\\s+convert\\s+completed\\s+100\\s+3\\s+3`));
  });

  it('retries a chunk pod killed mid-run alone: its index gets a second pod, the others one each; the output is still exact', async () => {
    await apply('killme', { ...lossless('/storage/src/long.mp4', '/storage/out/killme.mp4', 'slow'), options: { parallelism: 3 } });
    // The worker of chunk 1, once it is encoding (it has written progress), dies with SIGKILL.
    const victim = await eventually('chunk 1 encoding', async () => {
      const p = stack.node.processes().find((x) => x.pod.startsWith('killme-chunks-1-') && x.running && x.pid !== undefined);
      return p && existsSync(p.logFile) && readFileSync(p.logFile, 'utf8').includes('"type":"progress"') ? p : undefined;
    }, 120_000, 100);
    process.kill(-(victim.pid as number), 'SIGKILL');
    const mj = await finished('killme');
    expect(mj.status?.phase, JSON.stringify(mj.status)).toBe('completed');
    expect(mj.status?.chunks).toEqual({ total: 3, completed: 3, failed: 1 });
    const byIndex = await podsByIndex('killme');
    expect(byIndex.get(1)?.map((p) => p.status?.phase).sort()).toEqual(['Failed', 'Succeeded']);
    expect(byIndex.get(0)).toHaveLength(1);
    expect(byIndex.get(2)).toHaveLength(1);
    expect(frameHashes(storage.host('/storage/out/killme.mp4'))).toEqual(frameHashes(storage.host('/storage/src/long.mp4')));
    expect(existsSync(splitFolder('killme'))).toBe(false);
  });

  it('cancellation stops every chunk pod and removes the working folder; nothing is written at the output path', async () => {
    await apply('stopme', { ...lossless('/storage/src/long.mp4', '/storage/out/stopme.mp4', 'veryslow'), options: { parallelism: 3 } });
    await eventually('chunk pods running', async () => {
      const running = stack.node.processes().filter((x) => x.pod.startsWith('stopme-chunks-') && x.running);
      return running.length >= 2 ? running : undefined;
    }, 120_000, 100);
    expect(existsSync(splitFolder('stopme')), 'the chunks work in the folder').toBe(true);
    const r = await cp.kubectl(['annotate', 'mj', 'stopme', '-n', ns, 'kubeff.io/cancel-requested=true']);
    expect(r.code, r.stderr).toBe(0);
    await eventually('the folder removed by the cleanup Job', async () => ((await mediaJob('stopme')).status?.workFilesRemoved === true ? true : undefined), 90_000);
    expect((await mediaJob('stopme')).status?.phase).toBe('cancelled');
    expect(existsSync(splitFolder('stopme'))).toBe(false);
    expect(stack.node.processes().filter((x) => x.pod.startsWith('stopme-') && x.running), 'no process of the job runs').toEqual([]);
    const pods = await podsOf('stopme');
    expect(pods.filter((p) => p.metadata.labels?.['kubeff.io/split-stage'] === 'chunks').map((p) => p.metadata.name), 'every chunk pod is gone with its Job').toEqual([]);
    expect(pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed').map((p) => p.metadata.name), 'no pod of the job is left running').toEqual([]);
    const names = (await jobsOf('stopme')).map((j) => j.metadata.name);
    expect(names, 'the chunks Job is deleted, the cleanup Job ran').toContain('stopme-cleanup');
    expect(names).not.toContain('stopme-chunks');
    expect(names).not.toContain('stopme-merge');
    expect(existsSync(storage.host('/storage/out/stopme.mp4'))).toBe(false);
  });

  it('a chunk failing on invalid input fails the job with its index\'s error, stops the others and removes the folder', async () => {
    await apply('doomed-1', { ...lossless('/storage/src/long.mp4', '/storage/out/doomed.mp4', 'slow'), options: { parallelism: 3 } });
    const mj = await finished('doomed-1');
    expect(mj.status?.phase).toBe('failed');
    expect(mj.status?.error?.message).toMatch(/^a chunk: /);
    const byIndex = await podsByIndex('doomed-1');
    expect(byIndex.get(2), 'exit 65 fails the index at once (FailIndex), no retry').toHaveLength(1);
    await eventually('the folder removed after the failure', async () => ((await mediaJob('doomed-1')).status?.workFilesRemoved === true ? true : undefined), 90_000);
    expect(existsSync(splitFolder('doomed-1'))).toBe(false);
    expect(stack.node.processes().filter((x) => x.pod.startsWith('doomed-1-') && x.running)).toEqual([]);
    expect(existsSync(storage.host('/storage/out/doomed.mp4'))).toBe(false);
  });

  it('splits an HLS ladder the same way: the merge (on the CPU pool) writes every rendition, segmented on the edges', async () => {
    await apply('ladder-1', {
      type: 'stream', input: { path: '/storage/src/short.mp4' },
      stream: { format: 'hls', path: '/storage/out/ladder', segmentDuration: 2, videoCodec: 'h264', audioBitrate: 128000, variants: [{ name: 'hi', width: 320, height: 240, bitrate: 600000 }, { name: 'lo', width: 160, height: 120, bitrate: 200000 }] },
      options: { parallelism: 3 },
    });
    const mj = await finished('ladder-1');
    expect(mj.status?.phase, JSON.stringify(mj.status)).toBe('completed');
    expect(mj.status?.chunks).toEqual({ total: 3, completed: 3, failed: 0 });
    expect(mj.status?.outputs?.map((o) => o.path)).toEqual(['/storage/out/ladder/master.m3u8', '/storage/out/ladder/hi/index.m3u8', '/storage/out/ladder/lo/index.m3u8']);
    for (const r of ['hi', 'lo']) expect(readFileSync(storage.host(`/storage/out/ladder/${r}/index.m3u8`), 'utf8').match(/#EXTINF:2\.000000,/g), r).toHaveLength(3);
    const merge = (await podsOf('ladder-1')).find((p) => p.metadata.labels?.['kubeff.io/split-stage'] === 'merge');
    expect(merge?.spec.nodeName).toBe('cpu-node');
    expect(existsSync(splitFolder('ladder-1'))).toBe(false);
  });

  it('creates nothing twice and loses nothing when the operator restarts while the chunks run', async () => {
    await apply('restart-1', { ...lossless('/storage/src/long.mp4', '/storage/out/restart.mp4', 'slow'), options: { parallelism: 3 } });
    await eventually('chunks running', async () => (stack.node.processes().some((x) => x.pod.startsWith('restart-1-chunks-') && x.running) ? true : undefined), 120_000, 100);
    const before = await jobsOf('restart-1');
    await stack.controller.stop();
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfig);
    const second = new MediaJobController({ kubeconfig: kc, log: pino({ level: 'warn' }), settings: { ...stackSettings, natsUrl: stack.nats.url }, limits: { global: 10, perOwner: 10 }, resyncMs: 500, natsUrl: stack.nats.url, progressIntervalMs: 300 });
    await second.start();
    try {
      const mj = await finished('restart-1');
      expect(mj.status?.phase, JSON.stringify(mj.status)).toBe('completed');
      const after = await jobsOf('restart-1');
      for (const j of before) expect(after.find((a) => a.metadata.name === j.metadata.name)?.metadata.uid, `${j.metadata.name} kept`).toBe(j.metadata.uid);
      expect(after.map((j) => j.metadata.name).sort()).toEqual(['restart-1-audio', 'restart-1-chunks', 'restart-1-merge', 'restart-1-plan']);
      for (const [i, pods] of await podsByIndex('restart-1')) expect(pods, `chunk ${i} ran once`).toHaveLength(1);
      expect(frameHashes(storage.host('/storage/out/restart.mp4'))).toEqual(frameHashes(storage.host('/storage/src/long.mp4')));
    } finally {
      await second.stop();
    }
  });
});
