// The CLI's dispatcher: finds the command, parses its flags, builds the context, and turns every
// error into a message and an exit status. Free of process globals (they come in through Io) so it
// can be driven from tests as well as from cli.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flag, parseCommandArgs, splitCommand, str } from './args.ts';
import { KubeffClient, KubeffError, KubeffNetworkError } from '../../sdk/src/index.ts';
import { describeError, errorJson, normalizeBaseUrl, UsageError } from './errors.ts';
import { Exit, type Command, type Ctx, type Io } from './context.ts';
import { jobCommands, submitCommands } from './jobs.ts';
import { keyCommands } from './keys.ts';

const commands: Command[] = [...submitCommands, ...jobCommands, ...keyCommands];
const groups: Record<string, string> = {
  keys: 'Manage API keys (admin key needed, except for test)',
  jobs: 'List, inspect, follow, cancel jobs',
};

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function mainHelp(): string {
  const col = (s: string) => s.padEnd(16);
  return [
    'kubeff: command-line client of the kubeff media API (FFmpeg as a REST API, Rendiff-compatible)',
    '',
    'Usage: kubeff [--url URL] [--key KEY] [--json] <command> [args]',
    '',
    'Jobs:',
    ...submitCommands.map((c) => `  ${col(c.path)}${c.summary}`),
    ...jobCommands.map((c) => `  ${col(c.path)}${c.summary}`),
    '',
    'API keys (manage-api-keys.sh):',
    ...keyCommands.map((c) => `  ${col(c.path)}${c.summary}`),
    '',
    'Global options:',
    '  --url URL     server (default: $KUBEFF_URL, else http://localhost:8000)',
    '  --key KEY     API key (default: $KUBEFF_API_KEY; prefer the variable: arguments are',
    '                visible to other users of the machine)',
    '  --json        machine output: exactly one JSON document on stdout, errors included',
    '  -h, --help    help; `kubeff <command> --help` for a command',
    '  --version',
    '',
    'Exit status: 0 success (job completed), 1 job failed or cancelled (keys test: key refused),',
    '2 usage error, HTTP error or server unreachable, 130 interrupted while following a job.',
    '',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return `${c.summary}\n\nUsage: ${c.usage}\n\n${c.help}\n\nGlobal options: --url URL, --key KEY, --json (see kubeff --help)\n`;
}

function groupHelp(group: string): string {
  const cs = commands.filter((c) => c.path.startsWith(`${group} `));
  return [`${groups[group] ?? ''}`, '', `Usage: kubeff ${group} <command> [args]`, '', ...cs.map((c) => `  ${c.usage}\n      ${c.summary}`), '', `kubeff ${group} <command> --help for details.`, ''].join('\n');
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const { words, rest } = splitCommand(argv, (w) => w in groups || w === 'help');
  const wantsJson = rest.includes('--json');
  const fail = (err: unknown): number => {
    if (wantsJson) io.stdout.write(`${JSON.stringify(errorJson(err), null, 2)}\n`);
    else {
      io.stderr.write(`kubeff: ${describeError(err)}\n`);
      if (err instanceof UsageError) io.stderr.write('(kubeff --help for usage)\n');
    }
    return Exit.error;
  };

  // Help and version need no server and no valid flags.
  if (words.length === 0) {
    if (rest.includes('--version')) {
      io.stdout.write(`kubeff ${version()}\n`);
      return Exit.ok;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(mainHelp());
      return Exit.ok;
    }
    io.stderr.write(mainHelp());
    return Exit.error;
  }
  const [first = '', second] = words;
  if (first === 'help') {
    const topic = [second, ...rest.filter((a) => !a.startsWith('-'))].filter((w): w is string => Boolean(w)).join(' ');
    const c = commands.find((x) => x.path === topic);
    if (c) io.stdout.write(commandHelp(c));
    else if (topic in groups) io.stdout.write(groupHelp(topic));
    else if (topic === '') io.stdout.write(mainHelp());
    else return fail(new UsageError(`no command '${topic}'`));
    return Exit.ok;
  }
  const path = words.join(' ');
  const command = commands.find((c) => c.path === path);
  if (!command) {
    if (first in groups && (second === undefined || rest.includes('--help') || rest.includes('-h'))) {
      const out = second === undefined && !(rest.includes('--help') || rest.includes('-h')) ? io.stderr : io.stdout;
      out.write(groupHelp(first));
      return out === io.stdout ? Exit.ok : Exit.error;
    }
    return fail(new UsageError(first in groups ? `no command '${path}'; try kubeff ${first} --help` : `no command '${first}'`));
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(commandHelp(command));
    return Exit.ok;
  }

  try {
    const parsed = parseCommandArgs(rest, command.options);
    const json = flag(parsed.values, 'json');
    const url = str(parsed.values, 'url') ?? (io.env['KUBEFF_URL'] || 'http://localhost:8000');
    const key = str(parsed.values, 'key') ?? (io.env['KUBEFF_API_KEY'] || undefined);
    let client: KubeffClient | undefined;
    const ctx: Ctx = {
      io,
      json,
      client: () => (client ??= new KubeffClient({ baseUrl: normalizeBaseUrl(url), apiKey: key })),
      out: (s) => io.stdout.write(s),
      err: (s) => io.stderr.write(s),
      printJson: (v) => io.stdout.write(`${JSON.stringify(v, null, 2)}\n`),
    };
    return await command.run(ctx, parsed);
  } catch (err) {
    if (err instanceof UsageError || err instanceof KubeffError || err instanceof KubeffNetworkError) return fail(err);
    // Anything else is a bug or an unexpected answer: still one clear line, with the stack only on request.
    if (io.env['KUBEFF_DEBUG']) io.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    return fail(err);
  }
}
