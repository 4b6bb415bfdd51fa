// Publishes the operator's lifecycle events to JetStream, in order, with an outbox: while NATS is
// unreachable they wait (bounded) and go out when it is back. Each carries a message id, so a
// copy published twice is stored once; and the job's traceparent as a header.
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { LifecycleEvent } from '../lifecycle.ts';
import { ensureJobStream, type StreamSettings } from './stream.ts';
import { jobSubject } from './subjects.ts';

interface Pending {
  subject: string;
  event: LifecycleEvent;
  traceparent: string | undefined;
}

export class LifecyclePublisher {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private readonly outbox: Pending[] = [];
  private flushing = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly o: { url: string; log: Logger; stream?: StreamSettings; maxPending?: number; retryMs?: number };

  constructor(o: { url: string; log: Logger; stream?: StreamSettings; maxPending?: number; retryMs?: number }) {
    this.o = o;
  }

  async start(): Promise<void> {
    this.nc = await connect({ servers: this.o.url, maxReconnectAttempts: -1, waitOnFirstConnect: true, name: 'kubeff-operator-events' });
    await ensureJobStream(this.nc, this.o.stream);
    this.js = jetstream(this.nc);
  }

  publish(namespace: string, name: string, event: LifecycleEvent, traceparent?: string): void {
    if (this.outbox.length >= (this.o.maxPending ?? 10_000)) {
      // The MediaJob status holds the truth; only the live notification is lost.
      this.o.log.warn({ namespace, name, jobId: name, event: event.type }, 'lifecycle outbox full; event dropped');
      return;
    }
    this.outbox.push({ subject: jobSubject(namespace, name, 'status'), event, traceparent });
    void this.flush();
  }

  pending(): number {
    return this.outbox.length;
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.stopped || !this.js) return;
    this.flushing = true;
    try {
      while (this.outbox.length && !this.stopped) {
        const p = this.outbox[0] as Pending;
        const h = headers();
        if (p.traceparent) h.set('traceparent', p.traceparent);
        try {
          await this.js.publish(p.subject, JSON.stringify({ type: p.event.type, time: p.event.time, data: p.event.data }), { msgID: p.event.id, headers: h, timeout: 5000 });
          this.outbox.shift();
        } catch (err) {
          this.o.log.debug({ err, subject: p.subject }, 'lifecycle publish failed; will retry');
          clearTimeout(this.retry);
          this.retry = setTimeout(() => void this.flush(), this.o.retryMs ?? 1000);
          this.retry.unref();
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async stop(): Promise<void> {
    // Give what is queued a short chance to go out.
    const deadline = Date.now() + 2000;
    while (this.outbox.length && Date.now() < deadline && this.js) {
      await this.flush();
      if (this.outbox.length) await new Promise((r) => setTimeout(r, 100));
    }
    this.stopped = true;
    clearTimeout(this.retry);
    await this.nc?.close().catch(() => undefined);
  }
}
