// Where a job's progress, log lines and lifecycle go. JSON lines for now (the local runtime reads
// them from the worker's stdout or a file); a NATS sink implements the same interface later.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

export type WorkerEvent =
  | { type: 'started'; time: string; acceleration?: unknown }
  | { type: 'stage'; time: string; stage: string }
  | { type: 'progress'; time: string; stage: string; percentage: number; fps?: number | undefined; speed?: number | undefined; etaSeconds?: number | undefined }
  | { type: 'log'; time: string; line: string }
  | { type: 'completed' | 'failed' | 'cancelled'; time: string; result: unknown };

export interface EventSink {
  emit(event: WorkerEvent): void;
  close(): Promise<void>;
}

export class JsonLinesSink implements EventSink {
  private readonly out: Writable;
  private readonly owned: WriteStream | undefined;
  constructor(target: Writable | string) {
    if (typeof target === 'string') {
      this.owned = createWriteStream(target, { flags: 'a' });
      this.out = this.owned;
    } else {
      this.owned = undefined;
      this.out = target;
    }
  }
  private broken = false;

  emit(event: WorkerEvent): void {
    if (this.broken) return;
    this.out.write(`${JSON.stringify(event)}\n`);
  }

  /** Called once the reader is gone (EPIPE): events are dropped, the job's own work goes on. */
  onBroken(fn: () => void): void {
    this.out.on('error', () => {
      this.broken = true;
      fn();
    });
  }
  close(): Promise<void> {
    const owned = this.owned;
    if (!owned) return Promise.resolve();
    return new Promise((resolve) => owned.end(resolve));
  }
}

/** Collects events in memory (tests, and callers that only need the final state). */
export class MemorySink implements EventSink {
  readonly events: WorkerEvent[] = [];
  emit(event: WorkerEvent): void {
    this.events.push(event);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
