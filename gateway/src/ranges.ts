// HTTP byte ranges (RFC 9110 §14): one `bytes=` range per request. Several ranges would need a
// multipart/byteranges reply, which players do not ask for; such a request gets the whole file,
// which the RFC allows.

export type RangeResult =
  /** No Range, or one to ignore (another unit, several ranges): send the whole file. */
  | { kind: 'whole' }
  /** One satisfiable range; both ends inclusive, inside the file. */
  | { kind: 'range'; start: number; end: number }
  /** A bytes range that no part of the file satisfies, or one that is malformed. */
  | { kind: 'unsatisfiable'; reason: string };

const spec = /^(\d*)-(\d*)$/;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'whole' };
  const m = /^\s*bytes\s*=(.*)$/i.exec(header);
  // A unit we do not serve must be ignored (RFC 9110 §14.2).
  if (!m) return { kind: 'whole' };
  const parts = (m[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (parts.length > 1) return { kind: 'whole' };
  const one = spec.exec(parts[0] ?? '');
  if (!one) return { kind: 'unsatisfiable', reason: `malformed; expected bytes=START-END, bytes=START- or bytes=-LENGTH` };
  const [, a = '', b = ''] = one;
  if (a === '' && b === '') return { kind: 'unsatisfiable', reason: 'malformed; a range needs a start or a length' };
  if (a === '') {
    // Suffix range: the last n bytes.
    const n = Number(b);
    if (n === 0) return { kind: 'unsatisfiable', reason: 'a suffix range must ask for at least one byte' };
    if (size === 0) return { kind: 'unsatisfiable', reason: 'the file is empty' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return { kind: 'unsatisfiable', reason: 'the range ends before it starts' };
  if (start >= size) return { kind: 'unsatisfiable', reason: `starts at byte ${start}, but the file has ${size} bytes` };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { kind: 'range', start, end };
}
