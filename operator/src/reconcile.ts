// Pure reconcile decision for cluster mode, in the manner of controller-runtime: given what is
// observed now (the MediaJob, its Job and pods, whether admission lets it start), return the
// status the MediaJob should have and the actions to take. Level-triggered and idempotent:
// calling it twice with the same observation gives the same answer, and it never reads the event
// that woke it. Terminal phases are final.
import type { Condition, MediaJobStatus, Phase, WorkerResult } from '../../crds/src/status.ts';
import { isTerminal } from './phases.ts';

export const CancelAnnotation = 'kubeff.io/cancel-requested';

export interface ObservedMediaJob {
  name: string;
  generation: number;
  annotations: Record<string, string>;
  status: MediaJobStatus;
}

export interface ObservedJob {
  active: number;
  failedPods: number;
  /** Conditions of the batch/v1 Job (Complete, Failed with reason). */
  conditions: { type: string; status: string; reason?: string | undefined; message?: string | undefined }[];
  startTime?: string | undefined;
  /** Indexed Jobs: the finished indexes, as the Job controller writes them ("0,2-4"). */
  completedIndexes?: string | undefined;
  /** Being deleted (foreground deletion waits for its pods). */
  deleting?: boolean | undefined;
}

export interface ObservedPod {
  phase: string;
  /** The worker container's termination, when it has one. */
  terminated?: { exitCode: number; message?: string | undefined; finishedAt?: string | undefined } | undefined;
}

export interface Observation {
  mediaJob: ObservedMediaJob;
  job: ObservedJob | undefined;
  pods: ObservedPod[];
  /** Whether admission (priority, per-key and global limits) lets this job start now. */
  admitted: boolean;
  now: string;
}

export type Action = { type: 'createJob' } | { type: 'deleteJob'; propagation: 'Foreground' };

export interface Decision {
  /** The status to merge-patch; undefined when nothing changes. */
  status: MediaJobStatus | undefined;
  actions: Action[];
}

/** Pure: the worker's result from a pod's termination message, if it is one. */
export function parseResult(message: string | undefined): WorkerResult | undefined {
  if (!message) return undefined;
  try {
    const r = JSON.parse(message) as WorkerResult;
    return r && typeof r === 'object' && typeof r.status === 'string' && Array.isArray(r.outputs) ? r : undefined;
  } catch {
    return undefined;
  }
}

export function condition(type: string, ok: boolean, reason: string, message: string, o: Observation, prev: Condition[] | undefined): Condition {
  const status = ok ? 'True' : 'False';
  const before = prev?.find((c) => c.type === type);
  // lastTransitionTime moves only when the status flips (Kubernetes convention).
  const lastTransitionTime = before && before.status === status ? before.lastTransitionTime : o.now;
  return { type, status, reason, message, observedGeneration: o.mediaJob.generation, lastTransitionTime };
}

export function withPhase(o: Observation, phase: Phase, extra: Partial<MediaJobStatus>, ready: { ok: boolean; reason: string; message: string }): MediaJobStatus {
  const prev = o.mediaJob.status;
  const conditions = [condition('Ready', ready.ok, ready.reason, ready.message, o, prev.conditions)];
  return { ...prev, ...extra, phase, observedGeneration: o.mediaJob.generation, conditions };
}

export function latestResult(pods: readonly ObservedPod[]): WorkerResult | undefined {
  const done = pods.filter((p) => p.terminated).sort((a, b) => (a.terminated?.finishedAt ?? '').localeCompare(b.terminated?.finishedAt ?? ''));
  for (let i = done.length - 1; i >= 0; i--) {
    const r = parseResult(done[i]?.terminated?.message);
    if (r) return r;
  }
  return undefined;
}

export function reconcile(o: Observation): Decision {
  const mj = o.mediaJob;
  const phase = mj.status.phase ?? 'queued';
  const jobFinished = o.job?.conditions.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') ?? false;

  // 1. Terminal is final. A cancelled job whose Job still runs gets it deleted.
  if (isTerminal(phase)) {
    return { status: undefined, actions: phase === 'cancelled' && o.job && !jobFinished ? [{ type: 'deleteJob', propagation: 'Foreground' }] : [] };
  }

  // 2. Cancellation: foreground delete stops the pod (the worker gets SIGTERM and cleans up).
  if (mj.annotations[CancelAnnotation] === 'true') {
    const status = withPhase(o, 'cancelled', { stage: 'cancelled', completedAt: o.now, etaSeconds: 0 }, { ok: false, reason: 'Cancelled', message: 'cancelled on request' });
    return { status, actions: o.job ? [{ type: 'deleteJob', propagation: 'Foreground' }] : [] };
  }

  // 3. No Job yet: start it when admitted, else wait queued.
  if (!o.job) {
    if (!o.admitted) {
      if (phase === 'queued' && mj.status.observedGeneration === mj.generation && mj.status.queuedAt) return { status: undefined, actions: [] };
      return { status: withPhase(o, 'queued', { stage: 'queued', queuedAt: mj.status.queuedAt ?? o.now, progress: 0 }, { ok: false, reason: 'Queued', message: 'waiting for a free slot (priority, then age)' }), actions: [] };
    }
    // Deterministic Job name: if a stale cache hides an existing Job, create answers AlreadyExists.
    const status = withPhase(o, 'processing', { stage: 'starting', startedAt: mj.status.startedAt ?? o.now, attempts: Math.max(1, mj.status.attempts ?? 0) }, { ok: false, reason: 'Started', message: 'a Job was created for this MediaJob' });
    return { status, actions: [{ type: 'createJob' }] };
  }

  // 4. The Job finished: the result comes from the worker's termination message.
  const result = latestResult(o.pods);
  const complete = o.job.conditions.find((c) => c.type === 'Complete' && c.status === 'True');
  if (complete) {
    const status = withPhase(o, 'completed', {
      stage: 'completed', progress: 100, etaSeconds: 0, completedAt: o.now,
      outputs: result?.outputs ?? [],
      ...(result?.metrics ? { metrics: result.metrics } : {}),
      ...(result?.acceleration ? { acceleration: result.acceleration } : {}),
      ...(result?.verification ? { verification: result.verification } : {}),
      ...(result?.quality ? { quality: result.quality } : {}),
    }, { ok: true, reason: 'Completed', message: 'all outputs written' });
    return { status, actions: [] };
  }
  const failed = o.job.conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) {
    const error = result?.error ?? {
      code: failed.reason === 'DeadlineExceeded' ? 'TIMEOUT' : 'PROCESSING_FAILED',
      message: failed.message ?? failed.reason ?? 'the Job failed',
      retryable: failed.reason !== 'PodFailurePolicy',
    };
    const status = withPhase(o, 'failed', { stage: 'failed', completedAt: o.now, etaSeconds: 0, error, attempts: o.job.failedPods }, { ok: false, reason: failed.reason ?? 'Failed', message: error.message });
    return { status, actions: [] };
  }

  // 5. Running (or between attempts): attempts counts the pods so far.
  const attempts = o.job.failedPods + 1;
  if (phase === 'processing' && mj.status.attempts === attempts && mj.status.observedGeneration === mj.generation) return { status: undefined, actions: [] };
  const lastError = o.job.failedPods > 0 ? latestResult(o.pods)?.error : undefined;
  const status = withPhase(o, 'processing', {
    stage: mj.status.stage && mj.status.stage !== 'queued' ? mj.status.stage : 'starting',
    startedAt: mj.status.startedAt ?? o.job.startTime ?? o.now,
    attempts,
    ...(lastError ? { error: lastError } : {}),
  }, { ok: false, reason: 'Running', message: o.job.failedPods ? `attempt ${attempts} after ${o.job.failedPods} transient failure(s)` : 'the worker is running' });
  return { status, actions: [] };
}
