// The job stream, created or updated idempotently by whichever component starts first (gateway or
// operator). It keeps events long enough for SSE resume and for the webhook consumer; the
// duplicate window lets the operator republish a lifecycle event after a restart without a copy.
import { jetstreamManager, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { StreamName, StreamSubjects } from './subjects.ts';

export interface StreamSettings {
  /** How long events are kept (default one day). */
  maxAgeSeconds?: number;
  /** Storage bytes at most (default 1 GiB); the oldest events go first. */
  maxBytes?: number;
}

const nanos = (s: number) => s * 1_000_000_000;

export function streamConfig(s: StreamSettings = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: StreamName,
    subjects: [StreamSubjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(s.maxAgeSeconds ?? 86_400),
    max_bytes: s.maxBytes ?? 1024 ** 3,
    duplicate_window: nanos(120),
  };
}

export async function ensureJobStream(nc: NatsConnection, s: StreamSettings = {}): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const cfg = streamConfig(s);
  try {
    await jsm.streams.info(StreamName);
    await jsm.streams.update(StreamName, cfg);
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    try {
      await jsm.streams.add(cfg);
    } catch (e) {
      // Another replica created it in between.
      if (!/already in use|exists/i.test((e as Error).message)) throw e;
    }
  }
}
