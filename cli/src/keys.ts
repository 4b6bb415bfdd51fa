// `kubeff keys ...`: the reference's manage-api-keys.sh (list, generate, test, rotate, delete,
// export) over the admin API. The server stores only SHA-256 hashes, so a secret is shown exactly
// once, when it is generated or rotated; list and export can only ever show metadata.
import { createHash } from 'node:crypto';
import { flag, positionalCount, str } from './args.ts';
import { KubeffError, type ApiKey, type KeySecret } from '../../sdk/src/index.ts';
import { Exit, type Command, type Ctx } from './context.ts';
import { UsageError } from './errors.ts';
import { keysTable, shQuote } from './format.ts';

const hashNote = 'The server stores only SHA-256 hashes of API keys, never the keys themselves, so no secret can be exported: ' +
  'a key is shown once, when it is generated or rotated. A lost key cannot be recovered; replace it with `kubeff keys rotate <id>`.';

/**
 * The id the server gives a key, when it can be told from the key itself: generated keys are
 * `kff_<id>_<secret>`; keys from KUBEFF_API_KEYS/KUBEFF_ADMIN_KEYS are `env-` + 12 hex digits of
 * their SHA-256 (see gateway/src/auth.ts).
 */
export function keyIdCandidates(key: string): string[] {
  const m = /^kff_([A-Za-z0-9]+)_/.exec(key);
  const env = `env-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
  return m?.[1] ? [m[1], env] : [env];
}

function requireKey(ctx: Ctx): string {
  const key = ctx.client().apiKey;
  if (!key) throw new UsageError('no API key: set KUBEFF_API_KEY or pass --key');
  return key;
}

const envManaged = (id: string) => id.startsWith('env-');
const envNote = (id: string) =>
  `${id} comes from KUBEFF_API_KEYS/KUBEFF_ADMIN_KEYS: change it there (and revoke the old one) rather than rotating it on the server, ` +
  'or the next start registers the old key again';

const listCmd: Command = {
  path: 'keys list',
  summary: 'List API keys (metadata only: ids, names, scopes, use)',
  usage: 'kubeff keys list [--json]',
  help: 'Needs an admin key. Secrets are never listed: the server keeps only their hashes.',
  options: {},
  async run(ctx, p) {
    positionalCount(p, 0, 0, this.usage);
    const keys = await ctx.client().admin.keys.list();
    if (ctx.json) ctx.printJson({ keys });
    else ctx.out(keys.length ? keysTable(keys) : 'no API keys\n');
    return Exit.ok;
  },
};

const generate: Command = {
  path: 'keys generate',
  summary: 'Create an API key; prints the key once',
  usage: 'kubeff keys generate [--name NAME] [--admin]',
  help: [
    'Options:',
    '  --name NAME   a label for the key (default: "kubeff-cli <date>")',
    '  --admin       an admin key (manages keys, sees every job); default: a client key',
    '',
    'The key goes to stdout alone (KEY=$(kubeff keys generate --name ci)); the notes go to stderr.',
    'It is shown only now: the server keeps only its hash.',
  ].join('\n'),
  options: { name: { type: 'string' }, admin: { type: 'boolean' } },
  async run(ctx, p) {
    positionalCount(p, 0, 0, this.usage);
    const name = str(p.values, 'name') ?? `kubeff-cli ${new Date().toISOString().slice(0, 19)}Z`;
    const scope = flag(p.values, 'admin') ? 'admin' : 'client';
    const body = await ctx.client().admin.keys.create({ name, scope });
    if (ctx.json) ctx.printJson(body);
    else {
      ctx.err(`created ${body.api_key.scope} key ${body.api_key.id} ("${body.api_key.name}"); it is shown only now, store it safely:\n`);
      ctx.out(`${body.key}\n`);
    }
    return Exit.ok;
  },
};

const test: Command = {
  path: 'keys test',
  summary: 'Check that the configured key works and show its scope',
  usage: 'kubeff keys test',
  help: [
    'Tests the key from --key or KUBEFF_API_KEY against the server.',
    'Exit status: 0 the key works; 1 the server refused it; 2 the server could not be asked.',
  ].join('\n'),
  options: {},
  async run(ctx, p) {
    positionalCount(p, 0, 0, this.usage);
    const key = requireKey(ctx);
    const client = ctx.client();
    let visible: number | undefined;
    let headers: Headers | undefined;
    try {
      // Any authenticated route would do; this one is cheap and tells how many jobs the key sees.
      visible = (await client.jobs.list({ per_page: 1 }, { onResponse: (r) => (headers = r.headers) })).total;
    } catch (err) {
      if (err instanceof KubeffError && (err.status === 401 || err.status === 403)) {
        if (ctx.json) ctx.printJson({ ok: false, server: client.baseUrl, status: err.status, ...(err.envelope ?? { error: { message: err.message } }) });
        else ctx.out(`key refused by ${client.baseUrl}: ${err.message} (HTTP ${err.status})\n`);
        return Exit.failed;
      }
      throw err;
    }
    // Health shows details only to admin keys: that is how the scope is learned without a
    // route that fails for clients.
    const health = await client.health();
    const scope = health.details !== undefined ? 'admin' : 'client';
    let id: string | undefined;
    let name: string | undefined;
    if (scope === 'admin') {
      const keys = await client.admin.keys.list();
      const mine = keyIdCandidates(key).map((c) => keys.find((k) => k.id === c)).find(Boolean);
      id = mine?.id;
      name = mine?.name;
    } else if (key.startsWith('kff_')) id = keyIdCandidates(key)[0];
    const limit = headers?.get('x-ratelimit-limit') ?? null;
    const remaining = headers?.get('x-ratelimit-remaining') ?? null;
    if (ctx.json) {
      ctx.printJson({
        ok: true,
        server: client.baseUrl,
        server_version: health.version ?? null,
        scope,
        id: id ?? null,
        name: name ?? null,
        jobs_visible: visible ?? null,
        rate_limit: limit === null ? null : { limit: Number(limit), remaining: remaining === null ? null : Number(remaining) },
      });
    } else {
      const lines = [`key accepted by ${client.baseUrl}${health.version ? ` (kubeff ${health.version})` : ''}`, `  scope:         ${scope}${scope === 'admin' ? ' (manages keys, sees every job)' : ' (its own jobs only)'}`];
      if (id) lines.push(`  id:            ${id}${name ? ` ("${name}")` : ''}`);
      if (visible !== undefined) lines.push(`  jobs visible:  ${visible}`);
      if (limit !== null) lines.push(`  rate limit:    ${limit} requests per window${remaining !== null ? `, ${remaining} left` : ''}`);
      ctx.out(lines.join('\n') + '\n');
    }
    return Exit.ok;
  },
};

const rotate: Command = {
  path: 'keys rotate',
  summary: 'Replace the secret of a key (or of every key with --all)',
  usage: 'kubeff keys rotate <id> | --all',
  help: [
    'The key keeps its id (its jobs stay its own); the old secret stops working at once.',
    'The new key goes to stdout alone; with --all, one "ID<TAB>KEY" line per key.',
    '',
    'Options:',
    '  --all   rotate every active key (security incident response). Keys configured through',
    '          KUBEFF_API_KEYS/KUBEFF_ADMIN_KEYS are skipped: change those in the environment.',
    '          The key in use is rotated last.',
  ].join('\n'),
  options: { all: { type: 'boolean' } },
  async run(ctx, p) {
    const all = flag(p.values, 'all');
    positionalCount(p, all ? 0 : 1, all ? 0 : 1, this.usage);
    const client = ctx.client();
    const own = client.apiKey ? keyIdCandidates(client.apiKey) : [];
    const rotateOne = (id: string) => client.admin.keys.rotate(id);

    if (!all) {
      const id = p.positionals[0] ?? '';
      const r = await rotateOne(id);
      if (envManaged(id)) ctx.err(`warning: ${envNote(id)}\n`);
      if (ctx.json) ctx.printJson(r);
      else {
        ctx.err(`rotated ${r.api_key.scope} key ${r.api_key.id} ("${r.api_key.name}"); the old secret no longer works. New key, shown only now:\n`);
        ctx.out(`${r.key}\n`);
      }
      if (own.includes(id) && !ctx.json) ctx.err('this was the key in use: use the new one from now on\n');
      return Exit.ok;
    }

    const keys = await client.admin.keys.list();
    const active = keys.filter((k) => !k.revoked_at);
    const skipped = active.filter((k) => envManaged(k.id)).map((k) => ({ id: k.id, reason: envNote(k.id) }));
    // The key in use goes last: rotating it first would lock this run out of the rest.
    const todo = active.filter((k) => !envManaged(k.id)).sort((a, b) => Number(own.includes(a.id)) - Number(own.includes(b.id)));
    const rotated: KeySecret[] = [];
    for (const k of todo) {
      const r = await rotateOne(k.id);
      rotated.push(r);
      if (!ctx.json) ctx.out(`${r.api_key.id}\t${r.key}\n`);
    }
    if (ctx.json) ctx.printJson({ rotated, skipped });
    else {
      ctx.err(`rotated ${rotated.length} key(s); the new keys above are shown only now.\n`);
      for (const s of skipped) ctx.err(`skipped ${s.id}: ${s.reason}\n`);
    }
    return Exit.ok;
  },
};

const del: Command = {
  path: 'keys delete',
  summary: 'Revoke keys (they stop working at once)',
  usage: 'kubeff keys delete <id>...',
  help: 'Revoked keys stay listed (as revoked) so their jobs keep an owner. A key cannot revoke itself.',
  options: {},
  async run(ctx, p) {
    positionalCount(p, 1, 100, this.usage);
    const revoked: ApiKey[] = [];
    for (const id of p.positionals) {
      const key = await ctx.client().admin.keys.revoke(id);
      revoked.push(key);
      if (!ctx.json) ctx.out(`revoked ${key.scope} key ${key.id} ("${key.name}")\n`);
    }
    if (ctx.json) ctx.printJson({ revoked });
    return Exit.ok;
  },
};

const exportCmd: Command = {
  path: 'keys export',
  summary: 'Print key metadata as shell variables or JSON (never secrets)',
  usage: 'kubeff keys export [--format env|json] [--active]',
  help: [
    'Options:',
    '  --format env   KUBEFF_KEY_<n>_ID=... lines, sh-quoted, to `source` (default)',
    '  --format json  one JSON document (also what --json gives)',
    '  --active       leave out revoked keys',
    '',
    hashNote,
  ].join('\n'),
  options: { format: { type: 'string' }, active: { type: 'boolean' } },
  async run(ctx, p) {
    positionalCount(p, 0, 0, this.usage);
    const format = str(p.values, 'format') ?? (ctx.json ? 'json' : 'env');
    if (format !== 'env' && format !== 'json') throw new UsageError(`--format: must be env or json, got '${format}'`);
    const client = ctx.client();
    const all = await client.admin.keys.list();
    const keys = flag(p.values, 'active') ? all.filter((k) => !k.revoked_at) : all;
    const exportedAt = new Date().toISOString();
    if (format === 'json') {
      ctx.printJson({ exported_at: exportedAt, server: client.baseUrl, secrets_included: false, note: hashNote, keys });
      return Exit.ok;
    }
    const lines = [
      `# kubeff API keys of ${client.baseUrl}, exported ${exportedAt}`,
      ...wrap(hashNote, 96).map((l) => `# ${l}`),
      `KUBEFF_KEY_COUNT=${keys.length}`,
    ];
    keys.forEach((k, i) => {
      const v = (field: string, value: string | null) => `KUBEFF_KEY_${i}_${field}=${shQuote(value ?? '')}`;
      lines.push(v('ID', k.id), v('NAME', k.name), v('SCOPE', k.scope), v('CREATED_AT', k.created_at), v('REVOKED_AT', k.revoked_at), v('LAST_USED_AT', k.last_used_at));
    });
    ctx.out(lines.join('\n') + '\n');
    return Exit.ok;
  },
};

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

export const keyCommands: Command[] = [listCmd, generate, test, rotate, del, exportCmd];
