// The dispatcher's decisions as pure functions: which stored events become which webhooks, which
// a job receives by default, progress throttling, and what follows each attempt.
import { describe, expect, it } from 'vitest';
import { afterAttempt, defaultRetryDelaysMs, describeFailure, progressAllowed, wantedEvents, webhookEventFor } from '../../gateway/src/webhooks/dispatcher.ts';

describe('which events become webhooks', () => {
  it.each([
    ['queued', 'queued'],
    ['started', 'started'],
    ['progress', 'progress'],
    ['complete', 'complete'],
    ['error', 'error'],
    ['cancelled', 'cancelled'],
  ])('a stored %s event is the %s webhook', (stored, name) => {
    expect(webhookEventFor(stored)).toBe(name);
  });

  it.each(['log', 'retry', 'requeued', 'toString', '__proto__'])('a stored %s event sends no webhook', (stored) => {
    expect(webhookEventFor(stored)).toBeUndefined();
  });

  it('sends the state changes the client did not cause when a job names no events', () => {
    expect(wantedEvents({})).toEqual(['started', 'complete', 'error', 'cancelled']);
  });

  it("sends exactly the job's own list when it names one", () => {
    expect(wantedEvents({ webhookEvents: ['progress'] })).toEqual(['progress']);
    expect(wantedEvents({ webhookEvents: [] })).toEqual([]);
  });
});

describe('progress throttling', () => {
  it.each([
    ['the first progress of a job', undefined, 1_000, true],
    ['a progress 1.9 s after the last one sent', 1_000, 2_900, false],
    ['a progress 2 s after the last one sent', 1_000, 3_000, true],
  ])('%s: allowed = %s', (_name, last, now, allowed) => {
    expect(progressAllowed(last, now, 2_000)).toBe(allowed);
  });
});

describe('what follows an attempt', () => {
  const now = Date.parse('2025-01-27T10:00:00.000Z');
  const delays = [100, 1_000];

  it.each([200, 201, 204, 299])('an answer %s is delivered', (status) => {
    expect(afterAttempt({ kind: 'response', status, body: '' }, 1, delays, now)).toEqual({ state: 'delivered', nextAttemptAt: undefined });
  });

  it.each([
    ['a 500 answer', { kind: 'response', status: 500, body: 'boom' } as const],
    ['a 302 answer (redirects are not followed)', { kind: 'response', status: 302, body: '' } as const],
    ['a 404 answer', { kind: 'response', status: 404, body: '' } as const],
    ['a timeout', { kind: 'network_error', reason: 'no complete response within 10000 ms' } as const],
    ['a host that does not resolve', { kind: 'network_error', reason: 'host x could not be resolved' } as const],
  ])('%s is retried after the next delay, then fails once the delays run out', (_name, result) => {
    expect(afterAttempt(result, 1, delays, now)).toEqual({ state: 'pending', nextAttemptAt: '2025-01-27T10:00:00.100Z' });
    expect(afterAttempt(result, 2, delays, now)).toEqual({ state: 'pending', nextAttemptAt: '2025-01-27T10:00:01.000Z' });
    expect(afterAttempt(result, 3, delays, now)).toEqual({ state: 'failed', nextAttemptAt: undefined });
  });

  it('a target refused by the SSRF guard fails at once, without a retry', () => {
    expect(afterAttempt({ kind: 'refused', reason: 'a private address' }, 1, delays, now)).toEqual({ state: 'failed', nextAttemptAt: undefined });
  });

  it('backs off exponentially by default: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h', () => {
    expect(defaultRetryDelaysMs).toEqual([5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000]);
  });

  it('describes each failure for the delivery log', () => {
    expect(describeFailure({ kind: 'response', status: 200, body: 'ok' })).toBeUndefined();
    expect(describeFailure({ kind: 'response', status: 503, body: '  down\n for   maintenance ' })).toBe('HTTP 503: down for maintenance');
    expect(describeFailure({ kind: 'response', status: 301, body: '' })).toBe('HTTP 301 (redirects are not followed)');
    expect(describeFailure({ kind: 'response', status: 500, body: 'x'.repeat(1000) })).toHaveLength('HTTP 500: '.length + 200);
    expect(describeFailure({ kind: 'refused', reason: 'host a resolves to 10.0.0.1' })).toBe('refused: host a resolves to 10.0.0.1');
    expect(describeFailure({ kind: 'network_error', reason: 'connect ECONNREFUSED 127.0.0.1:9' })).toBe('connect ECONNREFUSED 127.0.0.1:9');
  });
});
