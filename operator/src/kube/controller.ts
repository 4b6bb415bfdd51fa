// The cluster runtime of the reconciler: informers on MediaJobs, their Jobs and pods; a keyed
// work queue with per-key backoff; each key reconciled level-triggered from the caches by the pure
// decision in ../reconcile.ts; Jobs built by ../job-builder.ts; status written by merge-patch to
// the status subresource (custom resources reject strategic-merge).
import {
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { MediaJobSpec } from '../../../crds/src/spec.ts';
import type { MediaJobStatus } from '../../../crds/src/status.ts';
import { admit, type QueuedJob } from '../admission.ts';
import { buildJob, buildSplitJob, JobLabel, jobName, splitJobName, SplitStageLabel, TraceAnnotation, WorkerContainer, type JobBuilderSettings } from '../job-builder.ts';
import { chunkSecondsOf, isSplitJob, SplitProgressBook, type SplitProgressEvent, type StageProgress } from '../split.ts';
import { indexSet, reconcileSplit, WorkStages, type ObservedStage, type SplitAction, type SplitStageName } from '../split-reconcile.ts';
import { isTerminal } from '../phases.ts';
import { CancelAnnotation, reconcile, type ObservedJob, type ObservedPod } from '../reconcile.ts';
import { lifecycleEvent } from '../lifecycle.ts';
import { LifecyclePublisher } from '../nats/publisher.ts';
import { httpCode } from './api-errors.ts';
import { startRestartable } from './informers.ts';
import type { OperatorMetrics } from './metrics.ts';
import { recordAttemptSpan, startCreateJobSpan } from './tracing.ts';
import { ProgressRelay, type ProgressUpdate } from './progress.ts';

export const Group = 'kubeff.io';
export const Version = 'v1alpha1';
export const Plural = 'mediajobs';
export const OwnerLabel = 'kubeff.io/owner';

interface MediaJobResource extends KubernetesObject {
  spec: MediaJobSpec;
  status?: MediaJobStatus;
}

export interface ControllerOptions {
  kubeconfig: KubeConfig;
  log: Logger;
  settings: JobBuilderSettings;
  limits: { global: number; perOwner: number };
  resyncMs?: number;
  /** Keys reconciled at once (default 4). */
  concurrency?: number;
  /** NATS for live progress into status (throttled); without it status changes only at phase edges. */
  natsUrl?: string | undefined;
  progressIntervalMs?: number;
  metrics?: OperatorMetrics | undefined;
}

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

const key = (ns: string, name: string) => `${ns}/${name}`;


export class MediaJobController {
  private readonly o: ControllerOptions;
  private readonly custom: CustomObjectsApi;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private mediaJobs!: Cached<MediaJobResource>;
  private jobs!: Cached<V1Job>;
  private pods!: Cached<V1Pod>;
  private readonly queue = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  /** Jobs just started whose "processing" status the cache may not show yet (admission counts them). */
  private readonly starting = new Map<string, string>();
  private readonly inFlight = new Set<string>();
  private stopped = false;
  private resync: NodeJS.Timeout | undefined;
  private relay: ProgressRelay | undefined;
  private readonly splitProgress = new SplitProgressBook();
  private publisher: LifecyclePublisher | undefined;

  constructor(o: ControllerOptions) {
    this.o = o;
    this.custom = o.kubeconfig.makeApiClient(CustomObjectsApi);
    this.batch = o.kubeconfig.makeApiClient(BatchV1Api);
    this.core = o.kubeconfig.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    const kc = this.o.kubeconfig;
    const selector = 'app.kubernetes.io/managed-by=kubeff-operator';
    this.mediaJobs = makeInformer<MediaJobResource>(kc, `/apis/${Group}/${Version}/${Plural}`, () => this.custom.listClusterCustomObject({ group: Group, version: Version, plural: Plural }) as never);
    this.jobs = makeInformer<V1Job>(kc, '/apis/batch/v1/jobs', () => this.batch.listJobForAllNamespaces({ labelSelector: selector }), selector);
    this.pods = makeInformer<V1Pod>(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces({ labelSelector: selector }), selector);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.mediaJobs.on(verb, (mj) => this.enqueue(key(mj.metadata?.namespace ?? '', mj.metadata?.name ?? '')));
      // Child events map to their owner; never acted on directly.
      this.jobs.on(verb, (j) => this.enqueueOwner(j));
      this.pods.on(verb, (p) => this.enqueueOwner(p));
    }
    await Promise.all([this.mediaJobs, this.jobs, this.pods].map((i) => startRestartable(i as Cached<KubernetesObject>, this.o.log, () => this.stopped)));
    this.o.metrics?.attach({
      phases: () => {
        const out = { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
        for (const mj of this.mediaJobs.list()) out[mj.status?.phase ?? 'queued']++;
        return out;
      },
      queueDepth: () => this.queue.size,
      outboxDepth: () => this.publisher?.pending() ?? 0,
    });
    this.resync = setInterval(() => this.enqueueAll(), this.o.resyncMs ?? 10_000);
    this.resync.unref();
    this.enqueueAll();
    if (this.o.natsUrl) {
      this.relay = new ProgressRelay({ url: this.o.natsUrl, intervalMs: this.o.progressIntervalMs, log: this.o.log, apply: (u) => this.applyProgress(u), onSplit: (ns, name, u) => this.splitProgressOf(ns, name, u) });
      await this.relay.start();
      this.publisher = new LifecyclePublisher({ url: this.o.natsUrl, log: this.o.log });
      await this.publisher.start();
    }
  }

  /**
   * Live progress for a running job. The patch carries the cached resourceVersion: if the object
   * changed meanwhile (say, it just completed), the API server refuses it and nothing is undone.
   */
  private async applyProgress(u: ProgressUpdate): Promise<void> {
    const mj = this.mediaJobs.get(u.name, u.namespace);
    if (!mj?.metadata?.resourceVersion || mj.status?.phase !== 'processing') return;
    const status: Record<string, unknown> = { progress: u.percentage };
    if (u.stage !== undefined) status['stage'] = u.stage;
    if (u.fps !== undefined) status['fps'] = u.fps;
    if (u.speed !== undefined) status['speed'] = u.speed;
    if (u.etaSeconds !== undefined) status['etaSeconds'] = u.etaSeconds;
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: Group, version: Version, namespace: u.namespace, plural: Plural, name: u.name, body: { metadata: { resourceVersion: mj.metadata.resourceVersion }, status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** A split job's progress from one of its stage pods, added up with what the Job says is done. */
  private splitProgressOf(ns: string, name: string, u: StageProgress): SplitProgressEvent | undefined {
    const mj = this.mediaJobs.get(name, ns);
    const chunking = mj?.status?.chunking;
    if (!mj?.metadata?.uid || mj.status?.phase !== 'processing' || !chunking) return undefined;
    const chunks = this.ownedJob(splitJobName(name, 'chunks'), ns, mj.metadata.uid);
    return this.splitProgress.update(key(ns, name), u, {
      chunkSeconds: chunkSecondsOf(chunking.boundaries),
      completed: indexSet(chunks?.status?.completedIndexes),
      failed: chunks?.status?.failed ?? 0,
      nowMs: Date.now(),
      time: new Date().toISOString(),
      minIntervalMs: Math.min(500, this.o.progressIntervalMs ?? 500),
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.resync);
    await this.relay?.stop();
    await this.publisher?.stop();
    for (const t of this.delayed.values()) clearTimeout(t);
    await Promise.all([this.mediaJobs, this.jobs, this.pods].map((i) => i?.stop()));
  }


  private enqueueOwner(o: KubernetesObject): void {
    const name = o.metadata?.labels?.[JobLabel];
    if (name) this.enqueue(key(o.metadata?.namespace ?? '', name));
  }

  private enqueueAll(): void {
    for (const mj of this.mediaJobs.list()) this.enqueue(key(mj.metadata?.namespace ?? '', mj.metadata?.name ?? ''));
  }

  private enqueue(k: string): void {
    this.queue.add(k);
    this.pump();
  }

  /**
   * Up to `concurrency` keys are reconciled at once (like controller-runtime's
   * MaxConcurrentReconciles), but never the same key twice at once: a key that changes while it
   * is being reconciled runs again afterwards.
   */
  private pump(): void {
    const limit = this.o.concurrency ?? 4;
    while (!this.stopped && this.inFlight.size < limit) {
      const k = [...this.queue].find((q) => !this.inFlight.has(q));
      if (k === undefined) return;
      this.queue.delete(k);
      this.inFlight.add(k);
      const began = process.hrtime.bigint();
      const observe = (result: 'ok' | 'error') => {
        this.o.metrics?.reconciles.inc({ result });
        this.o.metrics?.reconcileSeconds.observe(Number(process.hrtime.bigint() - began) / 1e9);
      };
      void this.reconcileKey(k).then(
        () => {
          observe('ok');
          this.failures.delete(k);
        },
        (err: unknown) => {
          observe('error');
          // Per-key backoff: one failing MediaJob does not slow the others.
          const n = (this.failures.get(k) ?? 0) + 1;
          this.failures.set(k, n);
          const delay = Math.min(30_000, 100 * 2 ** n);
          this.o.log.warn({ err, key: k, delay }, 'reconcile failed; will retry');
          clearTimeout(this.delayed.get(k));
          this.delayed.set(k, setTimeout(() => this.enqueue(k), delay));
        },
      ).finally(() => {
        this.inFlight.delete(k);
        this.pump();
      });
    }
  }

  private ownerOf(mj: MediaJobResource): string {
    return mj.metadata?.labels?.[OwnerLabel] ?? mj.metadata?.namespace ?? '';
  }

  private admitted(target: string): boolean {
    const queued: QueuedJob[] = [];
    const running: string[] = [];
    for (const mj of this.mediaJobs.list()) {
      const k = key(mj.metadata?.namespace ?? '', mj.metadata?.name ?? '');
      const phase = mj.status?.phase ?? 'queued';
      if (phase === 'processing' || this.starting.has(k)) running.push(this.ownerOf(mj));
      else if (phase === 'queued' && mj.metadata?.annotations?.[CancelAnnotation] !== 'true') {
        queued.push({ id: k, owner: this.ownerOf(mj), priority: mj.spec.options.priority, createdAt: mj.metadata?.creationTimestamp ? new Date(mj.metadata.creationTimestamp).toISOString() : '' });
      }
    }
    return admit(queued, running, { global: this.o.limits.global, perOwner: () => this.o.limits.perOwner }).includes(target);
  }

  private async reconcileKey(k: string): Promise<void> {
    const [ns, name] = k.split('/') as [string, string];
    const mj = this.mediaJobs.get(name, ns);
    if (!mj || !mj.metadata?.uid) {
      this.starting.delete(k);
      this.splitProgress.forget(k);
      return; // deleted: the garbage collector removes its Jobs through the owner reference
    }
    const status = mj.status ?? {};
    if (status.phase && status.phase !== 'queued') this.starting.delete(k);
    const uid = mj.metadata.uid;
    const now = new Date().toISOString();
    const observed = { name, generation: mj.metadata.generation ?? 1, annotations: mj.metadata.annotations ?? {}, status };
    const pods = this.pods.list(ns).filter((p) => p.metadata?.labels?.[JobLabel] === name);
    let decision: { status: MediaJobStatus | undefined; actions: SplitAction[] };
    let attemptJob: V1Job | undefined;
    if (isSplitJob(mj.spec)) {
      const stages: Partial<Record<SplitStageName, ObservedStage>> = {};
      for (const stage of ['plan', 'chunks', 'audio', 'merge', 'whole', 'cleanup'] as const) {
        const job = this.ownedJob(stage === 'whole' ? jobName(name) : splitJobName(name, stage), ns, uid);
        if (!job) continue;
        const stagePods = pods.filter((p) => (p.metadata?.labels?.[SplitStageLabel] ?? 'whole') === stage);
        stages[stage] = { job: observeJob(job), pods: stagePods.map(observePod) };
      }
      const started = WorkStages.some((s) => stages[s]) || (status.chunking !== undefined && status.startedAt !== undefined);
      decision = reconcileSplit({ mediaJob: observed, stages, admitted: !started && !isTerminal(status.phase ?? 'queued') ? this.admitted(k) : false, now });
      attemptJob = this.ownedJob(splitJobName(name, 'merge'), ns, uid) ?? this.ownedJob(jobName(name), ns, uid);
    } else {
      const job = this.ownedJob(jobName(name), ns, uid);
      const plain = reconcile({
        mediaJob: observed,
        job: job ? observeJob(job) : undefined,
        pods: pods.map(observePod),
        admitted: !job && !isTerminal(status.phase ?? 'queued') ? this.admitted(k) : false,
        now,
      });
      decision = { status: plain.status, actions: plain.actions.map((a) => ({ ...a, stage: 'whole' as const })) };
      attemptJob = job;
    }
    const log = this.o.log.child({ namespace: ns, name, jobId: name });
    // Counted as running before any await: concurrent reconciles must not admit past the limits.
    if (decision.actions.some((a) => a.type === 'createJob' && (a.stage === 'plan' || a.stage === 'whole'))) this.starting.set(k, this.ownerOf(mj));
    for (const a of decision.actions) {
      if (a.type === 'createJob') await this.createJob(k, mj, a, log);
      else await this.deleteJob(a.stage === 'whole' ? jobName(name) : splitJobName(name, a.stage), ns, a.propagation, log);
    }
    if (decision.status) {
      await this.custom.patchNamespacedCustomObjectStatus(
        { group: Group, version: Version, namespace: ns, plural: Plural, name, body: { status: decision.status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      const next = decision.status.phase ?? 'queued';
      if (isTerminal(next) && attemptJob && !isTerminal(status.phase ?? 'queued')) {
        // The attempt's span hangs under the Job's creation (the traceparent its pods got).
        recordAttemptSpan(attemptJob.metadata?.annotations?.[TraceAnnotation], `job ${mj.spec.type}`, decision.status.startedAt ?? status.startedAt, next, { 'kubeff.job.id': name, 'k8s.namespace.name': ns, 'kubeff.job.attempts': decision.status.attempts ?? 1 }, decision.status.error?.message);
      }
      const event = lifecycleEvent(uid, status, decision.status, new Date().toISOString(), mj.spec.options?.priority);
      if (event) this.publisher?.publish(ns, name, event, mj.metadata.annotations?.[TraceAnnotation]);
      if (isTerminal(next)) {
        this.starting.delete(k);
        this.splitProgress.forget(k);
        // A finished job frees a slot: the queue may admit the next one.
        if (!isTerminal(status.phase ?? 'queued')) this.enqueueAll();
      }
    }
  }

  /** A Job of this MediaJob (its controller owner reference), or undefined. */
  private ownedJob(jobNameValue: string, ns: string, uid: string): V1Job | undefined {
    const job = this.jobs.get(jobNameValue, ns);
    return job?.metadata?.ownerReferences?.some((r) => r.uid === uid && r.controller) ? job : undefined;
  }

  private async createJob(k: string, mj: MediaJobResource, a: Extract<SplitAction, { type: 'createJob' }>, log: Logger): Promise<void> {
    const [ns, name] = k.split('/') as [string, string];
    const annotations = mj.metadata?.annotations ?? {};
    const span = startCreateJobSpan(annotations[TraceAnnotation], { 'kubeff.job.id': name, 'k8s.namespace.name': ns, 'kubeff.job.type': mj.spec.type, 'kubeff.job.stage': a.stage });
    const traced = span.traceparent ? { ...annotations, [TraceAnnotation]: span.traceparent } : annotations;
    const object = { apiVersion: 'kubeff.io/v1alpha1' as const, kind: 'MediaJob' as const, metadata: { name, namespace: ns, uid: mj.metadata?.uid ?? '', annotations: traced }, spec: mj.spec };
    const body = a.stage === 'whole' ? buildJob(object, this.o.settings) : buildSplitJob(object, this.o.settings, a.stage, a.chunks ?? {});
    try {
      await this.batch.createNamespacedJob({ namespace: ns, body: body as V1Job });
      this.o.metrics?.jobsCreated.inc();
      span.end();
      log.info({ stage: a.stage, job: body.metadata.name }, 'job created');
    } catch (err) {
      if (httpCode(err) !== 409) {
        span.end(String(httpCode(err) ?? err));
        this.starting.delete(k);
        throw err;
      } // else AlreadyExists: a stale cache, nothing to do
      span.end();
    }
  }

  private async deleteJob(jobNameValue: string, ns: string, propagation: 'Foreground', log: Logger): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name: jobNameValue, namespace: ns, propagationPolicy: propagation });
      this.o.metrics?.jobsDeleted.inc();
      log.info({ job: jobNameValue }, 'job deleted');
    } catch (err) {
      if (httpCode(err) !== 404) throw err;
    }
  }
}

function observeJob(job: V1Job): ObservedJob {
  return {
    active: job.status?.active ?? 0,
    failedPods: job.status?.failed ?? 0,
    conditions: (job.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
    startTime: job.status?.startTime ? new Date(job.status.startTime).toISOString() : undefined,
    completedIndexes: job.status?.completedIndexes,
    deleting: job.metadata?.deletionTimestamp !== undefined,
  };
}

function observePod(p: V1Pod): ObservedPod {
  const t = p.status?.containerStatuses?.find((c) => c.name === WorkerContainer)?.state?.terminated;
  return {
    phase: p.status?.phase ?? 'Pending',
    terminated: t ? { exitCode: t.exitCode, message: t.message, finishedAt: t.finishedAt ? new Date(t.finishedAt).toISOString() : undefined } : undefined,
  };
}
