import { describe, expect, it } from 'vitest';
import { chunkSecondsOf, parseStageProgress, SplitProgressBook } from '../../operator/src/split.ts';
import { subjectFor } from '../../worker-image/src/nats-sink.ts';

const time = '2026-12-06T10:00:00.000Z';
const ctx = (over: Partial<Parameters<SplitProgressBook['update']>[2]> = {}) => ({
  chunkSeconds: [10, 10, 20], completed: new Set<number>(), failed: 0, nowMs: 1000, time, minIntervalMs: 500, ...over,
});

describe('subjectFor: where a worker publishes', () => {
  const progress = { type: 'progress' as const, time, stage: 'encoding', percentage: 50 };
  it.each([
    { name: 'a whole job\'s progress goes to .progress', event: progress, split: undefined, subject: 'kubeff.jobs.media.j1.progress' },
    { name: 'a split stage\'s progress goes to .split (only the operator reads it)', event: progress, split: { stage: 'chunk' as const, index: 2 }, subject: 'kubeff.jobs.media.j1.split' },
    { name: 'log lines go to .log either way', event: { type: 'log' as const, time, line: '[chunk 2] frame=1' }, split: { stage: 'chunk' as const, index: 2 }, subject: 'kubeff.jobs.media.j1.log' },
    { name: 'lifecycle notes go to .event', event: { type: 'started' as const, time }, split: undefined, subject: 'kubeff.jobs.media.j1.event' },
  ])('$name', ({ event, split, subject }) => {
    expect(subjectFor('media', 'j1', event, split)).toBe(subject);
  });
});

describe('parseStageProgress', () => {
  it.each([
    { name: 'a chunk\'s progress', data: { type: 'progress', percentage: 40, splitStage: 'chunk', chunk: 1, speed: 2 }, ok: true },
    { name: 'the merge\'s progress', data: { type: 'progress', percentage: 40, splitStage: 'merge' }, ok: true },
    { name: 'a chunk without its index', data: { type: 'progress', percentage: 40, splitStage: 'chunk' }, ok: false },
    { name: 'a negative index', data: { type: 'progress', percentage: 40, splitStage: 'chunk', chunk: -1 }, ok: false },
    { name: 'an unknown stage', data: { type: 'progress', percentage: 40, splitStage: 'encode' }, ok: false },
    { name: 'no percentage', data: { type: 'progress', splitStage: 'merge' }, ok: false },
    { name: 'a log line', data: { type: 'log', line: 'x' }, ok: false },
    { name: 'not an object', data: 'progress', ok: false },
  ])('accepts $name: $ok', ({ data, ok }) => {
    expect(parseStageProgress(data) !== undefined).toBe(ok);
  });

  it('clamps the percentage to 0..100', () => {
    expect(parseStageProgress({ type: 'progress', percentage: 140, splitStage: 'merge' })?.percentage).toBe(100);
  });
});

describe('SplitProgressBook', () => {
  it('adds chunks up weighted by their length, with their speeds summed and an ETA', () => {
    const book = new SplitProgressBook();
    book.update('ns/j', { splitStage: 'chunk', chunk: 0, percentage: 50, speed: 2 }, ctx({ nowMs: 0 }));
    const e = book.update('ns/j', { splitStage: 'chunk', chunk: 2, percentage: 50, speed: 1 }, ctx({ nowMs: 1000 }));
    // 5 s of chunk 0 and 10 s of chunk 2 done out of 40 s: 37.5 % of the chunks' 90 % share, plus 2 % for the plan.
    expect(e).toMatchObject({ type: 'progress', stage: 'encoding chunks', percentage: 35.8, speed: 3, chunks: { total: 3, completed: 0, failed: 0 } });
    expect(e?.etaSeconds).toBeCloseTo(25 / 3, 1);
  });

  it('counts chunks the Job reports finished as 100 % even without their last event', () => {
    const book = new SplitProgressBook();
    const e = book.update('ns/j', { splitStage: 'chunk', chunk: 2, percentage: 0 }, ctx({ completed: new Set([0, 1]), failed: 1 }));
    expect(e?.percentage).toBe(47);
    expect(e?.chunks).toEqual({ total: 3, completed: 2, failed: 1 });
  });

  it('sends at most one event per interval, but always the first of the merge', () => {
    const book = new SplitProgressBook();
    expect(book.update('ns/j', { splitStage: 'chunk', chunk: 0, percentage: 10 }, ctx({ nowMs: 1000 }))).toBeDefined();
    expect(book.update('ns/j', { splitStage: 'chunk', chunk: 0, percentage: 20 }, ctx({ nowMs: 1200 }))).toBeUndefined();
    const merge = book.update('ns/j', { splitStage: 'merge', percentage: 50, stage: 'stitching' }, ctx({ nowMs: 1300 }));
    expect(merge).toMatchObject({ stage: 'stitching', percentage: 96, chunks: { completed: 3 } });
  });

  it('never reports 100 before the job is completed, and ignores plan and cleanup stages', () => {
    const book = new SplitProgressBook();
    expect(book.update('ns/j', { splitStage: 'merge', percentage: 100 }, ctx())?.percentage).toBe(99.9);
    expect(book.update('ns/k', { splitStage: 'plan', percentage: 50 }, ctx())).toBeUndefined();
    expect(book.update('ns/k', { splitStage: 'cleanup', percentage: 50 }, ctx())).toBeUndefined();
  });

  it('reads each chunk\'s seconds from the plan\'s boundaries', () => {
    const seconds = chunkSecondsOf([0, 4.02, 8, 12.5]);
    expect(seconds).toHaveLength(3);
    [4.02, 3.98, 4.5].forEach((s, i) => expect(seconds[i]).toBeCloseTo(s, 9));
  });
});
