import { describe, expect, it } from 'vitest';
import type { MediaJobStatus, WorkerResult } from '../../crds/src/status.ts';
import { CancelAnnotation, parseResult, reconcile, type Observation, type ObservedJob, type ObservedPod } from '../../operator/src/reconcile.ts';

const now = '2026-11-27T10:00:00.000Z';

/** An observation builder in the manner of cert-manager's test builders. */
function obs(over: { status?: MediaJobStatus; annotations?: Record<string, string>; job?: ObservedJob; pods?: ObservedPod[]; admitted?: boolean; generation?: number } = {}): Observation {
  return {
    mediaJob: { name: 'mj-1', generation: over.generation ?? 1, annotations: over.annotations ?? {}, status: over.status ?? {} },
    job: over.job,
    pods: over.pods ?? [],
    admitted: over.admitted ?? true,
    now,
  };
}
const running: ObservedJob = { active: 1, failedPods: 0, conditions: [], startTime: '2026-11-27T09:59:00.000Z' };
const result = (r: Partial<WorkerResult>): string => JSON.stringify({ status: 'completed', outputs: [], processingSeconds: 1, ...r });

describe('reconcile', () => {
  it('creates a Job and moves to processing when admitted', () => {
    const d = reconcile(obs());
    expect(d.actions).toEqual([{ type: 'createJob' }]);
    expect(d.status).toMatchObject({ phase: 'processing', attempts: 1, startedAt: now, observedGeneration: 1 });
  });

  it('keeps a job queued, with a Ready=False Queued condition, while admission says wait', () => {
    const d = reconcile(obs({ admitted: false }));
    expect(d.actions).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'queued', queuedAt: now });
    expect(d.status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'Queued', observedGeneration: 1 });
  });

  it('changes nothing for a queued job already recorded as queued (idempotent)', () => {
    const first = reconcile(obs({ admitted: false }));
    const second = reconcile(obs({ admitted: false, status: first.status }));
    expect(second).toEqual({ status: undefined, actions: [] });
  });

  it('records completion with outputs and metrics from the termination message', () => {
    const outputs = [{ path: '/storage/o.mp4', role: 'media' as const, sizeBytes: 10 }];
    const d = reconcile(obs({ status: { phase: 'processing' }, job: { ...running, active: 0, conditions: [{ type: 'Complete', status: 'True' }] }, pods: [{ phase: 'Succeeded', terminated: { exitCode: 0, message: result({ outputs, metrics: { frames: 3 } }) } }] }));
    expect(d.status).toMatchObject({ phase: 'completed', progress: 100, outputs, metrics: { frames: 3 } });
    expect(d.status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'Completed' });
  });

  it('fails without retry when the pod failure policy ended the Job (invalid input)', () => {
    const error = { code: 'INVALID_INPUT', message: 'not a readable media file', retryable: false };
    const d = reconcile(obs({ status: { phase: 'processing' }, job: { ...running, active: 0, failedPods: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'PodFailurePolicy' }] }, pods: [{ phase: 'Failed', terminated: { exitCode: 65, message: result({ status: 'failed', error }) } }] }));
    expect(d.status).toMatchObject({ phase: 'failed', error, attempts: 1 });
  });

  it.each([
    { reason: 'BackoffLimitExceeded', code: 'PROCESSING_FAILED', retryable: true },
    { reason: 'DeadlineExceeded', code: 'TIMEOUT', retryable: true },
  ])('fails with $code when the Job failed with $reason and no result was written', ({ reason, code, retryable }) => {
    const d = reconcile(obs({ status: { phase: 'processing' }, job: { ...running, active: 0, failedPods: 3, conditions: [{ type: 'Failed', status: 'True', reason, message: 'm' }] } }));
    expect(d.status?.error).toMatchObject({ code, retryable });
    expect(d.status?.phase).toBe('failed');
  });

  it('counts attempts from failed pods and shows the last transient error while retrying', () => {
    const error = { code: 'PROCESSING_FAILED', message: 'FFmpeg was killed by SIGKILL', retryable: true };
    const d = reconcile(obs({ status: { phase: 'processing', attempts: 1 }, job: { ...running, failedPods: 1 }, pods: [{ phase: 'Failed', terminated: { exitCode: 75, message: result({ status: 'failed', error }) } }, { phase: 'Running' }] }));
    expect(d.status).toMatchObject({ phase: 'processing', attempts: 2, error });
  });

  it('cancels: final phase and a foreground delete of the Job', () => {
    const d = reconcile(obs({ status: { phase: 'processing' }, annotations: { [CancelAnnotation]: 'true' }, job: running }));
    expect(d.status).toMatchObject({ phase: 'cancelled', completedAt: now });
    expect(d.actions).toEqual([{ type: 'deleteJob', propagation: 'Foreground' }]);
  });

  it.each(['completed', 'failed', 'cancelled'] as const)('never changes the terminal phase %s, whatever the Job reports', (phase) => {
    const d = reconcile(obs({ status: { phase }, job: { ...running, active: 0, conditions: [{ type: 'Complete', status: 'True' }] }, pods: [{ phase: 'Succeeded', terminated: { exitCode: 0, message: result({}) } }] }));
    expect(d.status).toBeUndefined();
  });

  it('deletes a Job that still runs for a job already cancelled', () => {
    expect(reconcile(obs({ status: { phase: 'cancelled' }, job: running })).actions).toEqual([{ type: 'deleteJob', propagation: 'Foreground' }]);
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const prev: MediaJobStatus = { phase: 'queued', queuedAt: now, conditions: [{ type: 'Ready', status: 'False', reason: 'Queued', message: 'x', lastTransitionTime: '2026-01-01T00:00:00.000Z', observedGeneration: 1 }] };
    const d = reconcile(obs({ status: prev, admitted: false, generation: 2 }));
    expect(d.status?.conditions?.[0]?.lastTransitionTime).toBe('2026-01-01T00:00:00.000Z');
    expect(d.status?.observedGeneration).toBe(2);
  });
});

describe('parseResult', () => {
  it.each([
    ['not JSON', 'boom'],
    ['JSON without outputs', '{"status":"completed"}'],
    ['nothing', undefined],
  ])('ignores %s', (_name, message) => {
    expect(parseResult(message)).toBeUndefined();
  });
  it('reads a worker result', () => {
    expect(parseResult(result({}))?.status).toBe('completed');
  });
});
