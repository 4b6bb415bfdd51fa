// The OpenAPI document is plain JSON: TypeBox 1.x marks its schemas with hidden `~kind` /
// `~optional` properties, which must not reach the document (YAML output and client generators
// walk own keys, not only enumerable ones).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Type from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../../gateway/src/config.ts';
import { operationId, openapiPlugin, plainJson } from '../../gateway/src/openapi.ts';
import { startStandalone, type Standalone } from '../../gateway/src/standalone.ts';

/** Every place in a value that JSON would not carry over exactly, as a path and a reason. */
function nonJson(value: unknown, path = '$'): string[] {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return [];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [`${path}: non-finite number`];
  if (typeof value !== 'object') return [`${path}: ${typeof value}`];
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return [`${path}: not a plain object`];
  const out: string[] = [];
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === 'symbol') {
      out.push(`${path}: symbol key ${String(key)}`);
      continue;
    }
    if (Array.isArray(value) && key === 'length') continue;
    const desc = Object.getOwnPropertyDescriptor(value, key);
    if (!desc?.enumerable) out.push(`${path}.${key}: hidden property`);
    else if (key.startsWith('~')) out.push(`${path}.${key}: TypeBox marker`);
    else if (!('value' in desc)) out.push(`${path}.${key}: accessor`);
    else out.push(...nonJson(desc.value, `${path}.${key}`));
  }
  return out;
}

describe('plainJson', () => {
  it('drops the hidden markers a TypeBox schema carries', () => {
    const schema = Type.Object({ a: Type.Optional(Type.String()), b: Type.Union([Type.Literal('x'), Type.Null()]) });
    expect(nonJson(schema).length, 'TypeBox 1.x marks its schemas (the reason for plainJson)').toBeGreaterThan(0);
    const plain = plainJson(schema);
    expect(nonJson(plain)).toEqual([]);
    expect(plain).toEqual({ type: 'object', required: ['b'], properties: { a: { type: 'string' }, b: { anyOf: [{ type: 'string', const: 'x' }, { type: 'null' }] } } });
  });
});

describe('operationId', () => {
  it.each([
    ['POST', '/api/v1/convert', 'postConvert'],
    ['GET', '/api/v1/jobs/:id/events', 'getJobsIdEvents'],
    ['DELETE', '/api/v1/admin/keys/:id', 'deleteAdminKeysId'],
    ['GET', '/metrics', 'getMetrics'],
  ])('names %s %s as %s', (method, url, id) => {
    expect(operationId(method, url)).toBe(id);
  });
});

describe('the generated document', () => {
  let s: Standalone;
  const dirs = [mkdtempSync(join(tmpdir(), 'kubeff-oa-')), mkdtempSync(join(tmpdir(), 'kubeff-oa-data-'))] as const;
  beforeAll(async () => {
    s = await startStandalone(configFromEnv({ PORT: '0', KUBEFF_STORAGE_ROOT: dirs[0], KUBEFF_DATA_DIR: dirs[1], KUBEFF_API_KEYS: 'ck', KUBEFF_ADMIN_KEYS: 'ak', LOG_LEVEL: 'warn' }), { plugins: [openapiPlugin] });
    await s.app.ready();
  });
  afterAll(async () => {
    await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('has no symbol keys, hidden properties, TypeBox markers or non-JSON values', () => {
    const doc = s.app.swagger();
    expect(nonJson(doc)).toEqual([]);
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });

  it('is served byte for byte as the JSON of that document', async () => {
    const res = await s.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('"~');
    expect(JSON.parse(res.body)).toEqual(s.app.swagger());
  });

  it('renders as YAML at /docs/yaml without TypeBox markers', async () => {
    const res = await s.app.inject({ url: '/docs/yaml' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^openapi: 3\.1\.0$/m);
    expect(res.body).not.toMatch(/~kind|~optional/);
  });
});

describe('the documented job requests', () => {
  let s: Standalone;
  const dirs = [mkdtempSync(join(tmpdir(), 'kubeff-oa-')), mkdtempSync(join(tmpdir(), 'kubeff-oa-data-'))] as const;
  beforeAll(async () => {
    s = await startStandalone(configFromEnv({ PORT: '0', KUBEFF_STORAGE_ROOT: dirs[0], KUBEFF_DATA_DIR: dirs[1], KUBEFF_API_KEYS: 'ck', KUBEFF_ADMIN_KEYS: 'ak', LOG_LEVEL: 'warn' }), { plugins: [openapiPlugin] });
    await s.app.ready();
  });
  afterAll(async () => {
    await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  type Schema = { type?: string; properties?: Record<string, Schema>; anyOf?: Schema[]; items?: Schema; enum?: unknown[]; required?: string[]; additionalProperties?: boolean };
  const body = (path: string): Schema => {
    const doc = s.app.swagger() as unknown as { paths: Record<string, { post: { requestBody: { content: { 'application/json': { schema: Schema } } } } }> };
    return doc.paths[path]!.post.requestBody.content['application/json'].schema;
  };

  it.each(['/api/v1/convert', '/api/v1/stream', '/api/v1/analyze'])('types %s with no untyped field left and unknown fields refused', (path) => {
    const untyped: string[] = [];
    const walk = (x: Schema, at: string) => {
      if (typeof x !== 'object' || x === null) return;
      if (!x.type && !x.anyOf && !x.enum && !('const' in x)) untyped.push(at);
      if (x.type === 'object' && x.additionalProperties !== false) untyped.push(`${at} (open object)`);
      for (const [k, v] of Object.entries(x.properties ?? {})) walk(v, `${at}.${k}`);
      (x.anyOf ?? []).forEach((v, i) => walk(v, `${at}|${i}`));
      if (x.items) walk(x.items, `${at}[]`);
    };
    walk(body(path), 'body');
    expect(untyped, 'every field has a type').toEqual([]);
  });

  it('documents operations as a union discriminated on type, each with its fields flat and under params', () => {
    const ops = body('/api/v1/convert').properties!['operations']!.items!.anyOf!;
    const types = ops.flatMap((o) => {
      const t = o.properties!['type']!;
      return t.enum ?? t.anyOf?.flatMap((x) => x.enum ?? []) ?? [];
    });
    expect(new Set(types).size, 'each type names one variant').toBe(types.length);
    expect(types).toEqual(expect.arrayContaining(['trim', 'resize', 'scale', 'crop', 'watermark', 'transcode', 'thumbnail_grid']));
    for (const o of ops) {
      const { type: _t, params, ...flat } = o.properties!;
      expect(Object.keys(params!.properties!).sort(), `params of ${JSON.stringify(o.properties!['type'])}`).toEqual(Object.keys(flat).sort());
    }
  });

  it('documents every shorthand of input and output', () => {
    const convert = body('/api/v1/convert');
    expect(convert.required).toEqual(expect.arrayContaining(['input', 'output']));
    const input = convert.properties!['input']!.anyOf!;
    expect(input.map((x) => x.type)).toEqual(['string', 'object']);
    const output = convert.properties!['output']!.anyOf!;
    expect(output[0]!.anyOf?.flatMap((x) => x.enum ?? [])).toContain('mp4');
    expect(output.map((x) => x.type ?? 'enum')).toEqual(['enum', 'string', 'object']);
  });

  it('documents estimate and batch items as any of the three job requests', () => {
    expect(body('/api/v1/estimate').anyOf).toHaveLength(3);
    expect(body('/api/v1/batch').properties!['jobs']!.items!.anyOf).toHaveLength(3);
  });
});

describe('operations of the whole document', () => {
  let s: Standalone;
  const dirs = [mkdtempSync(join(tmpdir(), 'kubeff-oa-')), mkdtempSync(join(tmpdir(), 'kubeff-oa-data-'))] as const;
  beforeAll(async () => {
    s = await startStandalone(configFromEnv({ PORT: '0', KUBEFF_STORAGE_ROOT: dirs[0], KUBEFF_DATA_DIR: dirs[1], KUBEFF_API_KEYS: 'ck', KUBEFF_ADMIN_KEYS: 'ak', LOG_LEVEL: 'warn', KUBEFF_SPARE_WORKERS: '0' }));
    await s.app.ready();
  });
  afterAll(async () => {
    await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  type Op = { operationId?: string; requestBody?: { content: Record<string, unknown> } };
  const ops = () => Object.entries((s.app.swagger() as unknown as { paths: Record<string, Record<string, Op>> }).paths)
    .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));

  it('gives every operation its own id, named for its own method (GET and HEAD of one route too)', () => {
    const ids = ops().map((o) => o.op.operationId);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i), 'repeated operationIds').toEqual([]);
    expect(ops().find((o) => o.method === 'head' && o.path === '/api/v1/files')?.op.operationId).toBe('headFiles');
    for (const o of ops()) expect(o.op.operationId?.startsWith(o.method), `${o.method} ${o.path}: ${o.op.operationId}`).toBe(true);
  });

  it('documents the webhook delivery (a request the server makes) with its signed headers and payload', () => {
    const doc = s.app.swagger() as unknown as { webhooks?: Record<string, { post: { parameters: { name: string }[]; requestBody: { content: Record<string, { schema: { $ref?: string } }> } } }>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
    const hook = doc.webhooks?.['jobEvent']?.post;
    expect(hook?.parameters.map((p) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    expect(hook?.requestBody.content['application/json']?.schema.$ref).toBe('#/components/schemas/WebhookPayload');
    expect(Object.keys(doc.components.schemas['WebhookPayload']?.properties ?? {}).sort()).toEqual(['data', 'event', 'job_id', 'timestamp']);
  });

  it('documents the upload body as the file\'s bytes', () => {
    const upload = ops().find((o) => o.method === 'post' && o.path === '/api/v1/files');
    expect(upload?.op.requestBody?.content).toHaveProperty('application/octet-stream');
  });
});
