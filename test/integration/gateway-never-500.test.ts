// Hostile and odd requests of every shape: each gets a 4xx in the error envelope, never a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSource } from '../support/media.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
  makeSource(gw.storage.host('/storage/in.mp4'), { seconds: 1 });
});
afterAll(async () => gw.stop());

const bodies: unknown[] = [
  null, 'string', 42, true, [], {}, { input: {} }, { input: { path: 5 } }, { input: null, output: null },
  { input: '/storage/in.mp4', output: { video: null } }, { input: '/storage/in.mp4', output: { path: null } },
  { input: '/storage/in.mp4', output: 'mp4', operations: [null] }, { input: '/storage/in.mp4', output: 'mp4', operations: [[]] },
  { input: '/storage/in.mp4', output: 'mp4', operations: [{ type: 'trim', params: [] }] }, { input: '/storage/in.mp4', output: 'mp4', operations: 'trim' },
  { input: '/storage/in.mp4', output: 'mp4', options: [] }, { input: '/storage/in.mp4', output: 'mp4', options: { webhook_events: 'all' } },
  { input: '/storage/in.mp4', output: 'mp4', webhook_url: 'javascript:alert(1)' }, { input: '/storage/in.mp4', output: 'mp4', webhook_url: 'http://[::1]:9/x' },
  { input: '/storage/in.mp4', output: { path: '/storage/o.mp4', video: { resolution: 'x' } } }, { input: '/storage/in.mp4', output: { path: '/storage/o.mp4', audio: { sample_rate: {} } } },
  { input: '/storage/in.mp4', reference: { path: [] }, metrics: [1] }, { input: '/storage/in.mp4', variants: [{}], type: 'hls', output: '/storage/s' },
  { input: '/storage/in.mp4', variants: 'many', output: '/storage/s' }, { input: '/storage/\u0000in.mp4', output: 'mp4' }, { input: `/storage/${'a'.repeat(5000)}`, output: 'mp4' },
  { ['__proto__']: { polluted: true }, input: '/storage/in.mp4', output: 'mp4' }, { constructor: { prototype: { x: 1 } }, input: '/storage/in.mp4', output: 'mp4' },
];
const routes = ['/api/v1/convert', '/api/v1/stream', '/api/v1/analyze', '/api/v1/estimate', '/api/v1/batch'];

describe('no request ever gets a 5xx', () => {
  // /estimate creates no job, so a webhook URL is irrelevant there (and valid input gets 200).
  const webhookOnly = (b: unknown) => typeof b === 'object' && b !== null && 'webhook_url' in b;
  it.each(routes.flatMap((route) => bodies.map((body, i) => ({ route, i, body })).filter((c) => !(route === '/api/v1/estimate' && webhookOnly(c.body)))))('POST $route with odd body #$i answers 4xx', async ({ route, body }) => {
    const res = await gw.api(route, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const text = await res.text();
    expect(res.status, text).toBeGreaterThanOrEqual(400);
    expect(res.status, text).toBeLessThan(500);
    expect((JSON.parse(text) as { error: { code: string } }).error.code).toMatch(/^[A-Z_]+$/);
    expect(({} as Record<string, unknown>)['polluted'], 'no prototype pollution').toBeUndefined();
  });

  it.each([
    ['GET', '/api/v1/jobs?page=abc'],
    ['GET', '/api/v1/jobs?per_page=-1'],
    ['GET', '/api/v1/jobs?unknown=1'],
    ['GET', '/api/v1/jobs/%00'],
    ['GET', `/api/v1/jobs/${'x'.repeat(300)}`],
    ['GET', '/api/v1/jobs/..%2F..%2Fetc%2Fpasswd'],
    ['DELETE', '/api/v1/jobs/not-a-job'],
    ['GET', '/api/v1/jobs/not-a-job/events?last_event_id=-5'],
    ['GET', '/api/v1/jobs/not-a-job/logs?lines=999999'],
    ['GET', '/api/v1/batch/%2e%2e'],
    ['POST', '/api/v1/admin/keys'],
    ['GET', '/api/v1/files?path=/etc/passwd'],
    ['GET', '/api/v1/files?path=/storage/../etc/passwd'],
  ])('%s %s answers 4xx', async (method, path) => {
    const res = await gw.api(path, { method, key: method === 'POST' ? gw.keys.admin : gw.keys.client, ...(method === 'POST' ? { body: 'not json', headers: { 'content-type': 'application/json' } } : {}) });
    expect(res.status, await res.text()).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('refuses a content type it does not read with 415', async () => {
    const res = await gw.api('/api/v1/convert', { method: 'POST', body: 'input=/storage/in.mp4', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(415);
  });
});
