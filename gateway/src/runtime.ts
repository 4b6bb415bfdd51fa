// What the routes need from whatever runs jobs: the local runtime (standalone) or the Kubernetes
// API (cluster mode, MediaJobs the operator reconciles).
import type { JobRecord } from '../../operator/src/local/store.ts';

export interface JobRuntime {
  /**
   * Records a new job; resolves once it is durably accepted. With `idempotency` (the request's
   * body hash) a job of the same id accepted before for the same request is returned instead (a
   * retry reached another replica); for another request it is refused (422).
   */
  submit(job: JobRecord, idempotency?: { bodyHash: string }): void | JobRecord | Promise<void | JobRecord>;
  /** Asks for a job to stop; returns the job as it stands after the request. */
  cancel(id: string): JobRecord | undefined | Promise<JobRecord | undefined>;
  /** Records the cleanup removed from the store (cluster mode deletes their MediaJobs too). */
  removed?(ids: readonly string[]): Promise<void>;
  /** Jobs processing now (in cluster mode: in the whole namespace). */
  runningCount(): number;
}
