// Filter-graph text built only from numbers we format and tokens we choose. No user string
// is ever spliced in: anything else is an internal bug and throws.

/** A finite number in plain decimal (never exponent notation), rounded to 6 places. */
export function num(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`internal: non-finite number in filter graph: ${n}`);
  // toFixed itself switches to exponent notation from 1e21: no filter needs such numbers.
  if (Math.abs(n) >= 1e21) throw new Error(`internal: number too large for a filter graph: ${n}`);
  const s = Number(n.toFixed(6)).toString();
  if (/e/i.test(s)) return n.toFixed(6);
  return s;
}

// Letters, digits and arithmetic: enough for labels, enum tokens and expressions like W-w-10.
const safeToken = /^[A-Za-z0-9_.+\-*/()]+$/;

export type FilterArg = number | string;

/** name=k=v:k=v — strings must be tokens or expressions we wrote ourselves. */
export function filter(name: string, args: Record<string, FilterArg> | FilterArg[] = {}): string {
  const fmt = (v: FilterArg) => {
    if (typeof v === 'number') return num(v);
    if (!safeToken.test(v)) {
      throw new Error(`internal: unsafe filter argument '${v}' for ${name}`);
    }
    return v;
  };
  const parts = Array.isArray(args) ? args.map(fmt) : Object.entries(args).map(([k, v]) => `${k}=${fmt(v)}`);
  return parts.length ? `${name}=${parts.join(':')}` : name;
}

/** A labeled chain: [in]f1,f2[out]; an empty chain passes through with `null`/`anull`. */
export function chain(inputs: string[], filters: string[], output: string, kind: 'v' | 'a'): string {
  const body = filters.length ? filters.join(',') : kind === 'v' ? 'null' : 'anull';
  return `${inputs.map((l) => `[${l}]`).join('')}${body}[${output}]`;
}

/** A rational frame rate (N/D) for fps filters from an interval in seconds. */
export function rateForInterval(seconds: number): string {
  const ms = Math.max(1, Math.round(seconds * 1000));
  return `1000/${ms}`;
}
