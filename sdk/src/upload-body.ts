// What an upload may be given, made into a fetch body without reading it into memory: a web
// ReadableStream, any async iterable of bytes (a Node Readable is one), a Blob or File, or bytes
// already in memory.
import type { RequestBodyInit } from './transport.ts';

/** An upload's bytes. */
export type UploadSource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string> | Blob | Uint8Array | ArrayBuffer;

export interface PreparedBody {
  body: RequestBodyInit;
  /** Whether the body can be sent again (a 429 retry): not for streams, which are read once. */
  replayable: boolean;
  /** The source's own type, when it has a useful one (a File from an <input>). */
  contentType: string | undefined;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Uint8Array | string> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

/**
 * An async iterable as a ReadableStream that pulls one chunk at a time, so a slow connection holds
 * back the source (backpressure) instead of the chunks piling up in memory.
 */
export function iterableToStream(source: AsyncIterable<Uint8Array | string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(typeof value === 'string' ? encoder.encode(value) : value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  }, { highWaterMark: 1 });
}

export function prepareBody(source: UploadSource): PreparedBody {
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const t = source.type.toLowerCase();
    return { body: source, replayable: true, contentType: /^(video|audio|image)\//.test(t) ? source.type : undefined };
  }
  if (source instanceof ArrayBuffer) return { body: new Uint8Array(source), replayable: true, contentType: undefined };
  if (ArrayBuffer.isView(source)) return { body: source as Uint8Array<ArrayBuffer>, replayable: true, contentType: undefined };
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return { body: source, replayable: false, contentType: undefined };
  if (isAsyncIterable(source)) return { body: iterableToStream(source), replayable: false, contentType: undefined };
  throw new TypeError('upload: the body must be a ReadableStream, an async iterable of bytes (a Node Readable), a Blob, a Uint8Array or an ArrayBuffer');
}
