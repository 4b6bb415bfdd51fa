// Pure: the lifecycle event a status change means, in the same shapes the standalone runtime
// stores (so SSE streams and webhooks read the same in both modes). Published by the operator
// after the status patch succeeded; `id` is stable for one change, so a republish (after a
// restart, a leader change or a NATS outage) is dropped by JetStream's duplicate window.
import type { MediaJobStatus } from '../../crds/src/status.ts';
import { dropUndefined } from '../../crds/src/fields.ts';

export interface LifecycleEvent {
  type: 'queued' | 'started' | 'retry' | 'complete' | 'error' | 'cancelled';
  /** Unique per MediaJob uid and change. */
  id: string;
  time: string;
  data: Record<string, unknown>;
}

export function lifecycleEvent(uid: string, prev: MediaJobStatus, next: MediaJobStatus, time: string, priority?: string): LifecycleEvent | undefined {
  const from = prev.phase;
  const to = next.phase;
  const attempt = next.attempts ?? prev.attempts ?? 0;
  const ev = (type: LifecycleEvent['type'], data: Record<string, unknown>, suffix = ''): LifecycleEvent => ({ type, id: `${uid}.${type}${suffix}`, time, data: dropUndefined(data) });
  if (to === undefined) return undefined;
  if (from === undefined && to === 'queued') return ev('queued', { status: 'queued', priority });
  if (to === 'processing' && (from !== 'processing' || attempt > (prev.attempts ?? 0))) {
    // A later attempt of a running Job (the pod failed and the Job made a new one) is a retry.
    if (from === 'processing') return ev('retry', { status: 'processing', attempt, error: next.error }, `.${attempt}`);
    return ev('started', { status: 'processing', attempt }, `.${attempt}`);
  }
  if (from === to) return undefined;
  switch (to) {
    case 'completed':
      return ev('complete', { status: 'completed', output_path: next.outputs?.[0]?.path, outputs: next.outputs ?? [], metrics: next.metrics });
    case 'failed':
      return ev('error', { status: 'failed', error: next.error });
    case 'cancelled':
      return ev('cancelled', { status: 'cancelled' });
    default:
      return undefined;
  }
}
