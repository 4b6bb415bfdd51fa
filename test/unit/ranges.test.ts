// Range header parsing for downloads (RFC 9110 §14).
import { describe, expect, it } from 'vitest';
import { parseRange } from '../../gateway/src/ranges.ts';

describe('parseRange', () => {
  it.each([
    { h: 'bytes=0-99', size: 1000, want: { kind: 'range', start: 0, end: 99 } },
    { h: 'bytes=500-', size: 1000, want: { kind: 'range', start: 500, end: 999 } },
    { h: 'bytes=-100', size: 1000, want: { kind: 'range', start: 900, end: 999 } },
    { h: 'bytes=-5000', size: 1000, want: { kind: 'range', start: 0, end: 999 } },
    { h: 'bytes=990-5000', size: 1000, want: { kind: 'range', start: 990, end: 999 } },
    { h: 'Bytes = 1-1', size: 10, want: { kind: 'range', start: 1, end: 1 } },
  ])('$h of $size bytes', ({ h, size, want }) => {
    expect(parseRange(h, size)).toEqual(want);
  });

  it.each([undefined, 'items=0-1', 'bytes=0-1,5-6'])('serves the whole file for %s', (h) => {
    expect(parseRange(h, 100)).toEqual({ kind: 'whole' });
  });

  it.each([
    { h: 'bytes=100-', size: 100 },
    { h: 'bytes=100-200', size: 100 },
    { h: 'bytes=-0', size: 100 },
    { h: 'bytes=-1', size: 0 },
    { h: 'bytes=0-', size: 0 },
    { h: 'bytes=9-3', size: 100 },
    { h: 'bytes=-', size: 100 },
    { h: 'bytes=a-b', size: 100 },
    { h: 'bytes=', size: 100 },
  ])('refuses $h of $size bytes', ({ h, size }) => {
    expect(parseRange(h, size).kind).toBe('unsatisfiable');
  });
});
