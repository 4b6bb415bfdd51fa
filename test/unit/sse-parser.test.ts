// The SDK's server-sent-events client: the parser on every way a stream can be cut into chunks,
// and the follower's resume-after-drop against a small local server (127.0.0.1 only).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { followEventStream, type EventStreamOptions } from '../../sdk/src/event-stream.ts';
import { KubeffError, KubeffNetworkError } from '../../sdk/src/errors.ts';
import { SseParser, type SseEvent } from '../../sdk/src/sse-parser.ts';

function parseAll(chunks: string[]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser();
  const events = chunks.flatMap((c) => parser.push(c));
  return { events, parser };
}

const stream = [
  'retry: 2000\n\n',
  ': keep-alive 2025-01-27T10:00:00Z\n\n',
  'id: 1\nevent: status\ndata: {"status":"queued"}\n\n',
  'id: 2\nevent: progress\ndata: {"percentage":25.5,"stage":"encoding","fps":48.5,"eta_seconds":240}\n\n',
  ': keep-alive\n\n',
  'id: 3\nevent: complete\ndata: {"status":"completed","output_path":"/storage/output/final.mp4"}\n\n',
].join('');

const expected: SseEvent[] = [
  { id: '1', event: 'status', data: '{"status":"queued"}' },
  { id: '2', event: 'progress', data: '{"percentage":25.5,"stage":"encoding","fps":48.5,"eta_seconds":240}' },
  { id: '3', event: 'complete', data: '{"status":"completed","output_path":"/storage/output/final.mp4"}' },
];

describe('SseParser', () => {
  it('reads the events of a whole stream, with their ids, names and data', () => {
    const { events, parser } = parseAll([stream]);
    expect(events).toEqual(expected);
    expect(parser.lastEventId).toBe('3');
    expect(parser.retryMs).toBe(2000);
  });

  it('gives the same events wherever the stream is cut in two', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(parseAll([stream.slice(0, i), stream.slice(i)]).events, `cut at ${i}`).toEqual(expected);
    }
  });

  it('gives the same events when every character arrives alone', () => {
    expect(parseAll([...stream]).events).toEqual(expected);
  });

  it('decodes a UTF-8 character split across byte chunks', () => {
    const bytes = new TextEncoder().encode('id: 7\nevent: progress\ndata: {"stage":"encodé ✓"}\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of 'é'
    const parser = new SseParser();
    const events = [...parser.pushBytes(bytes.slice(0, cut)), ...parser.pushBytes(bytes.slice(cut, cut + 3)), ...parser.pushBytes(bytes.slice(cut + 3))];
    expect(events).toEqual([{ id: '7', event: 'progress', data: '{"stage":"encodé ✓"}' }]);
  });

  it('joins multi-line data with newlines', () => {
    const { events } = parseAll(['event: log\ndata: first line\ndata: second line\ndata:\ndata: fourth\n\n']);
    expect(events).toEqual([{ id: '', event: 'log', data: 'first line\nsecond line\n\nfourth' }]);
  });

  it('accepts CRLF and lone CR line endings, also with the CR and LF in different chunks', () => {
    expect(parseAll(['id: 1\r\nevent: a\r\ndata: x\r\n\r\n']).events).toEqual([{ id: '1', event: 'a', data: 'x' }]);
    expect(parseAll(['id: 1\revent: a\rdata: x\r\r']).events).toEqual([{ id: '1', event: 'a', data: 'x' }]);
    // The CR ends one chunk and its LF opens the next: one line ending, not an empty line between.
    expect(parseAll(['data: x\r', '\ndata: y\r', '\n\r', '\n']).events).toEqual([{ id: '', event: 'message', data: 'x\ny' }]);
  });

  it('ignores comments and keep-alives, also between the lines of one event', () => {
    const { events } = parseAll([': keep-alive\n\n', 'event: progress\n: a comment inside\ndata: {}\n\n', ':\n\n']);
    expect(events).toEqual([{ id: '', event: 'progress', data: '{}' }]);
  });

  it('names an event without an event field "message" and strips only one leading space', () => {
    expect(parseAll(['data:  two spaces\n\n']).events).toEqual([{ id: '', event: 'message', data: ' two spaces' }]);
    expect(parseAll(['data:nospace\n\n']).events).toEqual([{ id: '', event: 'message', data: 'nospace' }]);
  });

  it('keeps the last id for later events and for blocks without data', () => {
    const { events, parser } = parseAll(['id: 5\nevent: a\ndata: 1\n\n', 'event: b\ndata: 2\n\n', 'id: 9\n\n']);
    expect(events).toEqual([
      { id: '5', event: 'a', data: '1' },
      { id: '5', event: 'b', data: '2' },
    ]);
    // A block with only an id dispatches nothing but moves the resume point.
    expect(parser.lastEventId).toBe('9');
  });

  it('ignores an id containing NUL, a non-numeric retry and unknown fields', () => {
    const { events, parser } = parseAll(['id: 4\nretry: 1000\n\n', 'id: a\0b\nretry: soon\nfoo: bar\ndata: x\n\n']);
    expect(events).toEqual([{ id: '4', event: 'message', data: 'x' }]);
    expect(parser.retryMs).toBe(1000);
  });

  it('does not dispatch an event until its blank line, and drops a partial one on reset', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\nevent: progress\ndata: {"percentage":10}\n')).toEqual([]);
    parser.reset();
    // The next connection starts clean: nothing of the cut event (not even its id) leaks into the next one.
    expect(parser.push('data: fresh\n\n')).toEqual([{ id: '', event: 'message', data: 'fresh' }]);
  });

  it('moves the resume point only when an event is complete, so a cut event is asked for again', () => {
    const parser = new SseParser();
    parser.push('id: 2\ndata: two\n\nid: 3\nevent: progress\n');
    expect(parser.lastEventId).toBe('2');
    parser.reset();
    expect(parser.lastEventId).toBe('2');
    expect(parser.push('data: three\n\n')).toEqual([{ id: '2', event: 'message', data: 'three' }]);
  });

  it('starts from a given resume point', () => {
    const parser = new SseParser('41');
    expect(parser.push('data: x\n\n')).toEqual([{ id: '41', event: 'message', data: 'x' }]);
  });

  it('strips a byte order mark at the start of a stream', () => {
    expect(parseAll(['\ufeffdata: x\n\n']).events).toEqual([{ id: '', event: 'message', data: 'x' }]);
  });
});

/** Reads the stream until an event `isFinal` accepts; every event seen, in order, and that one. */
async function followEvents(o: Omit<EventStreamOptions, 'fetch' | 'headers'> & { headers?: Record<string, string>; isFinal: (e: SseEvent) => boolean }): Promise<{ got: SseEvent[]; final: SseEvent }> {
  const got: SseEvent[] = [];
  for await (const e of followEventStream({ ...o, headers: o.headers ?? {}, fetch: (url, init) => fetch(url, init) })) {
    got.push(e);
    if (o.isFinal(e)) return { got, final: e };
  }
  throw new Error(`the stream ended without a final event after ${got.length} events`);
}

describe('followEventStream', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server?.close(r));
      server = undefined;
    }
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  }

  const sseHead = { 'content-type': 'text/event-stream' };
  const ev = (id: number, event: string, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

  it('resumes with Last-Event-ID after a dropped connection, losing and repeating nothing', async () => {
    const seen: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      const last = req.headers['last-event-id'];
      seen.push(Array.isArray(last) ? last[0] : last);
      res.writeHead(200, sseHead);
      res.write('retry: 20\n\n');
      if (seen.length === 1) {
        res.write(ev(1, 'status', { status: 'processing' }));
        res.write(ev(2, 'progress', { percentage: 40 }));
        // Half of event 3, then the connection breaks.
        res.write('id: 3\nevent: progress\ndata: {"perc');
        setTimeout(() => res.destroy(), 20);
        return;
      }
      const after = Number(last ?? 0);
      for (const [id, event, data] of [[3, 'progress', { percentage: 80 }], [4, 'complete', { status: 'completed' }]] as const) {
        if (id > after) res.write(ev(id, event, data));
      }
      res.end();
    });
    const reconnects: string[] = [];
    const { got, final } = await followEvents({
      url,
      headers: { 'x-api-key': 'k' },
      isFinal: (e) => e.event === 'complete',
      onReconnect: (r) => reconnects.push(r.reason),
    });
    expect(final).toEqual({ id: '4', event: 'complete', data: '{"status":"completed"}' });
    expect(got.map((e) => e.id)).toEqual(['1', '2', '3', '4']);
    expect(got[2]?.data).toBe('{"percentage":80}');
    expect(seen).toEqual([undefined, '2']);
    expect(reconnects).toHaveLength(1);
  });

  it('reconnects when the server ends the stream before the final event', async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls++;
      res.writeHead(200, sseHead);
      res.write('retry: 10\n\n');
      if (calls === 1) res.end(ev(1, 'progress', { percentage: 50 }));
      else res.end(req.headers['last-event-id'] === '1' ? ev(2, 'error', { status: 'failed' }) : ev(1, 'progress', { percentage: 50 }));
    });
    const { final } = await followEvents({ url, isFinal: (e) => e.event === 'error' });
    expect(final.event).toBe('error');
    expect(calls).toBe(2);
  });

  it('gives up after a bounded number of attempts that bring nothing', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"unavailable"}}');
    });
    const err = await followEvents({ url, isFinal: () => true, maxRetries: 3, retryDelayMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeffNetworkError);
    expect((err as KubeffNetworkError).reason).toBe('stream_lost');
    expect((err as Error).message).toMatch(/after 3 reconnection attempts: HTTP 503/);
    expect(calls).toBe(4);
  });

  it('does not retry an answer that retrying cannot change (404), and reports it with the API\'s envelope', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"JOB_NOT_FOUND","message":"Job not found"}}');
    });
    const err = await followEvents({ url, isFinal: () => true, retryDelayMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeffError);
    expect((err as KubeffError).status).toBe(404);
    expect((err as KubeffError).code).toBe('JOB_NOT_FOUND');
    expect((err as KubeffError).retryable).toBe(false);
    expect(calls).toBe(1);
  });

  it('treats a silent connection as dead and reconnects', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      res.writeHead(200, sseHead);
      // First connection: headers, then silence (no keep-alives) until the client gives up on it.
      if (calls === 1) res.flushHeaders();
      else res.end(`retry: 10\n\n${ev(1, 'complete', { status: 'completed' })}`);
    });
    const { final } = await followEvents({ url, isFinal: (e) => e.event === 'complete', idleTimeoutMs: 150, retryDelayMs: 10 });
    expect(final.event).toBe('complete');
    expect(calls).toBe(2);
  });

  it('refuses an answer that is not an event stream, without retrying', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>a proxy page</html>');
    });
    const err = await followEvents({ url, isFinal: () => true, retryDelayMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeffNetworkError);
    expect((err as KubeffNetworkError).reason).toBe('bad_response');
    expect(calls).toBe(1);
  });

  it('stops when its signal is aborted', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, sseHead);
      res.write(': keep-alive\n\n');
    });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(new Error('stop')), 50);
    await expect(followEvents({ url, isFinal: () => false, signal: ctrl.signal })).rejects.toThrow('stop');
  });

  it('closes the connection when the consumer stops iterating', async () => {
    let closed = false;
    const url = await serve((req, res) => {
      res.writeHead(200, sseHead);
      res.write(ev(1, 'progress', { percentage: 1 }));
      req.on('close', () => (closed = true));
    });
    for await (const e of followEventStream({ url, headers: {}, fetch: (u, i) => fetch(u, i) })) {
      expect(e.id).toBe('1');
      break;
    }
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(closed, 'the server saw the connection close after the consumer broke out').toBe(true);
  });
});
