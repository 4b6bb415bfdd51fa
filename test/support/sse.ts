// Reading a job's server-sent events over a real connection, with the CLI's own SSE parser.
import { SseParser, type SseEvent } from '../../sdk/src/sse-parser.ts';

export type { SseEvent };

/** Reads an SSE response until `until` accepts an event or the stream ends (bounded in time). */
export async function readEvents(res: Response, until: (e: SseEvent) => boolean, timeoutMs = 90_000): Promise<SseEvent[]> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error('no SSE body');
  const parser = new SseParser();
  const events: SseEvent[] = [];
  const deadline = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return events;
      for (const e of parser.pushBytes(value)) {
        events.push(e);
        if (until(e)) return events;
      }
    }
  } finally {
    clearTimeout(deadline);
    void reader.cancel().catch(() => undefined);
  }
}

export const terminalEvent = (e: SseEvent) => ['complete', 'error', 'cancelled'].includes(e.event);
