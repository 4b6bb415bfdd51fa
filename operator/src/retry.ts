// Pure retry policy from the worker's exit code: invalid input and cancellation are final,
// transient failures are retried with exponential backoff until the attempts run out.
import { ExitCode, NonRetryableExitCodes } from '../../worker-image/src/exit-codes.ts';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 3, baseDelayMs: 2000, maxDelayMs: 60_000 };

export type AfterExit =
  | { action: 'complete' }
  | { action: 'cancelled' }
  | { action: 'retry'; delayMs: number }
  | { action: 'fail'; retryable: boolean };

/** What to do after attempt number `attempt` (1-based) ended with `exitCode` (null: killed by a signal). */
export function afterExit(exitCode: number | null, attempt: number, policy: RetryPolicy = defaultRetryPolicy): AfterExit {
  if (exitCode === ExitCode.ok) return { action: 'complete' };
  if (exitCode === ExitCode.cancelled) return { action: 'cancelled' };
  const retryable = exitCode === null || !NonRetryableExitCodes.includes(exitCode);
  if (!retryable || attempt >= policy.maxAttempts) return { action: 'fail', retryable };
  return { action: 'retry', delayMs: Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1)) };
}
