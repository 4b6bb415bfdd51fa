import { describe, expect, it } from 'vitest';
import { parseProgress, shouldSend } from '../../operator/src/kube/progress.ts';

describe('parseProgress', () => {
  it('reads namespace, name and the numbers of a worker progress event', () => {
    expect(parseProgress('kubeff.jobs.media.job-1.progress', { type: 'progress', percentage: 42.5, stage: 'encoding', fps: 30, speed: 1.5, etaSeconds: 12 })).toEqual({
      namespace: 'media', name: 'job-1', percentage: 42.5, stage: 'encoding', fps: 30, speed: 1.5, etaSeconds: 12,
    });
  });
  it.each([
    ['another subject', 'kubeff.jobs.media.job-1.log', { type: 'progress', percentage: 1 }],
    ['a non-progress event', 'kubeff.jobs.media.job-1.progress', { type: 'log', line: 'x' }],
    ['a percentage that is not a number', 'kubeff.jobs.media.job-1.progress', { type: 'progress', percentage: '50' }],
    ['null', 'kubeff.jobs.media.job-1.progress', null],
  ])('ignores %s', (_n, subject, data) => {
    expect(parseProgress(subject, data)).toBeUndefined();
  });
  it('clamps the percentage and drops non-finite numbers', () => {
    expect(parseProgress('kubeff.jobs.a.b.progress', { type: 'progress', percentage: 140, fps: Infinity })).toMatchObject({ percentage: 100, fps: undefined });
  });
});

describe('shouldSend', () => {
  it.each([
    { last: undefined, now: 0, final: false, ok: true },
    { last: 0, now: 500, final: false, ok: false },
    { last: 0, now: 2000, final: false, ok: true },
    { last: 0, now: 10, final: true, ok: true },
  ])('last=$last now=$now final=$final -> $ok', ({ last, now, final, ok }) => {
    expect(shouldSend(last, now, 2000, final)).toBe(ok);
  });
});
