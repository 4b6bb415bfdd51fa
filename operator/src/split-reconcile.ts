// Pure reconcile decision for a split MediaJob in cluster mode. The operator drives a small
// pipeline of Jobs, one per stage, each created when the one before it has completed:
//
//   <name>-plan     one pod: probe, list the frames, cut           -> chunking (termination message)
//   <name>-chunks   ONE Indexed Job, a pod per chunk (completion index = chunk), retried per index
//   <name>-audio    one pod beside the chunks: the audio, encoded once over the whole input
//   <name>-merge    one pod: concatenate, copy the audio in, publish, remove the working folder
//   <name>          the whole job as one pod, when the plan made a single chunk
//   <name>-cleanup  one pod: remove the working folder of a job that failed or was cancelled
//
// Like reconcile.ts, it reads only what is observed now (the MediaJob and the Jobs that exist) and
// the status written before, so a restarted operator takes up the pipeline where it stands and
// creates nothing twice (Job names are deterministic: a second create answers AlreadyExists).
import type { Chunking, ChunkCounts, JobError, MediaJobStatus, WorkerResult } from '../../crds/src/status.ts';
import { isTerminal } from './phases.ts';
import { CancelAnnotation, parseResult, withPhase, type Observation, type ObservedJob, type ObservedMediaJob, type ObservedPod } from './reconcile.ts';

export type SplitStageName = 'plan' | 'chunks' | 'audio' | 'merge' | 'whole' | 'cleanup';
/** The stages that work on the job (everything but the cleanup). */
export const WorkStages = ['plan', 'chunks', 'audio', 'merge', 'whole'] as const;

export interface ObservedStage {
  job: ObservedJob;
  pods: ObservedPod[];
}

export interface SplitObservation {
  mediaJob: ObservedMediaJob;
  stages: Partial<Record<SplitStageName, ObservedStage>>;
  admitted: boolean;
  now: string;
}

export type SplitAction =
  | { type: 'createJob'; stage: SplitStageName; chunks?: { count: number; parallelism: number } }
  | { type: 'deleteJob'; stage: SplitStageName; propagation: 'Foreground' };

export interface SplitDecision {
  status: MediaJobStatus | undefined;
  actions: SplitAction[];
}

/** Pure: how many indexes a Job's `completedIndexes` names ("0,2-4" is 4). */
export function countIndexes(list: string | undefined): number {
  if (!list) return 0;
  let n = 0;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    n += m[2] === undefined ? 1 : Number(m[2]) - Number(m[1]) + 1;
  }
  return n;
}

/** Pure: the indexes a Job's `completedIndexes` names, as a set. */
export function indexSet(list: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const part of (list ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b && i - a < 100_000; i++) out.add(i);
  }
  return out;
}

function outcome(job: ObservedJob): 'complete' | 'failed' | undefined {
  if (job.conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return 'complete';
  if (job.conditions.some((c) => c.type === 'Failed' && c.status === 'True')) return 'failed';
  return undefined;
}

/** The newest result among the pods, of the kind wanted. */
function newest(pods: readonly ObservedPod[], pick: (r: WorkerResult) => boolean): WorkerResult | undefined {
  const done = pods.filter((p) => p.terminated).sort((a, b) => (a.terminated?.finishedAt ?? '').localeCompare(b.terminated?.finishedAt ?? ''));
  for (let i = done.length - 1; i >= 0; i--) {
    const r = parseResult(done[i]?.terminated?.message);
    if (r && pick(r)) return r;
  }
  return undefined;
}

/** Why a stage's Job failed: the worker's own error when a pod reported one. */
function stageError(stage: SplitStageName, s: ObservedStage): JobError {
  const reported = newest(s.pods, (r) => r.status === 'failed' && r.error !== undefined)?.error;
  const failed = s.job.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  const where = stage === 'chunks' ? 'a chunk' : stage === 'whole' ? '' : stage === 'audio' ? 'the audio' : `the ${stage} step`;
  const error: JobError = reported ?? {
    code: failed?.reason === 'DeadlineExceeded' ? 'TIMEOUT' : 'PROCESSING_FAILED',
    message: failed?.message ?? failed?.reason ?? 'the Job failed',
    retryable: failed?.reason !== 'PodFailurePolicy' && failed?.reason !== 'FailedIndexes',
  };
  return where ? { ...error, message: `${where}: ${error.message}` } : error;
}

function counts(chunking: Chunking | undefined, s: ObservedStage | undefined, prev: ChunkCounts | undefined, allDone = false): ChunkCounts {
  const total = chunking?.count ?? prev?.total ?? 0;
  return {
    total,
    completed: allDone ? total : Math.max(countIndexes(s?.job.completedIndexes), 0),
    failed: Math.max(s?.job.failedPods ?? 0, prev?.failed ?? 0),
  };
}

export function reconcileSplit(o: SplitObservation): SplitDecision {
  const mj = o.mediaJob;
  const prev = mj.status;
  const phase = prev.phase ?? 'queued';
  const st = o.stages;
  // withPhase needs the plain observation's shape; only mediaJob and now are read.
  const obs = { mediaJob: mj, now: o.now } as Observation;

  // 1. Terminal is final; what is left is stopping stray pods and removing the working folder.
  if (isTerminal(phase)) return settle(o);

  // 2. Cancellation: every stage still running is deleted (foreground: its pods stop first).
  if (mj.annotations[CancelAnnotation] === 'true') {
    const status = withPhase(obs, 'cancelled', { stage: 'cancelled', completedAt: o.now, etaSeconds: 0 }, { ok: false, reason: 'Cancelled', message: 'cancelled on request' });
    return { status, actions: stopRunning(o) };
  }

  const running = (extra: Partial<MediaJobStatus>, message: string): MediaJobStatus =>
    withPhase(obs, 'processing', { startedAt: prev.startedAt ?? o.now, ...extra }, { ok: false, reason: 'Running', message });
  const fail = (stage: SplitStageName, s: ObservedStage, extra: Partial<MediaJobStatus> = {}): SplitDecision => {
    const error = stageError(stage, s);
    const failed = s.job.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    return { status: withPhase(obs, 'failed', { stage: 'failed', completedAt: o.now, etaSeconds: 0, error, ...extra }, { ok: false, reason: failed?.reason ?? 'Failed', message: error.message }), actions: [] };
  };
  const unchanged = (want: Partial<MediaJobStatus>): boolean =>
    phase === 'processing' && prev.observedGeneration === mj.generation && Object.entries(want).every(([k, v]) => JSON.stringify(prev[k as keyof MediaJobStatus]) === JSON.stringify(v));

  // 3. The merge: the last stage. Its result is the job's.
  const merge = st.merge;
  if (merge) {
    const done = outcome(merge.job);
    const chunking = prev.chunking;
    if (done === 'complete') {
      const result = newest(merge.pods, (r) => r.status === 'completed');
      const status = withPhase(obs, 'completed', {
        stage: 'completed', progress: 100, etaSeconds: 0, completedAt: o.now, outputs: result?.outputs ?? [],
        ...(result?.metrics ? { metrics: result.metrics } : {}),
        ...(result?.acceleration ? { acceleration: result.acceleration } : {}),
        ...(result?.verification ? { verification: result.verification } : {}),
        ...(result?.quality ? { quality: result.quality } : {}),
        ...(result?.chunking ?? chunking ? { chunking: result?.chunking ?? chunking } : {}),
        chunks: counts(chunking, st.chunks, prev.chunks, true),
        // The merge removes the working folder once the output is published.
        workFilesRemoved: true,
      }, { ok: true, reason: 'Completed', message: 'all chunks encoded and stitched' });
      return { status, actions: [] };
    }
    if (done === 'failed') return fail('merge', merge);
    const want = { stage: 'stitching', attempts: merge.job.failedPods + 1 };
    return { status: unchanged(want) ? undefined : running(want, 'stitching the chunks'), actions: [] };
  }

  // 4. The chunks: one Indexed Job; when every index is done the merge starts.
  const chunks = st.chunks;
  const plan = st.plan;
  const planned = prev.chunking ?? (plan ? newest(plan.pods, (r) => r.status === 'completed')?.chunking : undefined);
  if (chunks) {
    const done = outcome(chunks.job);
    const audio = st.audio;
    const audioDone = audio ? outcome(audio.job) : undefined;
    if (audio && audioDone === 'failed') return fail('audio', audio, { chunks: counts(planned, chunks, prev.chunks) });
    // The audio Job goes with the chunks; made again if it vanished (a restart between the two creates).
    const audioMissing: SplitAction[] = planned?.audio && !audio ? [{ type: 'createJob', stage: 'audio' }] : [];
    if (done === 'complete') {
      if (planned?.audio && audioDone !== 'complete') {
        const want = { stage: 'encoding audio', chunks: counts(planned, chunks, prev.chunks, true) };
        return { status: unchanged(want) ? undefined : running(want, 'every chunk is encoded; the audio is not yet'), actions: audioMissing };
      }
      const status = running({ stage: 'stitching', chunks: counts(planned, chunks, prev.chunks, true), ...(planned ? { chunking: planned } : {}) }, 'every chunk is encoded; stitching');
      return { status, actions: [{ type: 'createJob', stage: 'merge' }] };
    }
    if (done === 'failed') return fail('chunks', chunks, { chunks: counts(planned, chunks, prev.chunks) });
    const want = { stage: 'encoding chunks', chunks: counts(planned, chunks, prev.chunks), attempts: 1 };
    if (unchanged(want) && (prev.chunking || !planned)) return { status: undefined, actions: audioMissing };
    return { status: running({ ...want, ...(planned ? { chunking: planned } : {}) }, `encoding ${want.chunks.total} chunks`), actions: audioMissing };
  }

  // 5. One chunk after all: the job runs whole, like any other.
  const whole = st.whole;
  if (whole) {
    const done = outcome(whole.job);
    if (done === 'complete') {
      const result = newest(whole.pods, (r) => r.status === 'completed');
      const status = withPhase(obs, 'completed', {
        stage: 'completed', progress: 100, etaSeconds: 0, completedAt: o.now, outputs: result?.outputs ?? [],
        ...(result?.metrics ? { metrics: result.metrics } : {}),
        ...(result?.acceleration ? { acceleration: result.acceleration } : {}),
        ...(result?.verification ? { verification: result.verification } : {}),
        ...(result?.quality ? { quality: result.quality } : {}),
      }, { ok: true, reason: 'Completed', message: 'all outputs written' });
      return { status, actions: [] };
    }
    if (done === 'failed') return fail('whole', whole, { attempts: whole.job.failedPods });
    const attempts = whole.job.failedPods + 1;
    if (unchanged({ attempts })) return { status: undefined, actions: [] };
    return { status: running({ attempts, stage: prev.stage && prev.stage !== 'planning' ? prev.stage : 'starting' }, 'the worker is running'), actions: [] };
  }

  // 6. The plan: its result says how the job is cut.
  if (plan) {
    const done = outcome(plan.job);
    if (done === 'complete') {
      if (!planned) {
        const error: JobError = { code: 'PROCESSING_FAILED', message: 'the plan step completed without a plan', retryable: true };
        return { status: withPhase(obs, 'failed', { stage: 'failed', completedAt: o.now, etaSeconds: 0, error }, { ok: false, reason: 'NoPlan', message: error.message }), actions: [] };
      }
      return startAfterPlan(o, planned, running);
    }
    if (done === 'failed') return fail('plan', plan, { attempts: plan.job.failedPods });
    const want = { stage: 'planning', attempts: plan.job.failedPods + 1 };
    return { status: unchanged(want) ? undefined : running(want, 'planning the chunks'), actions: [] };
  }

  // 7. No stage Job: planned before (a stage Job was deleted by hand) or not started yet.
  if (prev.chunking && prev.startedAt) return startAfterPlan(o, prev.chunking, running);
  if (!o.admitted) {
    if (phase === 'queued' && prev.observedGeneration === mj.generation && prev.queuedAt) return { status: undefined, actions: [] };
    return { status: withPhase(obs, 'queued', { stage: 'queued', queuedAt: prev.queuedAt ?? o.now, progress: 0 }, { ok: false, reason: 'Queued', message: 'waiting for a free slot (priority, then age)' }), actions: [] };
  }
  const status = withPhase(obs, 'processing', { stage: 'planning', startedAt: prev.startedAt ?? o.now, attempts: 1, workFilesRemoved: false }, { ok: false, reason: 'Started', message: 'planning the chunks of a split job' });
  return { status, actions: [{ type: 'createJob', stage: 'plan' }] };
}

function startAfterPlan(o: SplitObservation, chunking: Chunking, running: (extra: Partial<MediaJobStatus>, message: string) => MediaJobStatus): SplitDecision {
  if (chunking.count <= 1) {
    // The plan step removed its folder: nothing is left to clean up.
    return { status: running({ stage: 'starting', chunking, workFilesRemoved: true }, 'one chunk: the job runs whole'), actions: [{ type: 'createJob', stage: 'whole' }] };
  }
  const status = running({ stage: 'encoding chunks', chunking, chunks: { total: chunking.count, completed: 0, failed: o.mediaJob.status.chunks?.failed ?? 0 } }, `encoding ${chunking.count} chunks`);
  const actions: SplitAction[] = [{ type: 'createJob', stage: 'chunks', chunks: { count: chunking.count, parallelism: Math.max(1, chunking.parallelism ?? chunking.count) } }];
  if (chunking.audio) actions.push({ type: 'createJob', stage: 'audio' });
  return { status, actions };
}

/** Deletes every work stage whose Job still runs. */
function stopRunning(o: SplitObservation): SplitAction[] {
  const out: SplitAction[] = [];
  for (const name of WorkStages) {
    const s = o.stages[name];
    if (s && !s.job.deleting && outcome(s.job) === undefined) out.push({ type: 'deleteJob', stage: name, propagation: 'Foreground' });
  }
  return out;
}

/**
 * A finished split job: stray stages are stopped, then (failed or cancelled with a working
 * folder) a cleanup Job removes the folder once no stage pod can write to it any more.
 */
function settle(o: SplitObservation): SplitDecision {
  const actions = stopRunning(o);
  if (o.mediaJob.status.workFilesRemoved !== false) return { status: undefined, actions };
  const busy = WorkStages.some((name) => {
    const s = o.stages[name];
    return s !== undefined && (s.job.deleting || outcome(s.job) === undefined || s.job.active > 0);
  });
  if (busy) return { status: undefined, actions };
  const cleanup = o.stages.cleanup;
  if (!cleanup) return { status: undefined, actions: [...actions, { type: 'createJob', stage: 'cleanup' }] };
  if (outcome(cleanup.job) === 'complete') return { status: { ...o.mediaJob.status, workFilesRemoved: true }, actions };
  return { status: undefined, actions };
}
