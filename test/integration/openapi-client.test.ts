// A client generated from /openapi.json covers the whole API: test/sdk/every-route.ts calls every
// route through openapi-fetch typed by the generated `paths` (sdk/src/openapi.ts, kept fresh by
// test/unit/sdk-generated-types.test.ts). Here it is type-checked on its own and run against a
// real standalone server (loopback port, real FFmpeg): every path and method of the served
// document must have been called, and every answer must have a status the document declares.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from '../../sdk/src/openapi.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { makeSource } from '../support/media.ts';
import { callEveryRoute } from '../sdk/every-route.ts';

const repo = join(import.meta.dirname, '..', '..');
const input = '/storage/input/tiny.mp4';
const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface DocOperation {
  responses?: Record<string, unknown>;
}
type Doc = { paths: Record<string, Partial<Record<(typeof methods)[number], DocOperation>>> };

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
  makeSource(gw.storage.host(input), { seconds: 1, width: 160, height: 120 });
});
afterAll(async () => gw?.stop());

describe('a client generated from /openapi.json', () => {
  it('calls every path and method of the served document, each answered with a status the document declares', async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as Doc;
    const api = createClient<paths>({ baseUrl: gw.url, headers: { 'x-api-key': gw.keys.admin } });
    const seen: { op: string; status: number }[] = [];
    api.use({ onResponse: ({ request, schemaPath, response }) => void seen.push({ op: `${request.method} ${schemaPath}`, status: response.status }) });

    await callEveryRoute(api, { input, outputs: '/storage/out' });

    const documented = Object.entries(doc.paths).flatMap(([path, item]) => methods.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.length, 'the document lists routes').toBeGreaterThan(20);
    const called = new Set(seen.map((x) => x.op));
    expect(documented.filter((op) => !called.has(op)), 'routes of the document that test/sdk/every-route.ts never calls').toEqual([]);
    expect([...called].filter((op) => !documented.includes(op)), 'calls to routes the document does not list').toEqual([]);

    const undeclared = seen.filter(({ op, status }) => {
      const [method = '', path = ''] = op.split(' ');
      const responses = doc.paths[path]?.[method.toLowerCase() as (typeof methods)[number]]?.responses ?? {};
      return !(String(status) in responses) && !('default' in responses);
    });
    expect(undeclared, 'answers whose status the document does not declare for that route').toEqual([]);
    expect(seen.filter((x) => x.status >= 500), 'server errors').toEqual([]);
  });

  it('type-checks against the generated types (test/sdk/tsconfig.json)', async () => {
    const tsc = join(repo, 'node_modules', '.bin', 'tsc');
    const r = await promisify(execFile)(tsc, ['--noEmit', '-p', join(repo, 'test', 'sdk', 'tsconfig.json')], { cwd: repo }).then(() => ({ code: 0, out: '' }), (e: { code?: number; stdout?: string }) => ({ code: e.code ?? 1, out: e.stdout ?? '' }));
    expect(r.code, `test/sdk/every-route.ts no longer fits the generated types:\n${r.out}`).toBe(0);
  });
});
