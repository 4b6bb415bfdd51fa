// Pure decisions of cluster mode's event path: the operator's lifecycle events from status
// changes, stream messages as stored events, the webhook feed's choices, made-up final events,
// subjects, and the conversions between records and Kubernetes objects.
import { describe, expect, it } from 'vitest';
import type { MediaJobStatus } from '../../crds/src/status.ts';
import { feedDecision } from '../../gateway/src/cluster/webhook-feed.ts';
import { eventFromMessage } from '../../gateway/src/cluster/mirror.ts';
import { keyFromSecret, mediaJobFor, NoOwner, recordFromMediaJob, secretForKey } from '../../gateway/src/cluster/resources.ts';
import { finalEventFor, SyntheticSeq } from '../../gateway/src/final-event.ts';
import { lifecycleEvent } from '../../operator/src/lifecycle.ts';
import { idempotentJobId } from '../../gateway/src/routes/jobs.ts';
import type { JobRecord } from '../../operator/src/local/store.ts';
import { jobSubject, parseJobSubject } from '../../operator/src/nats/subjects.ts';

const t = '2026-11-27T00:00:00.000Z';
const out = { path: '/storage/o.mp4', role: 'media' as const, sizeBytes: 10 };

describe('lifecycleEvent', () => {
  const cases: [string, MediaJobStatus, MediaJobStatus, string | undefined, Record<string, unknown> | undefined][] = [
    ['a new MediaJob seen queued is "queued"', {}, { phase: 'queued' }, 'queued', { status: 'queued', priority: 'high' }],
    ['queued to processing is "started" with the attempt', { phase: 'queued' }, { phase: 'processing', attempts: 1 }, 'started', { status: 'processing', attempt: 1 }],
    ['a second attempt of a running Job is "retry"', { phase: 'processing', attempts: 1 }, { phase: 'processing', attempts: 2, error: { code: 'X', message: 'm', retryable: true } }, 'retry', { status: 'processing', attempt: 2, error: { code: 'X', message: 'm', retryable: true } }],
    ['processing to completed is "complete" with outputs', { phase: 'processing', attempts: 1 }, { phase: 'completed', attempts: 1, outputs: [out] }, 'complete', { status: 'completed', output_path: '/storage/o.mp4', outputs: [out] }],
    ['processing to failed is "error" with the error', { phase: 'processing' }, { phase: 'failed', error: { code: 'INVALID_INPUT', message: 'bad', retryable: false } }, 'error', { status: 'failed', error: { code: 'INVALID_INPUT', message: 'bad', retryable: false } }],
    ['queued to cancelled is "cancelled"', { phase: 'queued' }, { phase: 'cancelled' }, 'cancelled', { status: 'cancelled' }],
    ['progress within one attempt is no lifecycle event', { phase: 'processing', attempts: 1 }, { phase: 'processing', attempts: 1, progress: 40 }, undefined, undefined],
    ['re-writing the queued status is no event', { phase: 'queued' }, { phase: 'queued' }, undefined, undefined],
  ];
  it.each(cases)('%s', (_name, prev, next, type, data) => {
    const e = lifecycleEvent('uid-1', prev, next, t, 'high');
    expect(e?.type).toBe(type);
    if (data) expect(e?.data).toEqual(data);
  });

  it('gives one change the same id every time (JetStream drops the republished copy) and attempts different ids', () => {
    const a = lifecycleEvent('u', { phase: 'queued' }, { phase: 'processing', attempts: 1 }, t);
    const b = lifecycleEvent('u', { phase: 'queued' }, { phase: 'processing', attempts: 1 }, '2027-01-01T00:00:00Z');
    const c = lifecycleEvent('u', { phase: 'processing', attempts: 1 }, { phase: 'processing', attempts: 2 }, t);
    expect(a?.id).toBe(b?.id);
    expect(c?.id).not.toBe(a?.id);
  });
});

describe('eventFromMessage', () => {
  it('turns a worker progress message into the stored progress event, keeping the stream sequence', () => {
    const e = eventFromMessage('kubeff.jobs.ns.job-1.progress', 42, { type: 'progress', percentage: 12.5, stage: 'encoding', fps: 30, speed: 1.2, etaSeconds: 9, time: t }, 'x');
    expect(e).toEqual({ seq: 42, jobId: 'job-1', type: 'progress', time: t, data: { percentage: 12.5, stage: 'encoding', fps: 30, speed: 1.2, eta_seconds: 9, time: t } });
  });
  it('turns a log line into a log event and an operator status message into its lifecycle event', () => {
    expect(eventFromMessage('kubeff.jobs.ns.j.log', 1, { type: 'log', line: 'frame=1', time: t }, 'x')).toMatchObject({ type: 'log', data: { line: 'frame=1' } });
    expect(eventFromMessage('kubeff.jobs.ns.j.status', 2, { type: 'complete', time: t, data: { status: 'completed' } }, 'x')).toMatchObject({ type: 'complete', data: { status: 'completed' } });
  });
  it.each([
    ['a subject outside the job stream', 'other.subject', { type: 'progress', percentage: 1 }],
    ["the worker's own lifecycle notes", 'kubeff.jobs.ns.j.event', { type: 'completed' }],
    ['progress without a number', 'kubeff.jobs.ns.j.progress', { type: 'progress', percentage: 'lots' }],
    ['a payload that is not an object', 'kubeff.jobs.ns.j.status', 'complete'],
  ])('skips %s', (_n, subject, payload) => {
    expect(eventFromMessage(subject, 1, payload, t)).toBeUndefined();
  });
  it('uses the message time when the payload has none', () => {
    expect(eventFromMessage('kubeff.jobs.ns.j.log', 1, { line: 'x' }, t)?.time).toBe(t);
  });
});

describe('feedDecision', () => {
  it.each([
    ['log lines are acknowledged and skipped', 'log', true, 1, 'skip'],
    ['status events of a known job are fed to the dispatcher', 'status', true, 1, 'feed'],
    ['progress events of a known job are fed (the dispatcher throttles them)', 'progress', true, 1, 'feed'],
    ['an event of a job the informer has not shown yet comes back later', 'status', false, 3, 'later'],
    ['an event of a job never seen after many tries is dropped', 'status', false, 20, 'drop'],
  ] as const)('%s', (_n, kind, known, count, expected) => {
    expect(feedDecision(kind, known, count, 20)).toBe(expected);
  });
});

describe('finalEventFor', () => {
  const job = (status: JobRecord['status']): JobRecord => ({ id: 'j', owner: 'o', spec: {} as JobRecord['spec'], status, priority: 'normal', createdAt: t, updatedAt: t, batchId: undefined, notBefore: undefined });
  it('makes the complete, error or cancelled event from a finished status, above every stream sequence', () => {
    expect(finalEventFor(job({ phase: 'completed', outputs: [out], completedAt: t }))).toEqual({ seq: SyntheticSeq, jobId: 'j', type: 'complete', time: t, data: { status: 'completed', output_path: '/storage/o.mp4', outputs: [out] } });
    expect(finalEventFor(job({ phase: 'failed', error: { code: 'E', message: 'm', retryable: false } }))?.type).toBe('error');
    expect(finalEventFor(job({ phase: 'cancelled' }))?.type).toBe('cancelled');
  });
  it('makes nothing for an unfinished job', () => {
    expect(finalEventFor(job({ phase: 'processing' }))).toBeUndefined();
  });
});

describe('job subjects', () => {
  it('round-trips namespace, name and kind, and replaces characters NATS reserves', () => {
    expect(parseJobSubject(jobSubject('media', 'job-1', 'status'))).toEqual({ namespace: 'media', name: 'job-1', kind: 'status' });
    expect(jobSubject('a.b', 'x*y>z w', 'log')).toBe('kubeff.jobs.a_b.x_y_z_w.log');
    expect(parseJobSubject('kubeff.jobs.a.b.other')).toBeUndefined();
  });
});

describe('Kubernetes objects of the gateway', () => {
  const rec: JobRecord = {
    id: '5b0c6a0e-0000-4000-8000-000000000001', owner: 'env-0123456789ab', priority: 'high', createdAt: '2026-11-27T01:02:03.456Z', updatedAt: '2026-11-27T01:02:03.456Z', batchId: 'batch-1', notBefore: undefined, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    spec: { type: 'convert', input: { path: '/storage/in.mp4' }, output: { path: '/storage/o.mp4', format: 'mp4' }, operations: [], options: { priority: 'high', hardwareAcceleration: 'auto' } } as unknown as JobRecord['spec'],
    status: { phase: 'queued' },
  };
  it('names the MediaJob by the job id and carries owner, batch, trace and the millisecond creation time', () => {
    const mj = mediaJobFor(rec, 'media', 'nightly');
    expect(mj.metadata).toMatchObject({ name: rec.id, namespace: 'media', labels: { 'kubeff.io/owner': rec.owner, 'kubeff.io/batch': 'batch-1' }, annotations: { 'kubeff.io/traceparent': rec.traceparent, 'kubeff.io/batch-name': 'nightly', 'kubeff.io/created-at': rec.createdAt } });
    const back = recordFromMediaJob({ ...mj, status: { phase: 'processing', startedAt: '2026-11-27T01:02:05.000Z' } }, t);
    expect(back).toMatchObject({ id: rec.id, owner: rec.owner, priority: 'high', createdAt: rec.createdAt, updatedAt: '2026-11-27T01:02:05.000Z', batchId: 'batch-1', traceparent: rec.traceparent, status: { phase: 'processing' } });
  });
  it('reads a MediaJob applied with kubectl (no owner, no status yet) as queued and visible to admins only', () => {
    const back = recordFromMediaJob({ metadata: { name: 'mine', creationTimestamp: new Date(t) }, spec: rec.spec }, t);
    expect(back).toMatchObject({ id: 'mine', owner: NoOwner, createdAt: t, status: { phase: 'queued' } });
  });
  it('keeps an API key in a Secret as its hash only, and reads it back; refuses Secrets without a valid hash', () => {
    const key = { id: 'abc123', name: 'robot', hash: 'f'.repeat(64), scope: 'client' as const, createdAt: t, revokedAt: undefined, lastUsedAt: undefined };
    const s = secretForKey(key, 'media');
    expect(s.metadata?.labels?.['kubeff.io/api-key']).toBe('true');
    const data = Object.fromEntries(Object.entries(s.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    expect(keyFromSecret({ data })).toEqual(key);
    expect(keyFromSecret({ data: { ...data, hash: Buffer.from('plain-key').toString('base64') } })).toBeUndefined();
    expect(keyFromSecret({ data: { ...data, scope: Buffer.from('root').toString('base64') } })).toBeUndefined();
  });
});

describe('idempotentJobId', () => {
  it('names the same job for the same key and owner, another for another owner, in the shape of a UUID (a valid Kubernetes name)', () => {
    const a = idempotentJobId('env-0123456789ab', 'order-4711');
    expect(idempotentJobId('env-0123456789ab', 'order-4711')).toBe(a);
    expect(idempotentJobId('env-ba9876543210', 'order-4711')).not.toBe(a);
    expect(idempotentJobId('env-0123456789ab', 'order-4712')).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
