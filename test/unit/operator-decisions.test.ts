import { describe, expect, it } from 'vitest';
import { admit, queueOrder, type QueuedJob } from '../../operator/src/admission.ts';
import { canTransition, isTerminal } from '../../operator/src/phases.ts';
import { afterExit, type RetryPolicy } from '../../operator/src/retry.ts';
import type { Phase } from '../../crds/src/status.ts';

const job = (id: string, owner: string, priority: QueuedJob['priority'], minute: number): QueuedJob => ({
  id,
  owner,
  priority,
  createdAt: `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`,
});
const limits = (global: number, perOwner: number) => ({ global, perOwner: () => perOwner });

describe('admit', () => {
  it('starts high before normal before low, and older before newer within a priority', () => {
    const q = [job('n2', 'a', 'normal', 2), job('l1', 'a', 'low', 1), job('h3', 'a', 'high', 3), job('n1', 'a', 'normal', 1)];
    expect(admit(q, [], limits(10, 10))).toEqual(['h3', 'n1', 'n2', 'l1']);
  });

  it('keeps the third job of an owner queued when the per-owner limit is 2', () => {
    const q = [job('1', 'a', 'normal', 1), job('2', 'a', 'normal', 2), job('3', 'a', 'normal', 3)];
    expect(admit(q, [], limits(10, 2))).toEqual(['1', '2']);
  });

  it('admits a later high-priority job before older normal ones when a slot frees', () => {
    const q = [job('old1', 'a', 'normal', 1), job('old2', 'a', 'normal', 2), job('urgent', 'a', 'high', 9)];
    expect(admit(q, ['a'], limits(10, 2))).toEqual(['urgent']);
  });

  it('lets another owner run while one owner is at its limit', () => {
    const q = [job('a3', 'a', 'high', 1), job('b1', 'b', 'low', 2)];
    expect(admit(q, ['a', 'a'], limits(10, 2))).toEqual(['b1']);
  });

  it.each([
    { name: 'no free global slot', running: ['x', 'y'], global: 2, expected: [] },
    { name: 'one free global slot', running: ['x'], global: 2, expected: ['1'] },
  ])('respects the global limit with $name', ({ running, global, expected }) => {
    expect(admit([job('1', 'a', 'normal', 1), job('2', 'b', 'normal', 2)], running, limits(global, 5))).toEqual(expected);
  });

  it('orders equal jobs by id so the order is stable', () => {
    expect([job('b', 'o', 'normal', 1), job('a', 'o', 'normal', 1)].sort(queueOrder).map((j) => j.id)).toEqual(['a', 'b']);
  });
});

describe('afterExit', () => {
  const policy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 3000 };
  it.each([
    { name: 'success completes', code: 0, attempt: 1, expected: { action: 'complete' } },
    { name: 'cancellation is final', code: 80, attempt: 1, expected: { action: 'cancelled' } },
    { name: 'invalid spec is never retried', code: 64, attempt: 1, expected: { action: 'fail', retryable: false } },
    { name: 'invalid input is never retried', code: 65, attempt: 1, expected: { action: 'fail', retryable: false } },
    { name: 'a missing capability is never retried', code: 69, attempt: 1, expected: { action: 'fail', retryable: false } },
    { name: 'a transient failure is retried after the base delay', code: 75, attempt: 1, expected: { action: 'retry', delayMs: 1000 } },
    { name: 'the delay doubles', code: 75, attempt: 2, expected: { action: 'retry', delayMs: 2000 } },
    { name: 'a crash (killed by a signal) is retried', code: null, attempt: 1, expected: { action: 'retry', delayMs: 1000 } },
    { name: 'the last attempt fails for good', code: 75, attempt: 3, expected: { action: 'fail', retryable: true } },
  ])('$name', ({ code, attempt, expected }) => {
    expect(afterExit(code, attempt, policy)).toEqual(expected);
  });

  it('caps the delay', () => {
    expect(afterExit(1, 3, { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 3000 })).toEqual({ action: 'retry', delayMs: 3000 });
  });
});

describe('phase transitions', () => {
  const terminal: Phase[] = ['completed', 'failed', 'cancelled'];
  it.each(terminal.flatMap((from) => (['queued', 'processing', 'completed', 'failed', 'cancelled'] as Phase[]).map((to) => ({ from, to }))))(
    'never leaves the terminal phase $from (to $to)',
    ({ from, to }) => {
      expect(canTransition(from, to)).toBe(false);
      expect(isTerminal(from)).toBe(true);
    },
  );
  it.each([
    ['queued', 'processing', true],
    ['processing', 'completed', true],
    ['processing', 'queued', true],
    ['queued', 'cancelled', true],
    ['queued', 'completed', false],
  ] as const)('%s -> %s is %s', (from, to, ok) => {
    expect(canTransition(from, to)).toBe(ok);
  });
});
