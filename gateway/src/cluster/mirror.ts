// A gateway replica's view of the cluster, kept in its local store so every read is local: the
// MediaJobs and the API-key Secrets of its namespace (informers, restarted with backoff when they
// stop), and the job events of the JetStream stream (an ordered consumer that resumes after the
// last stored sequence). Events are stored with their stream sequence, which is the same on every
// replica, so a client's Last-Event-ID resumes on whichever replica it reaches.
import { CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, type Informer, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { DeliverPolicy, jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { JobEventBus } from '../../../operator/src/bus.ts';
import { dropUndefined } from '../../../crds/src/fields.ts';
import type { StoredEvent, Store } from '../../../operator/src/local/store.ts';
import { finalEventFor, SyntheticSeq } from '../final-event.ts';
import { isTerminal } from '../../../operator/src/phases.ts';
import { StreamName, parseJobSubject, subjectToken } from '../../../operator/src/nats/subjects.ts';
import { Group, Plural, Version } from '../../../operator/src/kube/controller.ts';
import { startRestartable } from '../../../operator/src/kube/informers.ts';
import { ApiKeyLabel, BatchNameAnnotation, keyFromSecret, recordFromMediaJob, type MediaJobResource, type SecretResource } from './resources.ts';

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

const terminalTypes = ['complete', 'error', 'cancelled'] as const;

/** Pure: a stream message as the stored event SSE and webhooks read, or undefined to skip it. */
export function eventFromMessage(subject: string, seq: number, payload: unknown, fallbackTime: string): StoredEvent | undefined {
  const s = parseJobSubject(subject);
  if (!s || typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const time = typeof p['time'] === 'string' ? p['time'] : fallbackTime;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  switch (s.kind) {
    case 'progress':
      if (p['type'] !== 'progress' || num(p['percentage']) === undefined) return undefined;
      return { seq, jobId: s.name, type: 'progress', time, data: dropUndefined({ percentage: num(p['percentage']), stage: typeof p['stage'] === 'string' ? p['stage'] : undefined, fps: num(p['fps']), speed: num(p['speed']), eta_seconds: num(p['etaSeconds']), chunks: chunkCounts(p['chunks']), time }) };
    case 'log':
      return typeof p['line'] === 'string' ? { seq, jobId: s.name, type: 'log', time, data: { line: p['line'] } } : undefined;
    case 'status':
      return typeof p['type'] === 'string' && typeof p['data'] === 'object' ? { seq, jobId: s.name, type: p['type'], time, data: p['data'] } : undefined;
    default:
      return undefined; // the worker's own lifecycle notes: the operator's status events are authoritative
  }
}

/** A split job's chunk counts, when a progress event carries them (the operator's combined progress). */
function chunkCounts(v: unknown): { total: number; completed: number; failed: number } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const c = v as Record<string, unknown>;
  const int = (x: unknown) => (typeof x === 'number' && Number.isInteger(x) && x >= 0 ? x : undefined);
  const total = int(c['total']);
  const completed = int(c['completed']);
  const failed = int(c['failed']);
  return total !== undefined && completed !== undefined && failed !== undefined ? { total, completed, failed } : undefined;
}

export interface MirrorOptions {
  kubeconfig: KubeConfig;
  namespace: string;
  store: Store;
  /** Live events for SSE streams and metrics. */
  bus: JobEventBus;
  nats: NatsConnection;
  log: Logger;
  /** How long a finished job waits for its published final event before one is made up (default 3 s). */
  finalEventGraceMs?: number;
}

export class ClusterMirror {
  private readonly o: MirrorOptions;
  private mediaJobs!: Cached<MediaJobResource & KubernetesObject>;
  private secrets!: Cached<SecretResource & KubernetesObject>;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private readonly graceTimers = new Map<string, NodeJS.Timeout>();

  constructor(o: MirrorOptions) {
    this.o = o;
  }

  async start(): Promise<void> {
    const { kubeconfig: kc, namespace: ns } = this.o;
    const custom = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const keySelector = `${ApiKeyLabel}=true`;
    this.mediaJobs = makeInformer<MediaJobResource & KubernetesObject>(kc, `/apis/${Group}/${Version}/namespaces/${ns}/${Plural}`, () => custom.listNamespacedCustomObject({ group: Group, version: Version, namespace: ns, plural: Plural }) as never);
    this.secrets = makeInformer<SecretResource & KubernetesObject>(kc, `/api/v1/namespaces/${ns}/secrets`, () => core.listNamespacedSecret({ namespace: ns, labelSelector: keySelector }) as never, keySelector);
    for (const verb of ['add', 'update'] as const) {
      this.mediaJobs.on(verb, (mj) => this.onMediaJob(mj));
      this.secrets.on(verb, (s) => this.onSecret(s));
    }
    this.mediaJobs.on('delete', (mj) => {
      if (mj.metadata?.name) this.o.store.deleteJob(mj.metadata.name);
    });
    this.secrets.on('delete', (s) => {
      const k = keyFromSecret(s);
      if (k) this.o.store.deleteKey(k.id);
    });
    await Promise.all([startRestartable(this.mediaJobs as unknown as Cached<KubernetesObject>, this.o.log, () => this.stopped), startRestartable(this.secrets as unknown as Cached<KubernetesObject>, this.o.log, () => this.stopped)]);
    this.pruneGone();
    await this.followStream();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.graceTimers.values()) clearTimeout(t);
    await this.messages?.close().catch(() => undefined);
    await Promise.all([this.mediaJobs?.stop(), this.secrets?.stop()]);
  }


  private onMediaJob(mj: MediaJobResource): void {
    const rec = recordFromMediaJob(mj, new Date().toISOString());
    if (!rec) return;
    this.o.store.upsertJob(rec);
    if (rec.batchId) this.o.store.ensureBatch(rec.batchId, rec.owner, mj.metadata?.annotations?.[BatchNameAnnotation], rec.createdAt);
    if (isTerminal(rec.status.phase)) this.expectFinalEvent(rec.id);
  }

  private onSecret(s: SecretResource): void {
    const k = keyFromSecret(s);
    if (k) this.o.store.upsertKey(k);
  }

  /** Rows a previous run of this replica kept for objects deleted since. */
  private pruneGone(): void {
    const live = new Set(this.mediaJobs.list().map((m) => m.metadata?.name));
    for (const phase of ['queued', 'processing', 'completed', 'failed', 'cancelled'] as const) {
      for (const j of this.o.store.jobsInPhase(phase)) if (!live.has(j.id)) this.o.store.deleteJob(j.id);
    }
    const keys = new Set(this.secrets.list().map((s) => keyFromSecret(s)?.id));
    for (const k of this.o.store.listKeys()) if (!k.id.startsWith('env-') && !keys.has(k.id)) this.o.store.deleteKey(k.id);
  }

  /**
   * A finished job's final event normally arrives through the stream. If the operator published it
   * while NATS was down and then restarted, it never will: after a grace period the final event is
   * made from the status, so SSE streams still end.
   */
  private expectFinalEvent(id: string): void {
    if (this.graceTimers.has(id) || this.o.store.hasEventOfType(id, terminalTypes)) return;
    const t = setTimeout(() => {
      this.graceTimers.delete(id);
      if (this.stopped || this.o.store.hasEventOfType(id, terminalTypes)) return;
      const job = this.o.store.getJob(id);
      const e = job ? finalEventFor(job) : undefined;
      if (e && this.o.store.insertEvent(e)) {
        this.o.log.warn({ jobId: id, namespace: this.o.namespace, name: id, type: e.type }, 'final event not received from NATS; made from the MediaJob status');
        this.o.bus.publish(e);
      }
    }, this.o.finalEventGraceMs ?? 3000);
    t.unref();
    this.graceTimers.set(id, t);
  }


  private async followStream(): Promise<void> {
    const js = jetstream(this.o.nats);
    const after = this.o.store.maxEventSeq(SyntheticSeq);
    const consumer = await js.consumers.get(StreamName, {
      filter_subjects: `kubeff.jobs.${subjectToken(this.o.namespace)}.>`,
      ...(after > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    void (async () => {
      for await (const m of messages) {
        let payload: unknown;
        try {
          payload = m.json();
        } catch {
          continue;
        }
        const e = eventFromMessage(m.subject, m.seq, payload, m.timestamp);
        if (e && this.o.store.insertEvent(e)) this.o.bus.publish(e);
      }
    })().catch((err: unknown) => {
      if (!this.stopped) this.o.log.error({ err }, 'job event stream stopped');
    });
  }
}
