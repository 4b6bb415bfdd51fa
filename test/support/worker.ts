// Runs the real worker (in-process, real FFmpeg) on a Rendiff-style request, the way a job runs.
import { randomUUID } from 'node:crypto';
import { normalizeRequest, type RequestKind } from '../../crds/src/normalize.ts';
import { MemorySink, type WorkerEvent } from '../../worker-image/src/events.ts';
import { runJob, type JobOutcome } from '../../worker-image/src/job.ts';
import { LocalStorage } from '../../worker-image/src/storage.ts';
import { toolsFromEnv, type Tools } from '../../worker-image/src/tools.ts';
import type { StorageRoot } from './media.ts';

export interface Ran extends JobOutcome {
  events: WorkerEvent[];
  jobId: string;
}

export async function runRequest(storage: StorageRoot, kind: RequestKind, body: unknown, signal?: AbortSignal): Promise<Ran> {
  return runSpec(storage, normalizeRequest(kind, body), { signal });
}

export async function runSpec(storage: StorageRoot, spec: unknown, opts: { signal?: AbortSignal | undefined; tools?: Tools } = {}): Promise<Ran> {
  const sink = new MemorySink();
  const jobId = randomUUID().slice(0, 8);
  const outcome = await runJob(spec, { jobId, storage: new LocalStorage(storage.root), tools: opts.tools ?? toolsFromEnv(), sink, ...(opts.signal ? { signal: opts.signal } : {}) });
  return { ...outcome, events: sink.events, jobId };
}

/** Fails with the worker's own error when a job did not complete. */
export function expectCompleted(r: Ran): Ran {
  if (r.result.status !== 'completed') {
    const logs = r.events.filter((e) => e.type === 'log').slice(-15).map((e) => (e as { line: string }).line).join('\n');
    throw new Error(`job ${r.result.status}: ${JSON.stringify(r.result.error)}\n--- last FFmpeg lines ---\n${logs}`);
  }
  return r;
}

export interface SplitRan {
  plan: Ran;
  chunks: Ran[];
  /** The audio step, when the plan has one (it runs beside the chunks). */
  audio: Ran | undefined;
  merge: Ran | undefined;
  jobId: string;
}

/**
 * Runs a split job the way a runtime does, in-process: the plan stage, every chunk (at most
 * `concurrency` at once) and the audio beside them, then the merge. Stops at the first stage that
 * does not complete.
 */
export async function runSplit(storage: StorageRoot, spec: unknown, opts: { capacity?: number; concurrency?: number; tools?: Tools; encoderThreads?: number } = {}): Promise<SplitRan> {
  const jobId = randomUUID().slice(0, 8);
  const stage = async (split: NonNullable<Parameters<typeof runJob>[1]['split']>): Promise<Ran> => {
    const sink = new MemorySink();
    const outcome = await runJob(spec, { jobId, storage: new LocalStorage(storage.root), tools: opts.tools ?? toolsFromEnv(), sink, split, encoderThreads: opts.encoderThreads });
    return { ...outcome, events: sink.events, jobId };
  };
  const plan = await stage({ stage: 'plan', capacity: opts.capacity ?? 2 });
  if (plan.result.status !== 'completed') return { plan, chunks: [], audio: undefined, merge: undefined, jobId };
  const count = plan.result.chunking?.count ?? 1;
  const chunks: Ran[] = [];
  const queue = [...Array(count).keys()];
  const lanes = Array.from({ length: Math.min(opts.concurrency ?? count, count) }, async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) chunks[i] = await stage({ stage: 'chunk', index: i });
  });
  const [audio] = await Promise.all([plan.result.chunking?.audio ? stage({ stage: 'audio' }) : Promise.resolve(undefined), ...lanes]);
  if (chunks.some((c) => c.result.status !== 'completed') || (audio && audio.result.status !== 'completed')) return { plan, chunks, audio, merge: undefined, jobId };
  return { plan, chunks, audio, merge: await stage({ stage: 'merge' }), jobId };
}
