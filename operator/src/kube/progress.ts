// Live progress from NATS into MediaJob status, throttled: workers publish every half second,
// the API server gets at most one status patch per job per interval. Only a speed-up: the final
// state always comes from the pod's termination message, so losing NATS loses nothing.
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { jobSubject, parseJobSubject } from '../nats/subjects.ts';
import { parseStageProgress, type SplitProgressEvent, type StageProgress } from '../split.ts';

export interface ProgressUpdate {
  namespace: string;
  name: string;
  percentage: number;
  stage?: string | undefined;
  fps?: number | undefined;
  speed?: number | undefined;
  etaSeconds?: number | undefined;
}

/** Pure: parses `kubeff.jobs.<ns>.<name>.progress` and the worker's progress event. */
export function parseProgress(subject: string, data: unknown): ProgressUpdate | undefined {
  const m = /^kubeff\.jobs\.([^.]+)\.([^.]+)\.progress$/.exec(subject);
  const e = data as { type?: string; percentage?: unknown; stage?: unknown; fps?: unknown; speed?: unknown; etaSeconds?: unknown } | null;
  if (!m || !e || e.type !== 'progress' || typeof e.percentage !== 'number' || !Number.isFinite(e.percentage)) return undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return {
    namespace: m[1] as string,
    name: m[2] as string,
    percentage: Math.max(0, Math.min(100, e.percentage)),
    stage: typeof e.stage === 'string' ? e.stage.slice(0, 64) : undefined,
    fps: num(e.fps),
    speed: num(e.speed),
    etaSeconds: num(e.etaSeconds),
  };
}

/** Pure throttle: whether a job's update may go out now, given when its last one went. */
export function shouldSend(last: number | undefined, now: number, intervalMs: number, final: boolean): boolean {
  return final || last === undefined || now - last >= intervalMs;
}

/** Adds a split job's stage progress into the job's; undefined when nothing is due yet. */
export type SplitHandler = (namespace: string, name: string, u: StageProgress) => SplitProgressEvent | undefined;

export class ProgressRelay {
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private readonly last = new Map<string, number>();
  private readonly url: string;
  private readonly intervalMs: number;
  private readonly apply: (u: ProgressUpdate) => Promise<void>;
  private readonly log: Logger;
  private readonly onSplit: SplitHandler | undefined;
  private splitSub: Subscription | undefined;

  constructor(o: { url: string; intervalMs?: number; log: Logger; apply: (u: ProgressUpdate) => Promise<void>; onSplit?: SplitHandler }) {
    this.url = o.url;
    this.intervalMs = o.intervalMs ?? 2000;
    this.apply = o.apply;
    this.log = o.log;
    this.onSplit = o.onSplit;
  }

  async start(): Promise<void> {
    // Unlimited reconnects: NATS coming back later resumes live progress on its own.
    this.nc = await connect({ servers: this.url, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: 'kubeff-operator' });
    this.sub = this.nc.subscribe('kubeff.jobs.*.*.progress');
    void (async () => {
      for await (const m of this.sub ?? []) {
        let data: unknown;
        try {
          data = m.json();
        } catch {
          continue;
        }
        const u = parseProgress(m.subject, data);
        if (!u) continue;
        const k = `${u.namespace}/${u.name}`;
        const now = Date.now();
        if (!shouldSend(this.last.get(k), now, this.intervalMs, u.percentage >= 100)) continue;
        this.last.set(k, now);
        this.apply(u).catch((err: unknown) => this.log.debug({ err, namespace: u.namespace, name: u.name }, 'progress patch skipped'));
      }
    })();
    if (this.onSplit) this.followSplitStages(this.nc, this.onSplit);
  }

  /**
   * A split job's stage pods report their own progress on `.split`; the handler adds it up into
   * the job's, published on `.progress` like a whole job's (SSE streams, webhooks and the status
   * patch above read it there).
   */
  private followSplitStages(nc: NatsConnection, onSplit: SplitHandler): void {
    this.splitSub = nc.subscribe('kubeff.jobs.*.*.split');
    void (async () => {
      for await (const m of this.splitSub ?? []) {
        const subject = parseJobSubject(m.subject);
        let data: unknown;
        try {
          data = m.json();
        } catch {
          continue;
        }
        const u = subject ? parseStageProgress(data) : undefined;
        if (!subject || !u) continue;
        const event = onSplit(subject.namespace, subject.name, u);
        if (event) nc.publish(jobSubject(subject.namespace, subject.name, 'progress'), JSON.stringify(event));
      }
    })();
  }

  async stop(): Promise<void> {
    this.sub?.unsubscribe();
    this.splitSub?.unsubscribe();
    await this.nc?.close().catch(() => undefined);
  }
}
