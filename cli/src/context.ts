// What every command gets: where to write, the configured server and key, and the output mode.
import type { ParseArgsOptionsConfig } from 'node:util';
import type { Parsed } from './args.ts';
import type { KubeffClient } from '../../sdk/src/index.ts';

/** Exit statuses: scripts branch on these. */
export const Exit = {
  ok: 0,
  /** The job failed or was cancelled; `keys test`: the key was refused. */
  failed: 1,
  /** Wrong usage, an HTTP error, or the server could not be reached. */
  error: 2,
  /** Interrupted (Ctrl-C) while following a job; the job itself goes on. */
  interrupted: 130,
} as const;

export interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Read for `--body -`. */
  stdin: AsyncIterable<Uint8Array | string>;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal: a live progress bar, else plain progress lines. */
  stderrIsTTY: boolean;
  columns: number | undefined;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
}

export interface Ctx {
  io: Io;
  json: boolean;
  /** The SDK's client, built on first use (so help and --dry-run never need a server). */
  client(): KubeffClient;
  out(s: string): void;
  err(s: string): void;
  /** One JSON document on stdout: the whole output in --json mode. */
  printJson(v: unknown): void;
}

export interface Command {
  /** The words that select it: "keys list", "convert". */
  path: string;
  summary: string;
  usage: string;
  /** Extra help text: options, examples. */
  help: string;
  options: ParseArgsOptionsConfig;
  run(ctx: Ctx, args: Parsed): Promise<number>;
}
