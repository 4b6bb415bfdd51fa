// The embedded store (a real SQLite file): the per-owner count of unfinished jobs that the quota
// check reads on every submission, and the key cache that every request authenticates through.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MediaJobSpec } from '../../crds/src/spec.ts';
import type { Phase } from '../../crds/src/status.ts';
import { Store, type ApiKeyRecord, type JobRecord } from '../../operator/src/local/store.ts';

let dir: string;
let store: Store;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeff-store-'));
  store = new Store(dir);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const spec = { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: '/storage/out.mp4', format: 'mp4' }, operations: [], options: { priority: 'normal', hardwareAcceleration: 'auto' } } as unknown as MediaJobSpec;

function job(id: string, owner: string, phase: Phase = 'queued'): JobRecord {
  const now = new Date().toISOString();
  return { id, owner, spec, status: { phase, stage: phase, progress: 0, attempts: 0 }, priority: 'normal', createdAt: now, updatedAt: now, batchId: undefined, notBefore: undefined };
}

/** What the counter must always equal: the unfinished jobs counted the slow way. */
function counted(owner: string): number {
  return Number((store.db.prepare("select count(*) as n from jobs where owner = ? and phase in ('queued', 'processing')").get(owner) as { n: number }).n);
}

describe('unfinished jobs per owner', () => {
  it('counts jobs created queued or processing, and not those created finished', () => {
    store.createJob(job('a', 'k1'));
    store.createJob(job('b', 'k1', 'processing'));
    store.createJob(job('c', 'k1', 'completed'));
    store.createJob(job('d', 'k2'));
    expect([store.countActive('k1'), store.countActive('k2'), store.countActive('nobody')]).toEqual([2, 1, 0]);
  });

  it.each([
    { from: 'queued', to: 'processing', after: 1 },
    { from: 'queued', to: 'cancelled', after: 0 },
    { from: 'processing', to: 'completed', after: 0 },
    { from: 'processing', to: 'failed', after: 0 },
    { from: 'processing', to: 'queued', after: 1 },
  ] as const)('follows a $from → $to transition (unfinished after: $after)', ({ from, to, after }) => {
    store.createJob(job('a', 'k1', from));
    expect(store.updateStatus('a', { phase: to }), 'the transition is allowed').toBeDefined();
    expect(store.countActive('k1')).toBe(after);
    expect(store.countActive('k1')).toBe(counted('k1'));
  });

  it('follows deletions, cluster-mode upserts that change phase or owner, and refused transitions', () => {
    for (let i = 0; i < 5; i++) store.createJob(job(`j${i}`, 'k1'));
    store.deleteJob('j0');
    store.upsertJob(job('j1', 'k1', 'completed'));
    store.upsertJob(job('j2', 'k2', 'processing'));
    store.upsertJob(job('new', 'k2'));
    store.updateStatus('j1', { phase: 'queued' }); // completed is final: refused, nothing changes
    expect([store.countActive('k1'), store.countActive('k2')]).toEqual([counted('k1'), counted('k2')]);
    expect([store.countActive('k1'), store.countActive('k2')]).toEqual([2, 2]);
    expect(store.deleteJobsBefore(new Date(Date.now() + 1000).toISOString(), ['completed'])).toEqual(['j1']);
    expect(store.countActive('k1')).toBe(2);
  });

  it('is rebuilt from the jobs when the database is opened again', () => {
    for (let i = 0; i < 3; i++) store.createJob(job(`j${i}`, 'k1'));
    // A counter out of step (as a database written by an older version would have none at all).
    store.db.exec("update owner_active set n = 99 where owner = 'k1'");
    store.close();
    store = new Store(dir);
    expect(store.countActive('k1')).toBe(3);
  });
});

describe('API keys by hash', () => {
  const key = (over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({ id: 'k1', name: 'one', hash: 'h1', scope: 'client', createdAt: new Date().toISOString(), revokedAt: undefined, lastUsedAt: undefined, ...over });

  it('sees a revocation on the very next lookup', () => {
    store.insertKey(key());
    expect(store.keyByHash('h1')?.revokedAt).toBeUndefined();
    store.updateKey('k1', { revokedAt: new Date().toISOString() });
    expect(store.keyByHash('h1')?.revokedAt, 'revoked key still served from the cache').toBeDefined();
  });

  it('stops finding the old hash after a rotation and finds the new one', () => {
    store.insertKey(key());
    expect(store.keyByHash('h1')?.id).toBe('k1');
    store.updateKey('k1', { hash: 'h2' });
    expect(store.keyByHash('h1'), 'old secret still accepted').toBeUndefined();
    expect(store.keyByHash('h2')?.id).toBe('k1');
  });

  it('follows keys changed or removed by cluster-mode Secret updates', () => {
    store.upsertKey(key());
    expect(store.keyByHash('h1')?.scope).toBe('client');
    store.upsertKey(key({ scope: 'admin' }));
    expect(store.keyByHash('h1')?.scope).toBe('admin');
    store.deleteKey('k1');
    expect(store.keyByHash('h1')).toBeUndefined();
  });

  it('does not remember unknown hashes, so a key created later is found', () => {
    expect(store.keyByHash('h1')).toBeUndefined();
    store.insertKey(key());
    expect(store.keyByHash('h1')?.id).toBe('k1');
  });
});
