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

export function subjectFor(namespace: string, name: string, event: WorkerEvent): string {
  const kind = event.type === 'progress' ? 'progress' : event.type === 'log' ? 'log' : 'event';
  return `kubeff.jobs.${token(namespace)}.${token(name)}.${kind}`;
}

export class NatsSink implements EventSink {
  private nc: NatsConnection | undefined;
  private readonly ready: Promise<void>;
  private readonly namespace: string;
  private readonly name: string;
  private readonly traceparent: string | undefined;
  private readonly pending: WorkerEvent[] = [];

  constructor(opts: { url: string; namespace: string; name: string; traceparent?: string | undefined; connectTimeoutMs?: number }) {
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.traceparent = opts.traceparent;
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
      this.nc?.publish(subjectFor(this.namespace, this.name, event), JSON.stringify(event), { headers: h });
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
