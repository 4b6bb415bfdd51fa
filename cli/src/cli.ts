#!/usr/bin/env node
// `kubeff` command-line client: jobs (convert, stream, analyze, follow with live progress) and API
// key management against a kubeff server. Runs on Node 24 directly (type stripping); the logic
// lives beside this file (main.ts and the commands), on the SDK (sdk/); this file only wires in
// the process.
import { main } from './main.ts';

const interrupt = new AbortController();
// The first Ctrl-C stops following a job cleanly (the job itself goes on); a second one exits now.
process.once('SIGINT', () => {
  interrupt.abort(new Error('interrupted'));
  process.once('SIGINT', () => process.exit(130));
});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  // Lazily: touching process.stdin opens it, which only `--body -` needs.
  stdin: { [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator]() },
  env: process.env,
  stderrIsTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns,
  signal: interrupt.signal,
});
// exitCode rather than exit(): lets stdout drain when it is a pipe.
process.exitCode = code;
