// Pure: the final event a finished job implies, from its status. Cluster mode needs it when the
// published one never arrived (NATS was down when the operator sent it, and the operator
// restarted since): SSE streams must still end, with what the MediaJob status says.
import { dropUndefined } from '../../crds/src/fields.ts';
import type { JobRecord, StoredEvent } from '../../operator/src/local/store.ts';

/** Where made-up final events sit: above every stream sequence, so they never collide. */
export const SyntheticSeq = Number.MAX_SAFE_INTEGER;

export function finalEventFor(job: JobRecord): StoredEvent | undefined {
  const s = job.status;
  const time = s.completedAt ?? job.updatedAt;
  switch (s.phase) {
    case 'completed':
      return { seq: SyntheticSeq, jobId: job.id, type: 'complete', time, data: dropUndefined({ status: 'completed', output_path: s.outputs?.[0]?.path, outputs: s.outputs ?? [], metrics: s.metrics }) };
    case 'failed':
      return { seq: SyntheticSeq, jobId: job.id, type: 'error', time, data: { status: 'failed', error: s.error } };
    case 'cancelled':
      return { seq: SyntheticSeq, jobId: job.id, type: 'cancelled', time, data: { status: 'cancelled' } };
    default:
      return undefined;
  }
}
