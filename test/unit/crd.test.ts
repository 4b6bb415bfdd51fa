// The MediaJob CRD is generated from the TypeBox schemas; these tests pin both the generator's
// rules and the facts about the generated CRD that kubectl users and the operator rely on.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Type from 'typebox';
import YAML from 'yaml';
import { describe, it, expect } from 'vitest';
import { crdFileName, mediaJobCrd, renderCrdYaml, toStructural, type StructuralSchema } from '../../crds/src/crd.ts';
import { Operation } from '../../crds/src/spec.ts';

const crdFile = path.join(import.meta.dirname, '..', '..', 'crds', crdFileName);

function version() {
  const first = mediaJobCrd().spec.versions[0];
  if (first === undefined) throw new Error('the CRD has no version');
  return first;
}

/** The generated openAPIV3Schema as plain data, so the walks check output rather than trust types. */
function rootSchema(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(version().schema.openAPIV3Schema)) as Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every schema node with its path, reaching through properties, items and additionalProperties. */
function nodes(schema: unknown, where = ''): [string, Record<string, unknown>][] {
  if (!isRecord(schema)) throw new Error(`${where}: not a schema object`);
  const found: [string, Record<string, unknown>][] = [[where, schema]];
  if (isRecord(schema.properties)) {
    for (const [key, value] of Object.entries(schema.properties)) found.push(...nodes(value, `${where}.${key}`));
  }
  if (schema.items !== undefined) found.push(...nodes(schema.items, `${where}[]`));
  if (isRecord(schema.additionalProperties)) found.push(...nodes(schema.additionalProperties, `${where}.*`));
  return found;
}

/** The schema node at a dotted path such as 'spec.operations[].type'. */
function nodeAt(where: string): StructuralSchema {
  let current: StructuralSchema = version().schema.openAPIV3Schema as StructuralSchema;
  for (const part of where.split('.')) {
    const [name = '', ...arrays] = part.split('[]');
    const next = current.properties?.[name];
    if (next === undefined) throw new Error(`no property ${name} in ${where}`);
    current = next;
    for (let i = 0; i < arrays.length; i++) {
      if (current.items === undefined) throw new Error(`${where}: ${name} is not an array`);
      current = current.items;
    }
  }
  return current;
}

describe('generated MediaJob CRD', () => {
  it('the committed CRD YAML matches what npm run gen would write', () => {
    const committed = readFileSync(crdFile, 'utf8');
    expect(committed, `${crdFile} is stale: run \`npm run gen\` and commit the result`).toBe(renderCrdYaml());
  });

  it('a YAML 1.1 reader such as kubectl reads back exactly the generated object', () => {
    // YAML 1.1 turns bare y/n/on/off into booleans; the CropOp field `y` must survive as a key.
    expect(YAML.parse(renderCrdYaml(), { version: '1.1' })).toEqual(mediaJobCrd());
    expect(nodeAt('spec.operations[].y').type).toBe('integer');
  });

  it('every schema node has a type, except int-or-string nodes, which a CEL rule holds to their values', () => {
    const untyped = nodes(rootSchema()).filter(([, node]) => typeof node.type !== 'string' && node['x-kubernetes-int-or-string'] !== true).map(([where]) => where);
    expect(untyped).toEqual([]);
    const p = nodeAt('spec.options.parallelism');
    expect(p['x-kubernetes-int-or-string']).toBe(true);
    expect(p['x-kubernetes-validations']?.[0]?.rule).toBe('type(self) == int ? ((self >= 1 && self <= 64)) : ((self in ["auto"]))');
  });

  it('no node uses const, anyOf, oneOf, or additionalProperties beside properties', () => {
    const offenders = nodes(rootSchema())
      .filter(([, node]) => 'const' in node || 'anyOf' in node || 'oneOf' in node || 'allOf' in node
        || ('additionalProperties' in node && 'properties' in node))
      .map(([where]) => where);
    expect(offenders).toEqual([]);
  });

  it('string unions become enums', () => {
    expect(nodeAt('spec.options.priority')).toEqual({ type: 'string', enum: ['low', 'normal', 'high'] });
    expect(nodeAt('spec.type').enum).toEqual(['convert', 'stream', 'analyze']);
    expect(nodeAt('status.phase').enum).toEqual(['queued', 'processing', 'completed', 'failed', 'cancelled']);
    expect(nodeAt('spec.analyze.metrics[]')).toEqual({ type: 'string', enum: ['vmaf', 'psnr', 'ssim'] });
  });

  it('the operations union merges into one object with a type enum listing every operation', () => {
    const operation = nodeAt('spec.operations[]');
    const expectedTypes = Operation.anyOf.map((branch) => branch.properties.type.const);
    expect(expectedTypes).toHaveLength(16);
    expect(operation.type).toBe('object');
    expect(operation.properties?.type).toEqual({ type: 'string', enum: expectedTypes });
    // Only the discriminator is required by every branch.
    expect(operation.required).toEqual(['type']);
    const allFields = new Set(Operation.anyOf.flatMap((branch) => Object.keys(branch.properties)));
    expect(new Set(Object.keys(operation.properties ?? {}))).toEqual(allFields);
    // A field shared by flip and fade accepts both branches' values.
    expect(nodeAt('spec.operations[].direction').enum).toEqual(['horizontal', 'vertical', 'in', 'out']);
    // Rotate's number literals are integers.
    expect(nodeAt('spec.operations[].degrees')).toEqual({ type: 'integer', enum: [90, 180, 270] });
  });

  it('exclusive bounds use the OpenAPI v3.0 boolean form', () => {
    expect(nodeAt('spec.operations[].fps')).toEqual({ type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 240 });
    expect(nodeAt('spec.output.video.fps')).toMatchObject({ minimum: 0, exclusiveMinimum: true });
  });

  it('string constraints and date-time formats carry over', () => {
    expect(nodeAt('spec.input.path')).toMatchObject({ type: 'string', minLength: 8, maxLength: 4096, pattern: '^(/storage/|s3://|[hH][tT][tT][pP][sS]?://)' });
    expect(nodeAt('spec.output.path')).toMatchObject({ type: 'string', minLength: 8, maxLength: 1024, pattern: '^(/storage/|s3://)' });
    expect(nodeAt('status.queuedAt')).toEqual({ type: 'string', format: 'date-time' });
    expect(nodeAt('status.conditions[].lastTransitionTime').format).toBe('date-time');
  });

  it('spec is required and the top level is a typed object', () => {
    const root = version().schema.openAPIV3Schema;
    expect(root.required).toEqual(['spec']);
    expect(root.properties.metadata).toEqual({ type: 'object' });
    expect(nodeAt('spec').required).toEqual(['type', 'input', 'operations', 'options']);
  });

  it('printer columns show phase, progress, a split job\'s chunks and age', () => {
    const columns = version().additionalPrinterColumns;
    expect(columns.map((column) => column.name)).toEqual(['Type', 'Phase', 'Progress', 'Chunks', 'Chunks-Done', 'Stage', 'Priority', 'Age']);
    expect(columns).toContainEqual({ name: 'Chunks', type: 'integer', jsonPath: '.status.chunks.total' });
    expect(columns).toContainEqual({ name: 'Chunks-Done', type: 'integer', jsonPath: '.status.chunks.completed' });
    expect(columns).toContainEqual({ name: 'Phase', type: 'string', jsonPath: '.status.phase' });
    expect(columns).toContainEqual({ name: 'Progress', type: 'number', jsonPath: '.status.progress' });
    expect(columns).toContainEqual({ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' });
  });

  it('every printer column points at a schema field of the same type', () => {
    for (const column of version().additionalPrinterColumns) {
      if (column.jsonPath.startsWith('.metadata.')) continue; // metadata is the API server's, not ours
      const field = nodeAt(column.jsonPath.slice(1));
      expect(field.type, column.name).toBe(column.type);
    }
  });

  it('short name is mj and the status subresource is on', () => {
    const crd = mediaJobCrd();
    expect(crd.metadata.name).toBe(`${crd.spec.names.plural}.${crd.spec.group}`);
    expect(crd.spec.names.shortNames).toEqual(['mj']);
    expect(crd.spec.scope).toBe('Namespaced');
    expect(version()).toMatchObject({ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } });
  });

  it('the YAML starts with the do-not-edit header', () => {
    expect(renderCrdYaml().split('\n')[0]).toBe(
      '# Generated by `npm run gen` from crds/src/spec.ts and crds/src/status.ts. Do not edit.',
    );
  });
});

describe('toStructural', () => {
  it.each<[string, unknown, StructuralSchema]>([
    ['a string const becomes a one-value enum', Type.Literal('x'), { type: 'string', enum: ['x'] }],
    ['an integer-valued number const becomes an integer enum', Type.Literal(3), { type: 'integer', enum: [3] }],
    ['a union of string consts becomes one string enum',
      Type.Union([Type.Literal('a'), Type.Literal('b')], { description: 'letters' }),
      { type: 'string', description: 'letters', enum: ['a', 'b'] }],
    ['a union of numeric consts with a fraction becomes a number enum',
      Type.Union([Type.Literal(1), Type.Literal(1.5)]), { type: 'number', enum: [1, 1.5] }],
    ['a numeric exclusiveMinimum becomes minimum plus exclusiveMinimum: true',
      Type.Number({ exclusiveMinimum: 0 }), { type: 'number', minimum: 0, exclusiveMinimum: true }],
    ['a numeric exclusiveMaximum becomes maximum plus exclusiveMaximum: true',
      Type.Number({ exclusiveMaximum: 10 }), { type: 'number', maximum: 10, exclusiveMaximum: true }],
    ['the stricter of minimum and exclusiveMinimum wins',
      { type: 'number', minimum: 5, exclusiveMinimum: 1 }, { type: 'number', minimum: 5 }],
    ['additionalProperties: false is dropped and required kept',
      Type.Object({ a: Type.String(), b: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      { type: 'object', properties: { a: { type: 'string' } , b: { type: 'boolean' } }, required: ['a'] }],
    ['unknown keys and formats are dropped, known formats kept',
      { $id: 'T', title: 't', type: 'string', format: 'date-time', examples: ['x'] },
      { type: 'string', format: 'date-time' }],
    ['a format Kubernetes does not know is dropped', Type.String({ format: 'regex' }), { type: 'string' }],
    ['arrays keep items and length limits',
      Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: 3 }),
      { type: 'array', minItems: 1, maxItems: 3, items: { type: 'integer', minimum: 1 } }],
    ['a map keeps its value schema', { type: 'object', additionalProperties: { type: 'string' } },
      { type: 'object', additionalProperties: { type: 'string' } }],
    ['a discriminated union merges properties and intersects required',
      Type.Union([
        Type.Object({ kind: Type.Literal('a'), size: Type.Integer({ maximum: 5 }), shared: Type.Literal('p') }),
        Type.Object({ kind: Type.Literal('b'), shared: Type.Literal('q'), extra: Type.Optional(Type.String()) }),
      ]),
      {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['a', 'b'] },
          size: { type: 'integer', maximum: 5 },
          shared: { type: 'string', enum: ['p', 'q'] },
          extra: { type: 'string' },
        },
        required: ['kind', 'shared'],
      }],
    ['a shared property takes the first description and the looser bounds',
      Type.Union([
        Type.Object({ n: Type.Number({ minimum: 1, maximum: 5, description: 'first' }) }),
        Type.Object({ n: Type.Number({ exclusiveMinimum: 0, maximum: 3, description: 'second' }) }),
      ]),
      { type: 'object', properties: { n: { type: 'number', description: 'first', minimum: 0, exclusiveMinimum: true, maximum: 5 } }, required: ['n'] }],
    ['an enum merged with a free string becomes a free string',
      Type.Union([Type.Literal('a'), Type.String()]), { type: 'string' }],
  ])('%s', (_name, input, expected) => {
    expect(toStructural(input)).toEqual(expected);
  });

  it('copies no symbol or hidden TypeBox keys', () => {
    const converted = toStructural(Type.Optional(Type.Object({ a: Type.String() })));
    expect(Reflect.ownKeys(converted)).toEqual(['type', 'properties', 'required']);
    expect(Reflect.ownKeys(converted.properties?.a ?? {})).toEqual(['type']);
  });

  it.each<[string, unknown, string]>([
    ['conflicting union property types throw an error naming the path',
      Type.Union([Type.Object({ v: Type.String() }), Type.Object({ v: Type.Number() })]), 'job.v: union branches disagree on the type (string vs number)'],
    ['a union of a string and a number throws', Type.Union([Type.String(), Type.Number()]), 'job: union branches disagree'],
    ['a node without a type throws', { type: 'object', properties: { x: {} } }, 'job.x: has no type'],
    ['a null type throws', { type: 'object', properties: { x: Type.Null() } }, 'job.x: type "null"'],
    ['a type list throws', { type: ['string', 'number'] }, 'job: type ["string","number"] cannot be represented'],
    ['$ref throws', { type: 'object', properties: { r: { $ref: '#/x' } } }, 'job.r: $ref cannot be represented'],
    ['allOf throws', { allOf: [{ type: 'string' }] }, 'job: allOf cannot be represented'],
    ['an array without items throws', { type: 'object', properties: { l: { type: 'array' } } }, 'job.l: an array needs a single items schema'],
    ['additionalProperties schema beside properties throws',
      { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'string' } }, 'job: additionalProperties'],
    ['an object const throws', { const: { a: 1 } }, 'job: cannot represent the constant'],
    ['a nested problem names the full path', Type.Object({ list: Type.Array(Type.Object({ bad: Type.Null() })) }), 'job.list[].bad'],
  ])('%s', (_name, input, message) => {
    expect(() => toStructural(input, 'job')).toThrow(message);
  });
});
