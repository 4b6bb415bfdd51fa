// Filter-graph text is built only from numbers we format and tokens we choose.
import { describe, expect, it } from 'vitest';
import { chain, filter, num, rateForInterval } from '../../worker-image/src/plan/graph.ts';

const plainDecimal = /^-?\d+(\.\d+)?$/;

/** num() either formats plainly or refuses; exponent notation is the one thing it must not return. */
function formatted(n: number): string | 'refused' {
  try {
    return num(n);
  } catch {
    return 'refused';
  }
}

describe('num', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-23, '-23'],
    [0.5, '0.5'],
    [1 / 3, '0.333333'],
    [2 / 3, '0.666667'],
    [1e-7, '0'],
    [-1e-7, '0'],
    [1.5e-5, '0.000015'],
    [0.1 + 0.2, '0.3'],
    [8192, '8192'],
    [123456789012, '123456789012'],
    [1e20, '100000000000000000000'],
    [604800.25, '604800.25'],
  ])('formats %s as %s', (n, want) => {
    expect(num(n)).toBe(want);
  });

  it.each([1e-7, 5e-7, 1e-10, 3.3e-6, 1e15, 2.5e20, 1e21, -1e21, 1.7976931348623157e308, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE])(
    'never writes %s in exponent notation',
    (n) => {
      const s = formatted(n);
      expect(s, `num(${n}) returned '${s}'`).not.toMatch(/\d[eE][+-]?\d/);
      if (s !== 'refused') expect(s).toMatch(plainDecimal);
    },
  );

  it.each([NaN, Infinity, -Infinity])('refuses %s as an internal error', (n) => {
    expect(() => num(n)).toThrow(/non-finite/);
  });
});

describe('filter', () => {
  it('writes name=k=v:k=v from a record', () => {
    expect(filter('scale', { w: 1280, h: 720 })).toBe('scale=w=1280:h=720');
  });

  it('writes name=v:v from a list', () => {
    expect(filter('hqdn3d', [4, 3, 6, 4.5])).toBe('hqdn3d=4:3:6:4.5');
  });

  it('writes a bare name without arguments', () => {
    expect(filter('hflip')).toBe('hflip');
    expect(filter('hflip', {})).toBe('hflip');
  });

  it('formats numbers through num()', () => {
    expect(filter('fade', { t: 'out', st: 9.999_999_9, d: 1e-7 })).toBe('fade=t=out:st=10:d=0');
  });

  it.each([
    'auto', 'clock', 'cclock', 'yuv420p', 'rgba', 'send_frame', 'PTS-STARTPTS', 'PTS/2', 'W-w-10', '(W-w)/2', 'H-h-20', '(ow-iw)/2', '1000/2000', '4x3', 'true',
  ])('accepts the simple token %s', (token) => {
    expect(filter('f', { a: token })).toBe(`f=a=${token}`);
  });

  it.each([
    ['a comma (a second filter)', '0.1,drawtext=textfile=/etc/passwd'],
    ['a semicolon (a second chain)', 'a;b'],
    ['an opening bracket (a label)', '[x'],
    ['a closing bracket', 'x]'],
    ['a label', '[x]'],
    ['a colon (another option)', 'a:b'],
    ['an equals sign', 'k=v'],
    ['a single quote', "a'b"],
    ['a double quote', 'a"b'],
    ['a space', 'a b'],
    ['a tab', 'a\tb'],
    ['a newline', 'a\nb'],
    ['a backslash escape', 'a\\,b'],
    ['an option smuggled after a path', '/etc/passwd:x=1'],
    ['an empty string', ''],
  ])('refuses a string argument with %s', (_what, value) => {
    expect(() => filter('overlay', { x: value }), `'${value}' must not reach a filter graph`).toThrow(/unsafe filter argument/);
    expect(() => filter('overlay', [value])).toThrow(/unsafe filter argument/);
  });

  it('refuses non-finite numbers in arguments', () => {
    expect(() => filter('scale', { w: NaN })).toThrow();
    expect(() => filter('scale', { w: Infinity })).toThrow();
  });
});

describe('chain', () => {
  it('labels inputs and output around the filters', () => {
    expect(chain(['0:v:0'], ['hflip', 'vflip'], 'vout', 'v')).toBe('[0:v:0]hflip,vflip[vout]');
    expect(chain(['base', 'wm'], ['overlay=x=10:y=10'], 'vout', 'v')).toBe('[base][wm]overlay=x=10:y=10[vout]');
  });

  it('passes an empty chain through with null for video and anull for audio', () => {
    expect(chain(['0:v:0'], [], 'vout', 'v')).toBe('[0:v:0]null[vout]');
    expect(chain(['0:a:0'], [], 'aout', 'a')).toBe('[0:a:0]anull[aout]');
  });
});

describe('rateForInterval', () => {
  it.each([
    [1, '1000/1000'],
    [2, '1000/2000'],
    [0.5, '1000/500'],
    [10.0004, '1000/10000'],
    [0, '1000/1'],
  ])('gives one frame every %s s as the rational %s', (seconds, want) => {
    expect(rateForInterval(seconds)).toBe(want);
  });
});
