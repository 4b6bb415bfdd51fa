// A server-sent events parser that follows the WHATWG rules: events may arrive split across any
// number of network chunks, even inside a UTF-8 character or between the CR and LF of one line
// ending. The resume point (lastEventId) moves only when an event is complete, which is what lets
// a reconnecting client (event-stream.ts) lose and repeat nothing. Platform primitives only.

export interface SseEvent {
  /** The stream's last event id when this event was dispatched ('' before any `id:` line). */
  id: string;
  /** The `event:` name; 'message' when none was given. */
  event: string;
  /** The `data:` lines joined with '\n'. */
  data: string;
}

export class SseParser {
  /**
   * The id of the last dispatched event; sent back as Last-Event-ID when reconnecting. An `id:`
   * line takes effect only once its event is complete: resuming after the id of an event that was
   * cut off by the drop would skip that event.
   */
  lastEventId: string;
  /** Reconnection delay the server asked for with `retry:`, if any. */
  retryMs: number | undefined;

  /** The `id:` of the event being received, committed to lastEventId at its blank line. */
  private idBuffer: string;

  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** The previous chunk ended in CR: an LF opening the next chunk belongs to that line ending. */
  private skipLf = false;
  private bomChecked = false;
  private eventType = '';
  private data: string[] = [];

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** Feeds raw bytes; a multi-byte character split across chunks is decoded once whole. */
  pushBytes(chunk: Uint8Array): SseEvent[] {
    return this.push(this.decoder.decode(chunk, { stream: true }));
  }

  /** Feeds text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    let s = text;
    if (!this.bomChecked && s.length > 0) {
      this.bomChecked = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    if (this.skipLf && s.startsWith('\n')) s = s.slice(1);
    if (s.length > 0) this.skipLf = false;
    this.buffer += s;

    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', start);
      const lf = this.buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      const line = this.buffer.slice(start, end);
      if (this.buffer[end] === '\r') {
        if (end + 1 < this.buffer.length) start = this.buffer[end + 1] === '\n' ? end + 2 : end + 1;
        else {
          // CR is the last character so far: its LF, if any, comes with the next chunk.
          start = end + 1;
          this.skipLf = true;
        }
      } else start = end + 1;
      const e = this.line(line);
      if (e) events.push(e);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /**
   * The connection ended: a partly received event is dropped (the spec's rule, and the reason a
   * resumed stream repeats it in full), and the decoder starts afresh for the next connection.
   */
  reset(): void {
    this.decoder.decode();
    this.buffer = '';
    this.skipLf = false;
    this.bomChecked = false;
    this.eventType = '';
    this.data = [];
    this.idBuffer = this.lastEventId;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined; // a comment: keep-alives
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        // An id with NUL is ignored by the spec (it could not be sent back in a header).
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    this.lastEventId = this.idBuffer;
    const type = this.eventType;
    const data = this.data;
    this.eventType = '';
    this.data = [];
    // A block with no data line (e.g. only `retry:`) is not an event, but its id still counts.
    if (data.length === 0) return undefined;
    return { id: this.lastEventId, event: type || 'message', data: data.join('\n') };
  }
}
