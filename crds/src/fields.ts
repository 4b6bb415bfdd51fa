// A small reader over untrusted JSON that records a precise issue per bad field instead of
// throwing at the first one, so a client learns about every mistake in one round trip.
import { issue, type ErrorCode, type SpecIssue } from './errors.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Removes keys whose value is undefined (in place), so optional fields are absent, not undefined. */
export function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)?.slice(0, 60)}`;
}

/** Levenshtein distance, for "did you mean" suggestions on misspelled keys and values. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

export function closest(value: string, options: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = distance(value.toLowerCase(), o.toLowerCase());
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(value.length / 3)) ? best : undefined;
}

export class Fields {
  readonly issues: SpecIssue[] = [];

  add(code: ErrorCode, field: string, message: string, extra: Parameters<typeof issue>[3] = {}): undefined {
    this.issues.push(issue(code, field, message, extra));
    return undefined;
  }

  /** Refuses keys the schema does not know, naming the closest known one. */
  known(obj: JsonObject, field: string, allowed: readonly string[], code: ErrorCode = 'INVALID_REQUEST'): void {
    for (const key of Object.keys(obj)) {
      if (allowed.includes(key)) continue;
      const near = closest(key, allowed);
      this.add(code, field ? `${field}.${key}` : key, `unknown field '${key}'`, {
        allowed,
        ...(near ? { suggestion: `did you mean '${near}'?` } : {}),
      });
    }
  }

  string(v: unknown, field: string, code: ErrorCode, opts: { max?: number } = {}): string | undefined {
    if (v === undefined) return this.add(code, field, 'is required');
    if (typeof v !== 'string') return this.add(code, field, `must be a string, got ${describe(v)}`, { value: v });
    if (v.length === 0) return this.add(code, field, 'must not be empty', { value: v });
    const max = opts.max ?? 1024;
    if (v.length > max) return this.add(code, field, `must be at most ${max} characters`, { value: v.slice(0, 64) });
    return v;
  }

  number(
    v: unknown,
    field: string,
    code: ErrorCode,
    range: { min?: number; max?: number; exclusiveMin?: boolean; integer?: boolean },
  ): number | undefined {
    if (v === undefined) return this.add(code, field, 'is required');
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return this.add(code, field, `must be a number, got ${describe(v)}`, { value: v });
    }
    if (range.integer && !Number.isInteger(v)) return this.add(code, field, 'must be a whole number', { value: v });
    const { min, max } = range;
    if (min !== undefined && (range.exclusiveMin ? v <= min : v < min)) {
      return this.add(code, field, `must be ${range.exclusiveMin ? 'greater than' : 'at least'} ${min}`, { value: v });
    }
    if (max !== undefined && v > max) return this.add(code, field, `must be at most ${max}`, { value: v });
    return v;
  }

  boolean(v: unknown, field: string, code: ErrorCode): boolean | undefined {
    if (typeof v !== 'boolean') return this.add(code, field, `must be true or false, got ${describe(v)}`, { value: v });
    return v;
  }

  oneOf<T extends string>(v: unknown, field: string, code: ErrorCode, allowed: readonly T[]): T | undefined {
    if (typeof v === 'string') {
      const lower = v.toLowerCase();
      const hit = allowed.find((a) => a === lower);
      if (hit !== undefined) return hit;
    }
    const near = typeof v === 'string' ? closest(v, allowed) : undefined;
    return this.add(code, field, `must be one of ${allowed.join(', ')}`, {
      value: v,
      allowed,
      ...(near ? { suggestion: `did you mean '${near}'?` } : {}),
    });
  }
}
