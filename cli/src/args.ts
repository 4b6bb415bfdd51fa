// Command-line parsing on node:util's parseArgs: the command words are found first (global
// options may come before them), then the rest is parsed strictly against that command's options,
// so a mistyped flag is an error rather than a silently ignored word.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from './errors.ts';

/** Options every command takes. */
export const globalOptions = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

/** Global options that take a value, so the scan for the command word skips their values. */
const globalValueFlags = new Set(['--url', '--key']);

/**
 * Splits argv into the leading command words (up to `depth` of them, e.g. ["keys", "list"]) and
 * everything else, in order. Only options before the command words need special care: those are
 * global options, whose values must not be taken for a command word.
 */
export function splitCommand(argv: readonly string[], isGroup: (word: string) => boolean): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') break;
    if (a.startsWith('-') && a !== '-') {
      rest.push(a);
      if (globalValueFlags.has(a) && i + 1 < argv.length) rest.push(argv[++i] ?? '');
      continue;
    }
    words.push(a);
    const first = words[0] ?? '';
    // A group ("keys", "jobs", "help") takes one more word; anything else is complete.
    if (!(isGroup(first) && words.length < 2)) {
      i++;
      break;
    }
  }
  return { words, rest: [...rest, ...argv.slice(i)] };
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export function parseCommandArgs(args: string[], options: ParseArgsOptionsConfig): Parsed {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...globalOptions, ...options }, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    // parseArgs' messages are good ("Unknown option '--foo'"); only the extra advice is ours.
    const msg = err instanceof Error ? err.message : String(err);
    throw new UsageError(msg.replace(/\. To specify a positional argument starting with a '-'.*$/s, '.'));
  }
}

export function str(v: Values, name: string): string | undefined {
  const x = v[name];
  return typeof x === 'string' ? x : undefined;
}

export function flag(v: Values, name: string): boolean {
  return v[name] === true;
}

export function list(v: Values, name: string): string[] {
  const x = v[name];
  if (x === undefined) return [];
  return (Array.isArray(x) ? x : [x]).filter((s): s is string => typeof s === 'string');
}

/** A number flag, checked to be a number here; its range is the server's to judge (one source of truth). */
export function num(v: Values, name: string, o: { integer?: boolean } = {}): number | undefined {
  const raw = str(v, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name}: '${raw}' is not a number`);
  if (o.integer && !Number.isInteger(n)) throw new UsageError(`--${name}: '${raw}' is not a whole number`);
  return n;
}

export function positionalCount(p: Parsed, min: number, max: number, usage: string): void {
  const n = p.positionals.length;
  if (n < min) throw new UsageError(`missing arguments; usage: ${usage}`);
  if (n > max) throw new UsageError(`unexpected argument '${p.positionals[max] ?? ''}'; usage: ${usage}`);
}
