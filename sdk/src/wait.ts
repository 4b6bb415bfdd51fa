// Waiting for a job to finish: its events are followed (one connection, progress as it happens),
// and when they cannot be (the stream is lost for good, or the server has none) the job is polled
// instead. Resolves with the finished job as GET /jobs/{id} shows it, whatever its outcome.
import { KubeffError, KubeffNetworkError } from './errors.ts';
import type { EventsOptions, JobEvent } from './job-events.ts';
import { anySignal, CallTimeout, sleep } from './signals.ts';
import type { CallOptions } from './transport.ts';
import type { Job, JobStatus } from './types.ts';

const finished: ReadonlySet<JobStatus> = new Set<JobStatus>(['completed', 'failed', 'cancelled']);

export interface WaitOptions extends Pick<EventsOptions, 'onReconnect' | 'maxRetries' | 'idleTimeoutMs' | 'logs'> {
  signal?: AbortSignal | undefined;
  /** Gives up after this long (rejects with a KubeffNetworkError 'timeout'); the job goes on. */
  timeoutMs?: number | undefined;
  /** Every event while following, in order. */
  onEvent?: ((event: JobEvent) => void) | undefined;
  /** false: poll only, never open an event stream. */
  events?: boolean | undefined;
  /** Between two polls (default 2 s). */
  pollIntervalMs?: number | undefined;
  /** Failed polls in a row (server unreachable, busy) before giving up (default 5). */
  maxPollFailures?: number | undefined;
}

export interface WaitDeps {
  events(jobId: string, o: EventsOptions): AsyncIterable<JobEvent>;
  get(jobId: string, o: CallOptions): Promise<Job>;
}

export async function waitForJob(deps: WaitDeps, jobId: string, o: WaitOptions = {}): Promise<Job> {
  const timeout = o.timeoutMs !== undefined && o.timeoutMs > 0 ? new AbortController() : undefined;
  const timer = timeout ? setTimeout(() => timeout.abort(new CallTimeout(o.timeoutMs ?? 0)), o.timeoutMs) : undefined;
  const signal = anySignal([o.signal, timeout?.signal]);
  try {
    if (o.events !== false) {
      try {
        const events = deps.events(jobId, { signal, onReconnect: o.onReconnect, maxRetries: o.maxRetries, idleTimeoutMs: o.idleTimeoutMs, logs: o.logs });
        for await (const e of events) {
          o.onEvent?.(e);
          if (e.final) break;
        }
      } catch (err) {
        if (signal?.aborted) throw err;
        // An answer that polling would get too (401, 404): reported now.
        if (err instanceof KubeffError && !err.retryable) throw err;
        if (!(err instanceof KubeffError || err instanceof KubeffNetworkError)) throw err;
        // Otherwise the events are out of reach: polling still tells when the job ends.
      }
    }
    return await poll(deps, jobId, o, signal);
  } catch (err) {
    if (timeout?.signal.aborted && !o.signal?.aborted) throw new KubeffNetworkError('timeout', `job ${jobId} did not finish within ${(o.timeoutMs ?? 0) / 1000} s; it goes on`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the job until it has finished; right after its final event that is the first read. */
async function poll(deps: WaitDeps, jobId: string, o: WaitOptions, signal: AbortSignal | undefined): Promise<Job> {
  const maxFailures = o.maxPollFailures ?? 5;
  let failures = 0;
  for (;;) {
    try {
      const job = await deps.get(jobId, { signal });
      failures = 0;
      if (finished.has(job.status)) return job;
    } catch (err) {
      if (signal?.aborted) throw err;
      const retryable = (err instanceof KubeffError || err instanceof KubeffNetworkError) && err.retryable;
      if (!retryable || ++failures > maxFailures) throw err;
    }
    await sleep(o.pollIntervalMs ?? 2000, signal);
  }
}
