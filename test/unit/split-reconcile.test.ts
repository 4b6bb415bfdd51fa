import { describe, expect, it } from 'vitest';
import type { Chunking, MediaJobStatus, WorkerResult } from '../../crds/src/status.ts';
import { CancelAnnotation, type ObservedJob, type ObservedPod } from '../../operator/src/reconcile.ts';
import { countIndexes, indexSet, reconcileSplit, type ObservedStage, type SplitObservation, type SplitStageName } from '../../operator/src/split-reconcile.ts';

const now = '2026-12-06T10:00:00.000Z';
const chunking: Chunking = { count: 3, boundaries: [0, 4, 8, 12], onKeyframes: 1, parallelism: 3 };

function obs(over: { status?: MediaJobStatus; annotations?: Record<string, string>; stages?: Partial<Record<SplitStageName, ObservedStage>>; admitted?: boolean } = {}): SplitObservation {
  return {
    mediaJob: { name: 'mj-1', generation: 1, annotations: over.annotations ?? {}, status: over.status ?? {} },
    stages: over.stages ?? {},
    admitted: over.admitted ?? true,
    now,
  };
}
const result = (r: Partial<WorkerResult>): string => JSON.stringify({ status: 'completed', outputs: [], processingSeconds: 1, ...r });
const pod = (exitCode: number, message: string, finishedAt = '2026-12-06T09:59:00.000Z'): ObservedPod => ({ phase: exitCode === 0 ? 'Succeeded' : 'Failed', terminated: { exitCode, message, finishedAt } });
const job = (over: Partial<ObservedJob> = {}): ObservedJob => ({ active: 1, failedPods: 0, conditions: [], ...over });
const complete = (over: Partial<ObservedJob> = {}): ObservedJob => job({ active: 0, conditions: [{ type: 'Complete', status: 'True' }], ...over });
const failed = (reason: string, over: Partial<ObservedJob> = {}): ObservedJob => job({ active: 0, conditions: [{ type: 'Failed', status: 'True', reason, message: `failed: ${reason}` }], ...over });
const processing: MediaJobStatus = { phase: 'processing', startedAt: '2026-12-06T09:58:00.000Z', attempts: 1, observedGeneration: 1, workFilesRemoved: false };

describe('countIndexes and indexSet', () => {
  it.each([
    { list: undefined, n: 0, set: [] },
    { list: '', n: 0, set: [] },
    { list: '0', n: 1, set: [0] },
    { list: '0,2-4', n: 4, set: [0, 2, 3, 4] },
    { list: '1-2,5,7-8', n: 5, set: [1, 2, 5, 7, 8] },
  ])('reads "$list" as $n indexes', ({ list, n, set }) => {
    expect(countIndexes(list)).toBe(n);
    expect([...indexSet(list)]).toEqual(set);
  });
});

describe('reconcileSplit: the pipeline of stage Jobs', () => {
  it('plans first: creates the plan Job when admitted, and marks the working folder as not yet removed', () => {
    const d = reconcileSplit(obs());
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'plan' }]);
    expect(d.status).toMatchObject({ phase: 'processing', stage: 'planning', attempts: 1, startedAt: now, workFilesRemoved: false });
  });

  it('keeps a job queued without creating anything while admission says wait', () => {
    const d = reconcileSplit(obs({ admitted: false }));
    expect(d.actions).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'queued', queuedAt: now });
  });

  it('creates ONE Indexed chunks Job with the plan\'s count and parallelism when the plan completes', () => {
    const d = reconcileSplit(obs({ status: processing, stages: { plan: { job: complete(), pods: [pod(0, result({ chunking }))] } } }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'chunks', chunks: { count: 3, parallelism: 3 } }]);
    expect(d.status).toMatchObject({ phase: 'processing', stage: 'encoding chunks', chunking, chunks: { total: 3, completed: 0, failed: 0 } });
  });

  it('runs the job whole when the plan made one chunk ("auto" on a short input); nothing is left to clean', () => {
    const one: Chunking = { count: 1, boundaries: [0, 30] };
    const d = reconcileSplit(obs({ status: processing, stages: { plan: { job: complete(), pods: [pod(0, result({ chunking: one }))] } } }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'whole' }]);
    expect(d.status).toMatchObject({ chunking: one, workFilesRemoved: true });
  });

  it('fails when the plan step completed without a plan (never a job that completes with nothing)', () => {
    const d = reconcileSplit(obs({ status: processing, stages: { plan: { job: complete(), pods: [] } } }));
    expect(d.actions).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'failed', error: { code: 'PROCESSING_FAILED' } });
  });

  it('fails with the worker\'s own error when the plan fails on invalid input', () => {
    const error = { code: 'INVALID_INPUT', message: 'not a readable media file', field: 'input.path', retryable: false };
    const d = reconcileSplit(obs({ status: processing, stages: { plan: { job: failed('PodFailurePolicy', { failedPods: 1 }), pods: [pod(65, result({ status: 'failed', error }))] } } }));
    expect(d.status).toMatchObject({ phase: 'failed', error: { code: 'INVALID_INPUT', field: 'input.path', retryable: false, message: 'the plan step: not a readable media file' } });
  });

  it('counts finished and failed chunks from the Indexed Job while it runs', () => {
    const status = { ...processing, stage: 'encoding chunks', chunking, chunks: { total: 3, completed: 0, failed: 0 } };
    const d = reconcileSplit(obs({ status, stages: { plan: { job: complete(), pods: [] }, chunks: { job: job({ active: 2, failedPods: 1, completedIndexes: '0,2' }), pods: [] } } }));
    expect(d.actions).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'processing', chunks: { total: 3, completed: 2, failed: 1 } });
    // The same observation again changes nothing.
    const again = reconcileSplit(obs({ status: d.status, stages: { chunks: { job: job({ active: 2, failedPods: 1, completedIndexes: '0,2' }), pods: [] } } }));
    expect(again).toEqual({ status: undefined, actions: [] });
  });

  it('starts the merge when every chunk is encoded', () => {
    const status = { ...processing, chunking, chunks: { total: 3, completed: 2, failed: 0 } };
    const d = reconcileSplit(obs({ status, stages: { plan: { job: complete(), pods: [] }, chunks: { job: complete({ completedIndexes: '0-2' }), pods: [] } } }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'merge' }]);
    expect(d.status).toMatchObject({ stage: 'stitching', chunks: { total: 3, completed: 3 } });
  });

  it('fails the job when a chunk fails for good, naming the chunk\'s error', () => {
    const error = { code: 'PROCESSING_FAILED', message: 'FFmpeg exited with 1', retryable: true };
    const status = { ...processing, chunking, chunks: { total: 3, completed: 1, failed: 0 } };
    const pods = [pod(1, result({ status: 'failed', error }), '2026-12-06T09:59:10.000Z'), pod(0, result({}), '2026-12-06T09:59:20.000Z')];
    const d = reconcileSplit(obs({ status, stages: { chunks: { job: failed('FailedIndexes', { failedPods: 3, completedIndexes: '1' }), pods } } }));
    expect(d.status).toMatchObject({ phase: 'failed', error: { code: 'PROCESSING_FAILED', message: 'a chunk: FFmpeg exited with 1' }, chunks: { failed: 3 } });
  });

  it('completes with the merge\'s outputs and account of the chunks; the merge removed the folder', () => {
    const outputs = [{ path: '/storage/o.mp4', role: 'media' as const, sizeBytes: 10 }];
    const full = { ...chunking, encodeSeconds: [1.5, 1.2, 1.4] };
    const status = { ...processing, stage: 'stitching', chunking, chunks: { total: 3, completed: 3, failed: 1 } };
    const d = reconcileSplit(obs({ status, stages: { chunks: { job: complete({ completedIndexes: '0-2', failedPods: 1 }), pods: [] }, merge: { job: complete(), pods: [pod(0, result({ outputs, chunking: full }))] } } }));
    expect(d.actions).toEqual([]);
    expect(d.status).toMatchObject({ phase: 'completed', progress: 100, outputs, chunking: full, chunks: { total: 3, completed: 3, failed: 1 }, workFilesRemoved: true });
  });

  it('goes on from the status after a stage Job vanished: planned before, the chunks are created again', () => {
    const d = reconcileSplit(obs({ status: { ...processing, chunking }, admitted: false }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'chunks', chunks: { count: 3, parallelism: 3 } }]);
  });

  it('completes a job run whole with the whole Job\'s outputs', () => {
    const outputs = [{ path: '/storage/o.mp4', role: 'media' as const, sizeBytes: 10 }];
    const d = reconcileSplit(obs({ status: { ...processing, workFilesRemoved: true, chunking: { count: 1, boundaries: [0, 30] } }, stages: { plan: { job: complete(), pods: [] }, whole: { job: complete(), pods: [pod(0, result({ outputs }))] } } }));
    expect(d.status).toMatchObject({ phase: 'completed', outputs });
  });
});

describe('reconcileSplit: the audio beside the chunks', () => {
  const withAudio: Chunking = { ...chunking, audio: true };
  const status = { ...processing, chunking: withAudio, chunks: { total: 3, completed: 0, failed: 0 } };

  it('creates the audio Job together with the chunks when the plan has audio to encode', () => {
    const d = reconcileSplit(obs({ status: processing, stages: { plan: { job: complete(), pods: [pod(0, result({ chunking: withAudio }))] } } }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'chunks', chunks: { count: 3, parallelism: 3 } }, { type: 'createJob', stage: 'audio' }]);
  });

  it('waits for the audio before the merge, and merges once both are done', () => {
    const waiting = reconcileSplit(obs({ status, stages: { chunks: { job: complete({ completedIndexes: '0-2' }), pods: [] }, audio: { job: job(), pods: [] } } }));
    expect(waiting.actions).toEqual([]);
    expect(waiting.status).toMatchObject({ stage: 'encoding audio', chunks: { completed: 3 } });
    const both = reconcileSplit(obs({ status: waiting.status, stages: { chunks: { job: complete({ completedIndexes: '0-2' }), pods: [] }, audio: { job: complete(), pods: [] } } }));
    expect(both.actions).toEqual([{ type: 'createJob', stage: 'merge' }]);
  });

  it('creates the audio Job again when it vanished while the chunks ran (a restart between the two creates)', () => {
    const d = reconcileSplit(obs({ status, stages: { chunks: { job: job(), pods: [] } } }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'audio' }]);
  });

  it('fails the job when the audio fails for good', () => {
    const error = { code: 'INVALID_INPUT', message: 'audio is silent or too short to measure its loudness', field: 'output.audio.normalize', retryable: false };
    const d = reconcileSplit(obs({ status, stages: { chunks: { job: job(), pods: [] }, audio: { job: failed('PodFailurePolicy', { failedPods: 1 }), pods: [pod(65, result({ status: 'failed', error }))] } } }));
    expect(d.status).toMatchObject({ phase: 'failed', error: { code: 'INVALID_INPUT', field: 'output.audio.normalize', message: 'the audio: audio is silent or too short to measure its loudness' } });
  });

  it('stops the audio with the chunks when cancelled', () => {
    const d = reconcileSplit(obs({ status, annotations: { [CancelAnnotation]: 'true' }, stages: { chunks: { job: job(), pods: [] }, audio: { job: job(), pods: [] } } }));
    expect(d.actions).toEqual([{ type: 'deleteJob', stage: 'chunks', propagation: 'Foreground' }, { type: 'deleteJob', stage: 'audio', propagation: 'Foreground' }]);
  });
});

describe('reconcileSplit: cancellation and the working folder', () => {
  it('cancels by deleting every stage that still runs, foreground', () => {
    const d = reconcileSplit(obs({ status: { ...processing, chunking }, annotations: { [CancelAnnotation]: 'true' }, stages: { plan: { job: complete(), pods: [] }, chunks: { job: job({ active: 3 }), pods: [] } } }));
    expect(d.status).toMatchObject({ phase: 'cancelled' });
    expect(d.actions).toEqual([{ type: 'deleteJob', stage: 'chunks', propagation: 'Foreground' }]);
  });

  it('waits for stage pods to be gone before removing the folder (nothing may write to it after)', () => {
    const d = reconcileSplit(obs({ status: { ...processing, phase: 'cancelled' }, stages: { chunks: { job: job({ active: 2, deleting: true }), pods: [] } } }));
    expect(d).toEqual({ status: undefined, actions: [] });
  });

  it('creates the cleanup Job once every stage has stopped', () => {
    const d = reconcileSplit(obs({ status: { ...processing, phase: 'failed' }, stages: { plan: { job: complete(), pods: [] }, chunks: { job: failed('FailedIndexes'), pods: [] } } }));
    expect(d.actions).toEqual([{ type: 'createJob', stage: 'cleanup' }]);
  });

  it('records the folder as removed when the cleanup Job completes, and then does nothing more', () => {
    const done = reconcileSplit(obs({ status: { ...processing, phase: 'cancelled' }, stages: { cleanup: { job: complete(), pods: [] } } }));
    expect(done.status).toMatchObject({ phase: 'cancelled', workFilesRemoved: true });
    expect(reconcileSplit(obs({ status: done.status, stages: { cleanup: { job: complete(), pods: [] } } }))).toEqual({ status: undefined, actions: [] });
  });

  it('has nothing to clean for a job cancelled before it started', () => {
    expect(reconcileSplit(obs({ status: { phase: 'cancelled' } }))).toEqual({ status: undefined, actions: [] });
  });

  it('stops a stage still running after the job became terminal (a stale stage Job)', () => {
    const d = reconcileSplit(obs({ status: { ...processing, phase: 'cancelled' }, stages: { merge: { job: job(), pods: [] } } }));
    expect(d.actions).toEqual([{ type: 'deleteJob', stage: 'merge', propagation: 'Foreground' }]);
  });
});
