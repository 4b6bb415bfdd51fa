// Cluster mode's JobRuntime: a job is accepted once its MediaJob exists in the Kubernetes API;
// the operator takes it from there. Cancellation is an annotation the operator acts on (it
// deletes the Job and records the phase). The replica's store gets the record at once, so the
// answer to the submitting call and the next read agree before the informer catches up.
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { JobRecord, Store } from '../../../operator/src/local/store.ts';
import { httpCode } from '../../../operator/src/kube/api-errors.ts';
import { Group, Plural, Version } from '../../../operator/src/kube/controller.ts';
import { CancelAnnotation } from '../../../operator/src/reconcile.ts';
import { ApiError } from '../errors.ts';
import type { JobRuntime } from '../runtime.ts';
import { IdempotencyAnnotation, mediaJobFor, recordFromMediaJob, type MediaJobResource } from './resources.ts';

const mj = { group: Group, version: Version, plural: Plural } as const;

/** The Kubernetes API failing is the service being unavailable, not the client's fault. */
export function unavailable(err: unknown, what: string): ApiError {
  return new ApiError(503, 'server_error', 'SERVICE_UNAVAILABLE', `${what}: the Kubernetes API did not accept it (${httpCode(err) ?? (err as Error).message}); try again`, undefined, { 'retry-after': '5' });
}

export class ClusterRuntime implements JobRuntime {
  private readonly api: CustomObjectsApi;
  private readonly o: { kubeconfig: KubeConfig; namespace: string; store: Store; log: Logger };

  constructor(o: { kubeconfig: KubeConfig; namespace: string; store: Store; log: Logger }) {
    this.o = o;
    this.api = o.kubeconfig.makeApiClient(CustomObjectsApi);
  }

  async submit(job: JobRecord, idempotency?: { bodyHash: string }): Promise<JobRecord | void> {
    const { store, namespace } = this.o;
    const batchName = job.batchId ? store.getBatch(job.batchId)?.name : undefined;
    try {
      await this.api.createNamespacedCustomObject({ ...mj, namespace, body: mediaJobFor(job, namespace, batchName, idempotency?.bodyHash) });
    } catch (err) {
      if (idempotency && httpCode(err) === 409) return this.existing(job.id, idempotency.bodyHash);
      this.o.log.error({ err, jobId: job.id, namespace, name: job.id }, 'creating the MediaJob failed');
      throw unavailable(err, 'creating the job');
    }
    // Known here at once, so this replica's next read agrees before the informer catches up
    // (unless the informer was quicker: its version is newer).
    if (!store.getJob(job.id)) store.upsertJob(job);
  }

  /** The job an earlier request with the same Idempotency-Key created (on any replica). */
  private async existing(name: string, bodyHash: string): Promise<JobRecord> {
    let found: MediaJobResource;
    try {
      found = (await this.api.getNamespacedCustomObject({ ...mj, namespace: this.o.namespace, name })) as MediaJobResource;
    } catch (err) {
      throw unavailable(err, 'reading the job of this Idempotency-Key');
    }
    if (found.metadata?.annotations?.[IdempotencyAnnotation] !== bodyHash) {
      throw new ApiError(422, 'validation_error', 'IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request', { field: 'Idempotency-Key' });
    }
    const rec = recordFromMediaJob(found, new Date().toISOString());
    if (!rec) throw unavailable(new Error('unreadable MediaJob'), 'reading the job of this Idempotency-Key');
    return rec;
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const { store, namespace } = this.o;
    try {
      await this.api.patchNamespacedCustomObject(
        { ...mj, namespace, name: id, body: { metadata: { annotations: { [CancelAnnotation]: 'true' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw unavailable(err, 'cancelling the job');
    }
    const cur = store.getJob(id);
    if (!cur) return undefined;
    // What the operator will record; the informer brings its own version shortly.
    const now = new Date().toISOString();
    const cancelled: JobRecord = { ...cur, status: { ...cur.status, phase: 'cancelled', stage: 'cancelled', completedAt: now, etaSeconds: 0 }, updatedAt: now };
    store.upsertJob(cancelled);
    return cancelled;
  }

  /** Deletes the MediaJobs of records the cleanup removed (their Jobs go with them). */
  async removed(ids: readonly string[]): Promise<void> {
    for (const name of ids) {
      try {
        await this.api.deleteNamespacedCustomObject({ ...mj, namespace: this.o.namespace, name, propagationPolicy: 'Background' });
      } catch (err) {
        if (httpCode(err) !== 404) throw unavailable(err, 'deleting finished jobs');
      }
    }
  }

  runningCount(): number {
    return this.o.store.stats().processing;
  }
}
