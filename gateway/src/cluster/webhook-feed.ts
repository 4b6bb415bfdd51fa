// The events that become webhook deliveries in cluster mode: a durable JetStream consumer shared
// by every gateway replica of a namespace, so each event goes to exactly one replica (which
// queues its delivery, signs and retries it). A message is acknowledged once the delivery row is
// stored; an event for a job this replica has not seen yet (its informer lags) is handed back and
// comes again shortly, perhaps to another replica.
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { LocalBus } from '../../../operator/src/bus.ts';
import type { Store } from '../../../operator/src/local/store.ts';
import { StreamName, parseJobSubject, subjectToken } from '../../../operator/src/nats/subjects.ts';
import { eventFromMessage } from './mirror.ts';

/** Pure: what to do with one message. */
export function feedDecision(kind: string | undefined, jobKnown: boolean, deliveryCount: number, maxWaits: number): 'skip' | 'feed' | 'later' | 'drop' {
  if (kind !== 'status' && kind !== 'progress') return 'skip';
  if (jobKnown) return 'feed';
  return deliveryCount < maxWaits ? 'later' : 'drop';
}

export class WebhookFeed {
  /** The dispatcher subscribes here (subscribeAll) instead of the replica's bus. */
  readonly bus = new LocalBus();
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private readonly o: { nats: NatsConnection; namespace: string; store: Store; log: Logger; laterMs?: number; maxWaits?: number };

  constructor(o: { nats: NatsConnection; namespace: string; store: Store; log: Logger; laterMs?: number; maxWaits?: number }) {
    this.o = o;
  }

  static durableName(namespace: string): string {
    return `kubeff-webhooks-${subjectToken(namespace)}`;
  }

  async start(): Promise<void> {
    const name = WebhookFeed.durableName(this.o.namespace);
    const jsm = await jetstreamManager(this.o.nats);
    const config = {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      // Events from the moment webhooks first started in this namespace; older ones went before.
      deliver_policy: DeliverPolicy.New,
      filter_subject: `kubeff.jobs.${subjectToken(this.o.namespace)}.>`,
      ack_wait: 30_000_000_000,
      max_deliver: 100,
      max_ack_pending: 1000,
    };
    try {
      await jsm.consumers.info(StreamName, name);
    } catch {
      try {
        await jsm.consumers.add(StreamName, config);
      } catch (err) {
        // Another replica created it in between.
        if (!/already|exists/i.test((err as Error).message)) throw err;
      }
    }
    const consumer = await jetstream(this.o.nats).consumers.get(StreamName, name);
    this.messages = await consumer.consume({ max_messages: 100 });
    const messages = this.messages;
    void (async () => {
      for await (const m of messages) {
        const subject = parseJobSubject(m.subject);
        const known = subject ? this.o.store.getJob(subject.name) !== undefined : false;
        const decision = feedDecision(subject?.kind, known, m.info.deliveryCount, this.o.maxWaits ?? 20);
        if (decision === 'later') {
          m.nak(this.o.laterMs ?? 500);
          continue;
        }
        if (decision === 'feed') {
          let payload: unknown;
          try {
            payload = m.json();
          } catch {
            payload = undefined;
          }
          const e = eventFromMessage(m.subject, m.seq, payload, m.timestamp);
          // The dispatcher stores the delivery synchronously inside publish.
          if (e) this.bus.publish(e);
        } else if (decision === 'drop') {
          this.o.log.warn({ subject: m.subject }, 'webhook event for a job never seen; dropped');
        }
        m.ack();
      }
    })().catch((err: unknown) => {
      if (!this.stopped) this.o.log.error({ err }, 'webhook event consumer stopped');
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
  }
}
