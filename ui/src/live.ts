// Live job updates over server-sent events (the SDK resumes a dropped stream itself): the
// callbacks see each progress and status change; the stream closes on the job's final event or
// when the page's signal aborts.
import type { JobEvent } from '../../sdk/src/index.ts';
import { client } from './session.ts';

export interface LiveCallbacks {
  progress?(percentage: number, data: Record<string, unknown>): void;
  status?(status: string, data: Record<string, unknown>): void;
  log?(line: string): void;
  final?(event: JobEvent): void;
}

export function follow(jobId: string, cb: LiveCallbacks, signal: AbortSignal, o: { logs?: boolean } = {}): void {
  void (async () => {
    try {
      for await (const e of client().events(jobId, { signal, logs: o.logs === true })) {
        if (e.event === 'progress' && typeof e.data['percentage'] === 'number') cb.progress?.(e.data['percentage'], e.data);
        else if (e.event === 'status' && typeof e.data['status'] === 'string') cb.status?.(e.data['status'], e.data);
        else if (e.event === 'log' && typeof e.data['line'] === 'string') cb.log?.(e.data['line']);
        if (e.final) cb.final?.(e);
      }
    } catch {
      // Aborted by navigation, or the stream gave up after its retries: the page's polling goes on.
    }
  })();
}
