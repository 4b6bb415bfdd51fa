// Pure admission: which queued jobs may start now. Priority first (high > normal > low), then
// age; a job whose owner is at its concurrency limit waits without blocking other owners' jobs.
// The same decision runs in the local runtime and the cluster operator.

export type Priority = 'low' | 'normal' | 'high';
const rank: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

export interface QueuedJob {
  id: string;
  owner: string;
  priority: Priority;
  /** ISO time the job was accepted; ties broken by id for a stable order. */
  createdAt: string;
}

export interface AdmissionLimits {
  /** Jobs running at once on this runtime, all owners together. */
  global: number;
  /** Jobs running at once for one owner (an API key). */
  perOwner(owner: string): number;
}

export function queueOrder(a: QueuedJob, b: QueuedJob): number {
  return rank[a.priority] - rank[b.priority] || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
}

/** The ids to start now, in order. `running` lists the owners of jobs already running. */
export function admit(queued: readonly QueuedJob[], running: readonly string[], limits: AdmissionLimits): string[] {
  let free = limits.global - running.length;
  if (free <= 0) return [];
  const perOwner = new Map<string, number>();
  for (const owner of running) perOwner.set(owner, (perOwner.get(owner) ?? 0) + 1);
  const start: string[] = [];
  for (const job of [...queued].sort(queueOrder)) {
    if (free <= 0) break;
    const n = perOwner.get(job.owner) ?? 0;
    if (n >= limits.perOwner(job.owner)) continue;
    perOwner.set(job.owner, n + 1);
    start.push(job.id);
    free--;
  }
  return start;
}
