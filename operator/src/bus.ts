// Where job events go once stored: SSE streams and the webhook dispatcher subscribe here.
// Standalone mode uses this in-process bus; cluster mode puts NATS JetStream behind the same shape.
import { EventEmitter } from 'node:events';
import type { StoredEvent } from './local/store.ts';

export interface JobEventBus {
  publish(event: StoredEvent): void;
  /** Events of one job; returns the unsubscribe function. */
  subscribe(jobId: string, fn: (event: StoredEvent) => void): () => void;
  /** Every job's events (webhooks, metrics). */
  subscribeAll(fn: (event: StoredEvent) => void): () => void;
}

export class LocalBus implements JobEventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per open SSE stream: no fixed ceiling makes sense.
    this.emitter.setMaxListeners(0);
  }

  publish(event: StoredEvent): void {
    this.emitter.emit(`job:${event.jobId}`, event);
    this.emitter.emit('all', event);
  }

  subscribe(jobId: string, fn: (event: StoredEvent) => void): () => void {
    this.emitter.on(`job:${jobId}`, fn);
    return () => this.emitter.off(`job:${jobId}`, fn);
  }

  subscribeAll(fn: (event: StoredEvent) => void): () => void {
    this.emitter.on('all', fn);
    return () => this.emitter.off('all', fn);
  }
}
