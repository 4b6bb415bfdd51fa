// Worker events on NATS, for live progress in cluster mode: subjects
// kubeff.jobs.<namespace>.<name>.{progress,log,event}, JSON payloads, the job's traceparent in a
// header. NATS is for speed only: the job's result goes to the termination message, so this sink
// never blocks or fails the job — if NATS is unreachable, events are simply not sent.
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { EventSink, WorkerEvent } from './events.ts';

/** Subject tokens may not contain '.', '*', '>' or whitespace. */
function token(s: string): string {
  return s.replace(/[.*>\s]/g, '_') || '_';
}

/** A stage of a split job: its progress is its own, which the operator adds up for the job. */
export interface SplitStageRef {
  stage: 'plan' | 'chunk' | 'audio' | 'merge' | 'cleanup';
  index?: number | undefined;
}

/**
 * A whole job's progress goes to `.progress`, which SSE streams and the status show as it is. A
 * split job's stages report theirs on `.split` (with the stage and chunk index): only the
 * operator reads those, and publishes the job's combined progress on `.progress`.
 */
export function subjectFor(namespace: string, name: string, event: WorkerEvent, split?: SplitStageRef): string {
  const kind = event.type === 'log' ? 'log' : event.type === 'progress' || event.type === 'stage' ? (split ? 'split' : event.type === 'progress' ? 'progress' : 'event') : 'event';
  return `kubeff.jobs.${token(namespace)}.${token(name)}.${kind}`;
}

export class NatsSink implements EventSink {
  private nc: NatsConnection | undefined;
  private readonly ready: Promise<void>;
  private readonly namespace: string;
  private readonly name: string;
  private readonly traceparent: string | undefined;
  private readonly split: SplitStageRef | undefined;
  private readonly pending: WorkerEvent[] = [];

  constructor(opts: { url: string; namespace: string; name: string; traceparent?: string | undefined; connectTimeoutMs?: number; split?: SplitStageRef | undefined }) {
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.traceparent = opts.traceparent;
    this.split = opts.split;
    this.ready = connect({ servers: opts.url, timeout: opts.connectTimeoutMs ?? 2000, name: `kubeff-worker ${opts.name}`, maxReconnectAttempts: 10 }).then(
      (nc) => {
        this.nc = nc;
        for (const e of this.pending.splice(0)) this.publish(e);
      },
      () => {
        this.pending.length = 0; // unreachable: the job goes on without live events
      },
    );
  }

  emit(event: WorkerEvent): void {
    if (this.nc) this.publish(event);
    else if (this.pending.length < 1000) this.pending.push(event);
  }

  private publish(event: WorkerEvent): void {
    try {
      const h = headers();
      if (this.traceparent) h.set('traceparent', this.traceparent);
      const subject = subjectFor(this.namespace, this.name, event, this.split);
      const payload = this.split && subject.endsWith('.split') ? { ...event, splitStage: this.split.stage, ...(this.split.index !== undefined ? { chunk: this.split.index } : {}) } : event;
      this.nc?.publish(subject, JSON.stringify(payload), { headers: h });
    } catch {
      // a closed or draining connection: drop the event
    }
  }

  /** Flushes what was published, bounded in time, then closes. */
  async close(): Promise<void> {
    await Promise.race([this.ready, new Promise((r) => setTimeout(r, 2500))]);
    const nc = this.nc;
    if (!nc) return;
    await Promise.race([nc.flush().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
    await nc.close().catch(() => undefined);
  }
}

/** Sends every event to several sinks (JSON lines for the runtime, NATS for live progress). */
export class TeeSink implements EventSink {
  private readonly sinks: EventSink[];
  constructor(...sinks: EventSink[]) {
    this.sinks = sinks;
  }
  emit(event: WorkerEvent): void {
    for (const s of this.sinks) s.emit(event);
  }
  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
