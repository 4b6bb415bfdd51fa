// The durable side of webhooks, in the store's SQLite database: deliveries (table
// webhook_deliveries, created by the store), one row per attempt (webhook_attempts), redelivery
// requests (webhook_redeliveries: who asked, and where the new retry budget starts) and the
// generated signing secret (webhook_settings). Our own tables are created here with `if not
// exists`, so a database from an older version gains them on start.
import type { SQLInputValue } from 'node:sqlite';
import type { Store } from '../../../operator/src/local/store.ts';

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface DeliveryRow {
  /** Insertion order (SQLite rowid): deliveries of one job are sent in this order. */
  seq: number;
  id: string;
  jobId: string;
  event: string;
  url: string;
  payload: string;
  attempts: number;
  state: DeliveryState;
  lastStatus: number | undefined;
  lastError: string | undefined;
  nextAttemptAt: string | undefined;
  createdAt: string;
  deliveredAt: string | undefined;
}

export interface AttemptRow {
  attempt: number;
  startedAt: string;
  durationMs: number;
  status: number | undefined;
  error: string | undefined;
  /** Whether this attempt was asked for by a redeliver call (else the first try or a retry). */
  redelivery: boolean;
}

const schema = `
create table if not exists webhook_settings (
  name text primary key,
  value text not null,
  created_at text not null
);
create table if not exists webhook_attempts (
  delivery_id text not null,
  attempt integer not null,
  started_at text not null,
  duration_ms integer not null,
  status integer,
  error text,
  primary key (delivery_id, attempt)
);
create table if not exists webhook_redeliveries (
  delivery_id text not null,
  requested_at text not null,
  requested_by text not null,
  attempts_before integer not null
);
create index if not exists webhook_redeliveries_delivery on webhook_redeliveries(delivery_id);
`;

type Row = Record<string, SQLInputValue>;

const opt = (v: SQLInputValue | undefined) => (v === null || v === undefined ? undefined : String(v));

function toDelivery(r: Row): DeliveryRow {
  return {
    seq: Number(r['seq']),
    id: String(r['id']),
    jobId: String(r['job_id']),
    event: String(r['event']),
    url: String(r['url']),
    payload: String(r['payload']),
    attempts: Number(r['attempts']),
    state: String(r['state']) as DeliveryState,
    lastStatus: r['last_status'] === null ? undefined : Number(r['last_status']),
    lastError: opt(r['last_error']),
    nextAttemptAt: opt(r['next_attempt_at']),
    createdAt: String(r['created_at']),
    deliveredAt: opt(r['delivered_at']),
  };
}

const columns = 'rowid as seq, id, job_id, event, url, payload, attempts, state, last_status, last_error, next_attempt_at, created_at, delivered_at';

export class DeliveryStore {
  private readonly store: Store;


  constructor(store: Store) {
    this.store = store;
    store.db.exec(schema);
  }



  /** The stored value of a setting, creating it with `make()` on first use (race-free). */
  setting(name: string, make: () => string): string {
    this.store.q('insert or ignore into webhook_settings (name, value, created_at) values (?,?,?)').run(name, make(), new Date().toISOString());
    return String((this.store.q('select value from webhook_settings where name = ?').get(name) as Row)['value']);
  }

  insert(d: { id: string; jobId: string; event: string; url: string; payload: string; createdAt: string }): void {
    this.store
      .q("insert into webhook_deliveries (id, job_id, event, url, payload, attempts, state, next_attempt_at, created_at) values (?,?,?,?,?,0,'pending',?,?)")
      .run(d.id, d.jobId, d.event, d.url, d.payload, d.createdAt, d.createdAt);
  }

  /**
   * Progress is a snapshot: once a newer event of the job exists, an older progress delivery that
   * already failed and waits for a retry is worth nothing, and retrying it would hold up the newer
   * ones behind it (for hours, at the end of the schedule). One not yet tried is left alone, so a
   * healthy receiver gets every (throttled) progress webhook.
   */
  supersedeProgress(jobId: string, keep: ReadonlySet<string>): number {
    const ids = (this.store.q("select id from webhook_deliveries where job_id = ? and event = 'progress' and state = 'pending' and attempts > 0").all(jobId) as Row[]).map((r) => String(r['id'])).filter((id) => !keep.has(id));
    for (const id of ids) {
      this.store.q("update webhook_deliveries set state = 'failed', next_attempt_at = null, last_error = ? where id = ? and state = 'pending'").run('superseded by a newer event of the job before it could be delivered', id);
    }
    return ids.length;
  }

  /**
   * Pending deliveries whose time has come and that are first in their job's line (no earlier
   * pending delivery of the same job), oldest first, at most `limit`.
   */
  due(now: string, limit: number): DeliveryRow[] {
    const rows = this.store.q(`
      select ${columns} from webhook_deliveries d
      where d.state = 'pending' and d.next_attempt_at <= ?
        and not exists (select 1 from webhook_deliveries e where e.job_id = d.job_id and e.state = 'pending' and e.rowid < d.rowid)
      order by d.next_attempt_at, d.rowid
      limit ?`).all(now, limit) as Row[];
    return rows.map(toDelivery);
  }

  get(id: string): DeliveryRow | undefined {
    const r = this.store.q(`select ${columns} from webhook_deliveries where id = ?`).get(id) as Row | undefined;
    return r ? toDelivery(r) : undefined;
  }

  listForJob(jobId: string, limit: number, offset: number): { deliveries: DeliveryRow[]; total: number } {
    const total = Number((this.store.q('select count(*) as n from webhook_deliveries where job_id = ?').get(jobId) as Row)['n']);
    const rows = this.store.q(`select ${columns} from webhook_deliveries where job_id = ? order by rowid limit ? offset ?`).all(jobId, limit, offset) as Row[];
    return { deliveries: rows.map(toDelivery), total };
  }

  attempts(deliveryId: string): AttemptRow[] {
    const redeliveredAt = new Set((this.store.q('select attempts_before from webhook_redeliveries where delivery_id = ?').all(deliveryId) as Row[]).map((r) => Number(r['attempts_before']) + 1));
    const rows = this.store.q('select * from webhook_attempts where delivery_id = ? order by attempt').all(deliveryId) as Row[];
    return rows.map((r) => ({
      attempt: Number(r['attempt']),
      startedAt: String(r['started_at']),
      durationMs: Number(r['duration_ms']),
      status: r['status'] === null ? undefined : Number(r['status']),
      error: opt(r['error']),
      redelivery: redeliveredAt.has(Number(r['attempt'])),
    }));
  }

  /** Attempts made before the latest redeliver call: the retry schedule restarts after it. */
  roundStart(deliveryId: string): number {
    const r = this.store.q('select max(attempts_before) as n from webhook_redeliveries where delivery_id = ?').get(deliveryId) as Row;
    return r['n'] === null ? 0 : Number(r['n']);
  }

  /** Records one attempt and its outcome together. */
  recordAttempt(
    d: DeliveryRow,
    a: { startedAt: string; durationMs: number; status: number | undefined; error: string | undefined },
    outcome: { state: DeliveryState; nextAttemptAt: string | undefined; deliveredAt: string | undefined },
  ): void {
    this.store.tx(() => {
      const attempt = d.attempts + 1;
      this.store.q('insert or replace into webhook_attempts (delivery_id, attempt, started_at, duration_ms, status, error) values (?,?,?,?,?,?)').run(d.id, attempt, a.startedAt, a.durationMs, a.status ?? null, a.error ?? null);
      this.store
        .q('update webhook_deliveries set attempts = ?, state = ?, last_status = ?, last_error = ?, next_attempt_at = ?, delivered_at = coalesce(?, delivered_at) where id = ?')
        .run(attempt, outcome.state, a.status ?? null, a.error ?? null, outcome.nextAttemptAt ?? null, outcome.deliveredAt ?? null, d.id);
    });
  }

  /** Queues a fresh attempt now, with a fresh retry budget. */
  redeliver(id: string, requestedBy: string, now: string): DeliveryRow | undefined {
    return this.store.tx(() => {
      const d = this.get(id);
      if (!d) return undefined;
      this.store.q('insert into webhook_redeliveries (delivery_id, requested_at, requested_by, attempts_before) values (?,?,?,?)').run(id, now, requestedBy, d.attempts);
      this.store.q("update webhook_deliveries set state = 'pending', next_attempt_at = ? where id = ?").run(now, id);
      return this.get(id);
    });
  }

  /** Attempt and redelivery rows of deliveries that no longer exist (the store's cleanup removes deliveries only). */
  sweepOrphans(): number {
    const a = this.store.q('delete from webhook_attempts where delivery_id not in (select id from webhook_deliveries)').run();
    const r = this.store.q('delete from webhook_redeliveries where delivery_id not in (select id from webhook_deliveries)').run();
    return Number(a.changes) + Number(r.changes);
  }
}
