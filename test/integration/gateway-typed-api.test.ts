// The HTTP surface as typed by its document: wrong methods on known routes, bodies of the wrong
// JSON type, and query strings (which are text, so coerced) against a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../support/gateway.ts';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => gw.stop());

interface Envelope { error: { code: string; message: string; details?: { field?: string; allowed?: string[] } } }

describe('methods', () => {
  it.each([
    ['PUT', '/api/v1/convert', 'POST'],
    ['GET', '/api/v1/convert', 'POST'],
    ['PATCH', '/api/v1/jobs/00000000-0000-0000-0000-000000000000', 'DELETE, GET, HEAD'],
    ['POST', '/api/v1/jobs', 'GET, HEAD'],
    ['PUT', '/api/v1/admin/keys', 'GET, HEAD, POST'],
    ['DELETE', '/api/v1/health', 'GET, HEAD'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const res = await gw.api(path, { method, key: gw.keys.admin });
    const json = (await res.json()) as Envelope;
    expect(res.status, JSON.stringify(json)).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(json.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(json.error.details?.allowed).toEqual(allow.split(', '));
  });

  it('still answers 404 for a path no route has', async () => {
    const res = await gw.api('/api/v1/nothing-here', { method: 'GET', key: gw.keys.admin });
    expect(res.status).toBe(404);
    expect(res.headers.get('allow')).toBeNull();
  });
});

describe('admin bodies', () => {
  it.each([
    ['/api/v1/admin/keys', { name: false }, 'name'],
    ['/api/v1/admin/keys', { name: 12 }, 'name'],
    ['/api/v1/admin/keys', { name: 'ok', scope: true }, 'scope'],
    ['/api/v1/admin/cleanup', { older_than_hours: true }, 'older_than_hours'],
    ['/api/v1/admin/cleanup', { older_than_hours: '5' }, 'older_than_hours'],
  ])('refuses POST %s %j with 400 naming the field, and creates nothing', async (path, body, field) => {
    const before = (await (await gw.api('/api/v1/admin/keys', { method: 'GET', key: gw.keys.admin })).json()) as { keys: unknown[] };
    const res = await gw.api(path, { method: 'POST', json: body, key: gw.keys.admin });
    const json = (await res.json()) as Envelope;
    expect(res.status, JSON.stringify(json)).toBe(400);
    expect(json.error.details?.field).toBe(field);
    const after = (await (await gw.api('/api/v1/admin/keys', { method: 'GET', key: gw.keys.admin })).json()) as { keys: unknown[] };
    expect(after.keys).toHaveLength(before.keys.length);
  });
});

describe('query strings', () => {
  it('still reads numbers written as text in a query string', async () => {
    const res = await gw.api('/api/v1/jobs?page=1&per_page=5', { method: 'GET', key: gw.keys.client });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { per_page: number }).per_page).toBe(5);
  });
});

describe('job bodies', () => {
  it.each([
    ['/api/v1/convert', { input: 5, output: 'mp4' }, 'input'],
    ['/api/v1/convert', { input: '/storage/in/a.mp4', output: 'mp4', operations: [{ type: 'trim', params: { start: true } }] }, 'operations[0].params.start'],
    ['/api/v1/batch', { jobs: [{ input: '/storage/in/a.mp4', output: 'mp4' }, { input: '/storage/in/a.mp4', output: 'nope' }] }, 'jobs[1].output'],
    ['/api/v1/batch', { jobs: [], batch_name: 'x' }, 'jobs'],
    ['/api/v1/batch', { jobs: [{ input: '/storage/in/a.mp4', output: 'mp4' }], batch_name: false }, 'batch_name'],
    ['/api/v1/batch', { jobs: [{ input: '/storage/in/a.mp4', output: 'mp4' }], validate: true }, 'validate'],
  ])('keeps the normalizer\'s precise error for POST %s %j (field %s)', async (path, body, field) => {
    const res = await gw.api(path, { method: 'POST', json: body, key: gw.keys.client });
    const json = (await res.json()) as Envelope;
    expect(res.status, JSON.stringify(json)).toBe(400);
    expect(json.error.details?.field).toBe(field);
  });
});

describe('job list and detail', () => {
  it('filters the list by type, and shows each job its canonical spec', async () => {
    const { makeSource } = await import('../support/media.ts');
    makeSource(gw.storage.host('/storage/in/typed.mp4'), { seconds: 1, width: 160, height: 120 });
    const post = async (path: string, body: unknown) => {
      const res = await gw.api(path, { method: 'POST', json: body, key: gw.keys.other });
      const json = (await res.json()) as { job: { id: string } };
      expect(res.status, JSON.stringify(json)).toBe(201);
      return json.job.id;
    };
    const convert = await post('/api/v1/convert', { input: '/storage/in/typed.mp4', output: 'mkv', operations: [{ type: 'resize', params: { resolution: '120p' } }] });
    const analyze = await post('/api/v1/analyze', { input: '/storage/in/typed.mp4', reference: '/storage/in/typed.mp4', metrics: ['PSNR'] });
    const list = async (type: string) => ((await (await gw.api(`/api/v1/jobs?type=${type}`, { method: 'GET', key: gw.keys.other })).json()) as { jobs: { id: string; type: string }[] }).jobs.map((j) => j.id);
    expect(await list('convert')).toEqual([convert]);
    expect(await list('analyze')).toEqual([analyze]);
    expect(await list('stream')).toEqual([]);
    const bad = await gw.api('/api/v1/jobs?type=transcode', { method: 'GET', key: gw.keys.other });
    expect(bad.status).toBe(400);

    const detail = (await (await gw.api(`/api/v1/jobs/${convert}`, { method: 'GET', key: gw.keys.other })).json()) as { spec: { type: string; output: { path: string; format: string }; operations: unknown[] } };
    expect(detail.spec.type).toBe('convert');
    expect(detail.spec.output).toMatchObject({ path: '/storage/in/typed.mkv', format: 'mkv' });
    expect(detail.spec.operations).toEqual([{ type: 'scale', height: 120 }]);
    const a = (await (await gw.api(`/api/v1/jobs/${analyze}`, { method: 'GET', key: gw.keys.other })).json()) as { spec: { analyze: { metrics: string[] } } };
    expect(a.spec.analyze.metrics, 'the request as the server understood it: names folded').toEqual(['psnr']);
  });
});
