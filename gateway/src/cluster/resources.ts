// Pure conversions between the gateway's records and their Kubernetes objects: a job is a
// MediaJob named by its id; an API key is a Secret holding its hash (never the key itself).
import type { MediaJobSpec } from '../../../crds/src/spec.ts';
import type { MediaJobStatus } from '../../../crds/src/status.ts';
import type { Priority } from '../../../operator/src/admission.ts';
import { TraceAnnotation } from '../../../operator/src/job-builder.ts';
import { Group, OwnerLabel, Version } from '../../../operator/src/kube/controller.ts';
import type { ApiKeyRecord, JobRecord } from '../../../operator/src/local/store.ts';

export const BatchLabel = 'kubeff.io/batch';
export const BatchNameAnnotation = 'kubeff.io/batch-name';
/** creationTimestamp has whole seconds; lists sort by this (milliseconds) when present. */
export const CreatedAtAnnotation = 'kubeff.io/created-at';
export const ApiKeyLabel = 'kubeff.io/api-key';
/** The body hash of the request that created a MediaJob under an Idempotency-Key. */
export const IdempotencyAnnotation = 'kubeff.io/idempotency-body';
export const ManagedBy = 'app.kubernetes.io/managed-by';
/** Who owns a MediaJob applied with kubectl (no owner label): only admin keys see it. */
export const NoOwner = 'kubectl';

export interface MediaJobResource {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: Date | string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: MediaJobSpec;
  status?: MediaJobStatus;
}

export function mediaJobFor(job: JobRecord, namespace: string, batchName?: string, idempotencyBody?: string): MediaJobResource {
  const annotations: Record<string, string> = { [CreatedAtAnnotation]: job.createdAt };
  if (idempotencyBody !== undefined) annotations[IdempotencyAnnotation] = idempotencyBody;
  if (job.traceparent) annotations[TraceAnnotation] = job.traceparent;
  if (batchName !== undefined) annotations[BatchNameAnnotation] = batchName;
  const labels: Record<string, string> = { [OwnerLabel]: job.owner, [ManagedBy]: 'kubeff-gateway' };
  if (job.batchId) labels[BatchLabel] = job.batchId;
  // JSON drops undefined fields; the API server's structural schema prunes nothing we send.
  return { apiVersion: `${Group}/${Version}`, kind: 'MediaJob', metadata: { name: job.id, namespace, labels, annotations }, spec: JSON.parse(JSON.stringify(job.spec)) as MediaJobSpec };
}

const iso = (t: Date | string | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());

export function recordFromMediaJob(mj: MediaJobResource, now: string): JobRecord | undefined {
  const m = mj.metadata;
  if (!m?.name || !mj.spec) return undefined;
  const status = { ...(mj.status ?? {}), phase: mj.status?.phase ?? 'queued' } as JobRecord['status'];
  const createdAt = m.annotations?.[CreatedAtAnnotation] ?? iso(m.creationTimestamp) ?? now;
  const updatedAt = status.completedAt ?? status.startedAt ?? status.queuedAt ?? createdAt;
  return {
    id: m.name,
    owner: m.labels?.[OwnerLabel] ?? NoOwner,
    spec: mj.spec,
    status,
    priority: (mj.spec.options?.priority ?? 'normal') as Priority,
    createdAt,
    updatedAt: updatedAt > createdAt ? updatedAt : createdAt,
    batchId: m.labels?.[BatchLabel],
    notBefore: undefined,
    traceparent: m.annotations?.[TraceAnnotation],
  };
}

export interface SecretResource {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string };
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export const keySecretName = (id: string) => `kubeff-api-key-${id.toLowerCase()}`;

export function secretForKey(k: ApiKeyRecord, namespace: string): SecretResource {
  const stringData: Record<string, string> = { id: k.id, name: k.name, hash: k.hash, scope: k.scope, createdAt: k.createdAt };
  if (k.revokedAt) stringData['revokedAt'] = k.revokedAt;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: keySecretName(k.id), namespace, labels: { [ApiKeyLabel]: 'true', [ManagedBy]: 'kubeff-gateway' } },
    type: 'Opaque',
    stringData,
  };
}

export function keyFromSecret(s: SecretResource): ApiKeyRecord | undefined {
  const d = s.data ?? {};
  const get = (k: string) => (d[k] === undefined ? undefined : Buffer.from(d[k], 'base64').toString('utf8'));
  const id = get('id');
  const hash = get('hash');
  const scope = get('scope');
  if (!id || !hash || !/^[0-9a-f]{64}$/.test(hash) || (scope !== 'admin' && scope !== 'client')) return undefined;
  return { id, name: get('name') ?? id, hash, scope, createdAt: get('createdAt') ?? new Date(0).toISOString(), revokedAt: get('revokedAt'), lastUsedAt: undefined };
}
