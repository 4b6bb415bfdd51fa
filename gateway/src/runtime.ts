// What the routes need from whatever runs jobs: the local runtime (standalone) or the Kubernetes
// API (cluster mode, MediaJobs the operator reconciles).
import type { JobRecord } from '../../operator/src/local/store.ts';

export interface JobRuntime {
  /** Records a new job; resolves once it is durably accepted. */
  submit(job: JobRecord): void | Promise<void>;
  /** Asks for a job to stop; returns the job as it stands after the request. */
  cancel(id: string): JobRecord | undefined | Promise<JobRecord | undefined>;
  /** Records the cleanup removed from the store (cluster mode deletes their MediaJobs too). */
  removed?(ids: readonly string[]): Promise<void>;
  /** Jobs processing now (in cluster mode: in the whole namespace). */
  runningCount(): number;
}
