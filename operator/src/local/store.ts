// The embedded store of standalone mode: MediaJobs (spec + status), their events (progress, log
// lines, lifecycle; kept for SSE resume and logs), API keys (hashed), idempotency records and
// webhook deliveries, in one SQLite file (node:sqlite, no native module to build).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { MediaJobSpec } from '../../../crds/src/spec.ts';
import type { MediaJobStatus, Phase } from '../../../crds/src/status.ts';
import type { Priority, QueuedJob } from '../admission.ts';
import { canTransition } from '../phases.ts';

export interface JobRecord {
  id: string;
  owner: string;
  spec: MediaJobSpec;
  status: MediaJobStatus & { phase: Phase };
  priority: Priority;
  createdAt: string;
  updatedAt: string;
  batchId: string | undefined;
  /** Time before which a retried job must not start again (ISO), for backoff. */
  notBefore: string | undefined;
  /** W3C traceparent of the request that created the job, so its work joins that trace. */
  traceparent?: string | undefined;
}

export interface StoredEvent {
  seq: number;
  jobId: string;
  type: string;
  time: string;
  data: unknown;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  hash: string;
  scope: 'admin' | 'client';
  createdAt: string;
  revokedAt: string | undefined;
  lastUsedAt: string | undefined;
}

export interface ListQuery {
  owner?: string | undefined;
  phase?: Phase | undefined;
  /** convert, stream or analyze (the spec's type). */
  type?: string | undefined;
  batchId?: string | undefined;
  limit: number;
  offset: number;
  sort: 'created_at' | 'updated_at' | 'priority';
  order: 'asc' | 'desc';
}

const schema = `
create table if not exists jobs (
  id text primary key,
  owner text not null,
  spec text not null,
  status text not null,
  phase text not null,
  priority text not null,
  priority_rank integer not null,
  created_at text not null,
  updated_at text not null,
  batch_id text,
  not_before text,
  traceparent text
);
create index if not exists jobs_owner_created on jobs(owner, created_at);
create index if not exists jobs_phase on jobs(phase);
create index if not exists jobs_owner_phase on jobs(owner, phase);
create index if not exists jobs_batch on jobs(batch_id);
create table if not exists events (
  job_id text not null,
  seq integer not null,
  type text not null,
  time text not null,
  data text not null,
  primary key (job_id, seq)
);
create table if not exists api_keys (
  id text primary key,
  name text not null,
  hash text not null unique,
  scope text not null,
  created_at text not null,
  revoked_at text,
  last_used_at text
);
create table if not exists idempotency (
  owner text not null,
  key text not null,
  body_hash text not null,
  status_code integer,
  response text,
  created_at text not null,
  primary key (owner, key)
);
create table if not exists batches (
  id text primary key,
  owner text not null,
  name text,
  created_at text not null
);
create table if not exists webhook_deliveries (
  id text primary key,
  job_id text not null,
  event text not null,
  url text not null,
  payload text not null,
  attempts integer not null default 0,
  state text not null,
  last_status integer,
  last_error text,
  next_attempt_at text,
  created_at text not null,
  delivered_at text
);
create index if not exists deliveries_job on webhook_deliveries(job_id);
create index if not exists deliveries_due on webhook_deliveries(state, next_attempt_at);
`;

/**
 * Unfinished jobs per owner, kept by triggers in the same transactions as the jobs themselves:
 * the quota check on every submission reads one row instead of counting a queue that may hold
 * hundreds of thousands. Rebuilt from the jobs at every open, so it can never drift for long.
 */
const activeCounts = `
drop trigger if exists jobs_active_insert;
drop trigger if exists jobs_active_delete;
drop trigger if exists jobs_active_update;
drop table if exists owner_active;
create table owner_active (owner text primary key, n integer not null);
insert into owner_active (owner, n) select owner, count(*) from jobs where phase in ('queued', 'processing') group by owner;
create trigger jobs_active_insert after insert on jobs when new.phase in ('queued', 'processing') begin
  insert into owner_active (owner, n) values (new.owner, 1) on conflict(owner) do update set n = n + 1;
end;
create trigger jobs_active_delete after delete on jobs when old.phase in ('queued', 'processing') begin
  update owner_active set n = n - 1 where owner = old.owner;
end;
create trigger jobs_active_update after update of phase, owner on jobs
  when (old.phase in ('queued', 'processing')) or (new.phase in ('queued', 'processing')) begin
  update owner_active set n = n - 1 where owner = old.owner and old.phase in ('queued', 'processing');
  insert into owner_active (owner, n) select new.owner, 1 where new.phase in ('queued', 'processing')
    on conflict(owner) do update set n = n + 1;
end;
`;

/** How SQLite syncs commits (KUBEFF_SQLITE_SYNCHRONOUS); see Store's constructor. */
export type Synchronous = 'normal' | 'full';

const rank: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

type Row = Record<string, SQLInputValue>;

export class Store {
  readonly db: DatabaseSync;

  /**
   * WAL: readers never wait for the writer. A commit is written to the WAL before the call
   * returns, so with synchronous=normal a job answered 201 survives the process being killed
   * (SIGKILL, OOM): the bytes are in the kernel's page cache. Only an OS crash or power loss can
   * lose the last commits; synchronous=full fsyncs every commit and survives that too, at about
   * 0.1 ms per commit on a virtio disk.
   */
  constructor(dataDir: string, opts: { synchronous?: Synchronous } = {}) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new DatabaseSync(join(dataDir, 'kubeff.db'));
    const synchronous = opts.synchronous === 'full' ? 'full' : 'normal';
    this.db.exec(`pragma journal_mode = wal; pragma synchronous = ${synchronous}; pragma busy_timeout = 5000;`);
    this.db.exec(schema);
    // Databases made before a column existed get it added.
    const cols = (this.db.prepare('pragma table_info(jobs)').all() as Row[]).map((r) => String(r['name']));
    if (!cols.includes('traceparent')) this.db.exec('alter table jobs add column traceparent text');
    this.tx(() => this.db.exec(activeCounts));
  }

  private readonly statements = new Map<string, StatementSync>();

  /** Prepared statements are cached: preparing costs more than running most of these queries. */
  q(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  close(): void {
    this.db.close();
  }

  /** Runs fn in one transaction (SQLite serializes writers). */
  tx<T>(fn: () => T): T {
    this.db.exec('begin immediate');
    try {
      const out = fn();
      this.db.exec('commit');
      return out;
    } catch (err) {
      this.db.exec('rollback');
      throw err;
    }
  }

  // Jobs

  createJob(rec: JobRecord): void {
    this
      .q('insert into jobs (id, owner, spec, status, phase, priority, priority_rank, created_at, updated_at, batch_id, not_before, traceparent) values (?,?,?,?,?,?,?,?,?,?,?,?)')
      .run(rec.id, rec.owner, JSON.stringify(rec.spec), JSON.stringify(rec.status), rec.status.phase, rec.priority, rank[rec.priority], rec.createdAt, rec.updatedAt, rec.batchId ?? null, rec.notBefore ?? null, rec.traceparent ?? null);
  }

  /**
   * Cluster mode's cache: the MediaJob as the API server has it replaces the row whole (the
   * Kubernetes object is the source of truth, so no transition check here).
   */
  upsertJob(rec: JobRecord): void {
    this
      .q('insert into jobs (id, owner, spec, status, phase, priority, priority_rank, created_at, updated_at, batch_id, not_before, traceparent) values (?,?,?,?,?,?,?,?,?,?,?,?) on conflict(id) do update set owner = excluded.owner, spec = excluded.spec, status = excluded.status, phase = excluded.phase, priority = excluded.priority, priority_rank = excluded.priority_rank, created_at = excluded.created_at, updated_at = excluded.updated_at, batch_id = excluded.batch_id, traceparent = excluded.traceparent')
      .run(rec.id, rec.owner, JSON.stringify(rec.spec), JSON.stringify(rec.status), rec.status.phase, rec.priority, rank[rec.priority], rec.createdAt, rec.updatedAt, rec.batchId ?? null, rec.notBefore ?? null, rec.traceparent ?? null);
  }

  /** Removes a job with its events and deliveries (cluster mode: the MediaJob was deleted). */
  deleteJob(id: string): void {
    this.tx(() => {
      this.q('delete from events where job_id = ?').run(id);
      this.q('delete from webhook_deliveries where job_id = ?').run(id);
      this.q('delete from jobs where id = ?').run(id);
    });
  }

  getJob(id: string): JobRecord | undefined {
    const row = this.q('select * from jobs where id = ?').get(id) as Row | undefined;
    return row ? toJob(row) : undefined;
  }

  listJobs(q: ListQuery): { jobs: JobRecord[]; total: number } {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (q.owner !== undefined) {
      where.push('owner = ?');
      args.push(q.owner);
    }
    if (q.phase !== undefined) {
      where.push('phase = ?');
      args.push(q.phase);
    }
    if (q.type !== undefined) {
      where.push("json_extract(spec, '$.type') = ?");
      args.push(q.type);
    }
    if (q.batchId !== undefined) {
      where.push('batch_id = ?');
      args.push(q.batchId);
    }
    const w = where.length ? `where ${where.join(' and ')}` : '';
    const total = Number((this.q(`select count(*) as n from jobs ${w}`).get(...args) as Row)['n']);
    // Column and direction come from closed enums, never from the client's text.
    const column = q.sort === 'priority' ? 'priority_rank' : q.sort;
    const dir = q.order === 'asc' ? 'asc' : 'desc';
    const rows = this.q(`select * from jobs ${w} order by ${column} ${dir}, id ${dir} limit ? offset ?`).all(...args, q.limit, q.offset) as Row[];
    return { jobs: rows.map(toJob), total };
  }

  /**
   * Applies a status change if the phase transition is allowed (terminal phases are final).
   * Returns the new record, or undefined when the change was refused.
   */
  updateStatus(id: string, patch: Partial<MediaJobStatus>, extra: { notBefore?: string | null } = {}): JobRecord | undefined {
    return this.tx(() => {
      const cur = this.getJob(id);
      if (!cur) return undefined;
      const to = patch.phase ?? cur.status.phase;
      if (!canTransition(cur.status.phase, to)) return undefined;
      const status = { ...cur.status, ...patch, phase: to };
      const now = new Date().toISOString();
      const notBefore = extra.notBefore === undefined ? (cur.notBefore ?? null) : extra.notBefore;
      this.q('update jobs set status = ?, phase = ?, updated_at = ?, not_before = ? where id = ?').run(JSON.stringify(status), to, now, notBefore, id);
      return { ...cur, status, updatedAt: now, notBefore: notBefore ?? undefined };
    });
  }

  queuedJobs(): (QueuedJob & { notBefore: string | undefined })[] {
    const rows = this.q("select id, owner, priority, created_at, not_before from jobs where phase = 'queued'").all() as Row[];
    return rows.map((r) => ({ id: String(r['id']), owner: String(r['owner']), priority: r['priority'] as Priority, createdAt: String(r['created_at']), notBefore: r['not_before'] ? String(r['not_before']) : undefined }));
  }

  jobsInPhase(phase: Phase): JobRecord[] {
    return (this.q('select * from jobs where phase = ?').all(phase) as Row[]).map(toJob);
  }

  /** Queued and processing jobs of one owner (kept by triggers: one row read). */
  countActive(owner: string): number {
    const row = this.q('select n from owner_active where owner = ?').get(owner) as Row | undefined;
    return row ? Number(row['n']) : 0;
  }

  deleteJobsBefore(before: string, phases: readonly Phase[]): string[] {
    const marks = phases.map(() => '?').join(',');
    return this.tx(() => {
      const ids = (this.q(`select id from jobs where updated_at < ? and phase in (${marks})`).all(before, ...phases) as Row[]).map((r) => String(r['id']));
      for (const id of ids) {
        this.q('delete from events where job_id = ?').run(id);
        this.q('delete from webhook_deliveries where job_id = ?').run(id);
        this.q('delete from jobs where id = ?').run(id);
      }
      return ids;
    });
  }

  stats(): Record<Phase, number> {
    const out: Record<Phase, number> = { queued: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of this.q('select phase, count(*) as n from jobs group by phase').all() as Row[]) out[r['phase'] as Phase] = Number(r['n']);
    return out;
  }

  // Events

  appendEvent(jobId: string, type: string, data: unknown, time = new Date().toISOString()): StoredEvent {
    const row = this.q('select coalesce(max(seq), 0) + 1 as seq from events where job_id = ?').get(jobId) as Row;
    const seq = Number(row['seq']);
    this.q('insert into events (job_id, seq, type, time, data) values (?,?,?,?,?)').run(jobId, seq, type, time, JSON.stringify(data));
    return { seq, jobId, type, time, data };
  }

  /** Cluster mode: an event with the sequence JetStream gave it (the same on every replica). */
  insertEvent(e: StoredEvent): boolean {
    const res = this.q('insert or ignore into events (job_id, seq, type, time, data) values (?,?,?,?,?)').run(e.jobId, e.seq, e.type, e.time, JSON.stringify(e.data));
    return Number(res.changes) === 1;
  }

  /** Highest stored sequence below `below` over all jobs (where a mirror resumes the stream). */
  maxEventSeq(below = Number.MAX_SAFE_INTEGER): number {
    return Number((this.q('select coalesce(max(seq), 0) as n from events where seq < ?').get(below) as Row)['n']);
  }

  hasEventOfType(jobId: string, types: readonly string[]): boolean {
    const marks = types.map(() => '?').join(',');
    return this.q(`select 1 from events where job_id = ? and type in (${marks}) limit 1`).get(jobId, ...types) !== undefined;
  }

  events(jobId: string, afterSeq: number, types?: readonly string[], limit = 10_000): StoredEvent[] {
    const filter = types?.length ? `and type in (${types.map(() => '?').join(',')})` : '';
    const rows = this.q(`select * from events where job_id = ? and seq > ? ${filter} order by seq limit ?`).all(jobId, afterSeq, ...(types ?? []), limit) as Row[];
    return rows.map((r) => ({ seq: Number(r['seq']), jobId, type: String(r['type']), time: String(r['time']), data: JSON.parse(String(r['data'])) as unknown }));
  }

  /** The last n log lines, oldest first. */
  logLines(jobId: string, n: number): { time: string; line: string }[] {
    const rows = this.q("select time, data from events where job_id = ? and type = 'log' order by seq desc limit ?").all(jobId, n) as Row[];
    return rows.reverse().map((r) => ({ time: String(r['time']), line: String((JSON.parse(String(r['data'])) as { line: string }).line) }));
  }

  // API keys

  /**
   * Keys by hash, as last read: every request authenticates, keys change rarely. Every change to
   * a key in this store (create, rotate, revoke, delete, a Secret seen in cluster mode) clears it,
   * so a revocation takes effect on the next request. Only found keys are kept (bounded by the
   * number of keys), so unknown keys sent at random cannot grow it.
   */
  private readonly keysByHash = new Map<string, ApiKeyRecord>();

  insertKey(k: ApiKeyRecord): void {
    this.keysByHash.clear();
    this.q('insert into api_keys (id, name, hash, scope, created_at, revoked_at, last_used_at) values (?,?,?,?,?,?,?)').run(k.id, k.name, k.hash, k.scope, k.createdAt, k.revokedAt ?? null, k.lastUsedAt ?? null);
  }

  /** Cluster mode's cache of the key Secrets; the last use stays this replica's own. */
  upsertKey(k: ApiKeyRecord): void {
    this.keysByHash.clear();
    this
      .q('insert into api_keys (id, name, hash, scope, created_at, revoked_at, last_used_at) values (?,?,?,?,?,?,?) on conflict(id) do update set name = excluded.name, hash = excluded.hash, scope = excluded.scope, created_at = excluded.created_at, revoked_at = excluded.revoked_at')
      .run(k.id, k.name, k.hash, k.scope, k.createdAt, k.revokedAt ?? null, k.lastUsedAt ?? null);
  }

  deleteKey(id: string): void {
    this.keysByHash.clear();
    this.q('delete from api_keys where id = ?').run(id);
  }

  keyByHash(hash: string): ApiKeyRecord | undefined {
    const cached = this.keysByHash.get(hash);
    if (cached) return cached;
    const r = this.q('select * from api_keys where hash = ?').get(hash) as Row | undefined;
    if (!r) return undefined;
    const rec = toKey(r);
    this.keysByHash.set(hash, rec);
    return rec;
  }

  keyById(id: string): ApiKeyRecord | undefined {
    const r = this.q('select * from api_keys where id = ?').get(id) as Row | undefined;
    return r ? toKey(r) : undefined;
  }

  listKeys(): ApiKeyRecord[] {
    return (this.q('select * from api_keys order by created_at').all() as Row[]).map(toKey);
  }

  updateKey(id: string, patch: { hash?: string; revokedAt?: string; lastUsedAt?: string; name?: string }): void {
    const cur = this.keyById(id);
    if (!cur) return;
    // Recording a use changes nothing authentication reads; anything else does.
    if (patch.hash !== undefined || patch.revokedAt !== undefined || patch.name !== undefined) this.keysByHash.clear();
    const next = { ...cur, ...patch };
    this.q('update api_keys set name = ?, hash = ?, revoked_at = ?, last_used_at = ? where id = ?').run(next.name, next.hash, next.revokedAt ?? null, next.lastUsedAt ?? null, id);
  }

  countKeys(): number {
    return Number((this.q('select count(*) as n from api_keys').get() as Row)['n']);
  }

  // Idempotency

  idempotency(owner: string, key: string): { bodyHash: string; statusCode: number | undefined; response: unknown; createdAt: string } | undefined {
    const r = this.q('select * from idempotency where owner = ? and key = ?').get(owner, key) as Row | undefined;
    if (!r) return undefined;
    return {
      bodyHash: String(r['body_hash']),
      statusCode: r['status_code'] === null ? undefined : Number(r['status_code']),
      response: r['response'] === null ? undefined : (JSON.parse(String(r['response'])) as unknown),
      createdAt: String(r['created_at']),
    };
  }

  /** Claims a key; false when another request holds it already. */
  claimIdempotency(owner: string, key: string, bodyHash: string): boolean {
    const res = this.q('insert or ignore into idempotency (owner, key, body_hash, created_at) values (?,?,?,?)').run(owner, key, bodyHash, new Date().toISOString());
    return Number(res.changes) === 1;
  }

  completeIdempotency(owner: string, key: string, statusCode: number, response: unknown): void {
    this.q('update idempotency set status_code = ?, response = ? where owner = ? and key = ?').run(statusCode, JSON.stringify(response), owner, key);
  }

  releaseIdempotency(owner: string, key: string): void {
    this.q('delete from idempotency where owner = ? and key = ? and status_code is null').run(owner, key);
  }

  expireIdempotency(before: string): void {
    this.q('delete from idempotency where created_at < ?').run(before);
  }

  // Batches

  createBatch(id: string, owner: string, name: string | undefined, createdAt: string): void {
    this.q('insert into batches (id, owner, name, created_at) values (?,?,?,?)').run(id, owner, name ?? null, createdAt);
  }

  /** Cluster mode: a batch known from its jobs' labels (the first job seen names it). */
  ensureBatch(id: string, owner: string, name: string | undefined, createdAt: string): void {
    this.q('insert or ignore into batches (id, owner, name, created_at) values (?,?,?,?)').run(id, owner, name ?? null, createdAt);
  }

  getBatch(id: string): { id: string; owner: string; name: string | undefined; createdAt: string } | undefined {
    const r = this.q('select * from batches where id = ?').get(id) as Row | undefined;
    return r ? { id: String(r['id']), owner: String(r['owner']), name: r['name'] === null ? undefined : String(r['name']), createdAt: String(r['created_at']) } : undefined;
  }
}

function toJob(r: Row): JobRecord {
  return {
    id: String(r['id']),
    owner: String(r['owner']),
    spec: JSON.parse(String(r['spec'])) as MediaJobSpec,
    status: JSON.parse(String(r['status'])) as JobRecord['status'],
    priority: r['priority'] as Priority,
    createdAt: String(r['created_at']),
    updatedAt: String(r['updated_at']),
    batchId: r['batch_id'] === null ? undefined : String(r['batch_id']),
    notBefore: r['not_before'] === null ? undefined : String(r['not_before']),
    traceparent: r['traceparent'] === null || r['traceparent'] === undefined ? undefined : String(r['traceparent']),
  };
}

function toKey(r: Row): ApiKeyRecord {
  return {
    id: String(r['id']),
    name: String(r['name']),
    hash: String(r['hash']),
    scope: r['scope'] as 'admin' | 'client',
    createdAt: String(r['created_at']),
    revokedAt: r['revoked_at'] === null ? undefined : String(r['revoked_at']),
    lastUsedAt: r['last_used_at'] === null ? undefined : String(r['last_used_at']),
  };
}
