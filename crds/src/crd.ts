// The MediaJob CustomResourceDefinition, derived from the TypeBox schemas so the API server
// enforces the same shape the gateway and worker validate against, and can never drift from it.
import YAML from 'yaml';
import { MediaJobSpec } from './spec.ts';
import { MediaJobStatus } from './status.ts';

export type StructuralType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
export type EnumValue = string | number | boolean;

/** The part of Kubernetes' OpenAPI v3.0 schema (JSONSchemaProps) this generator emits. */
export interface StructuralSchema {
  /** Absent only on an int-or-string node, which Kubernetes types by the extension instead. */
  type?: StructuralType;
  description?: string;
  format?: string;
  enum?: EnumValue[];
  minimum?: number;
  exclusiveMinimum?: boolean;
  maximum?: number;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: StructuralSchema;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  'x-kubernetes-int-or-string'?: true;
  /** CEL rules: the only way to constrain both sides of an int-or-string node. */
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

// Output key order, so the YAML reads the same way at every node. `satisfies` makes the compiler
// insist every StructuralSchema key is listed here, so finish() can never silently drop one.
const KEY_ORDER = {
  type: 0, description: 0, format: 0, enum: 0,
  minimum: 0, exclusiveMinimum: 0, maximum: 0, exclusiveMaximum: 0, multipleOf: 0,
  minLength: 0, maxLength: 0, pattern: 0, minItems: 0, maxItems: 0,
  items: 0, properties: 0, required: 0, additionalProperties: 0,
  'x-kubernetes-int-or-string': 0, 'x-kubernetes-validations': 0,
} satisfies Record<keyof StructuralSchema, 0>;
// Object.keys widens to string[]; the satisfies above guarantees these are exactly the keys.
const ORDERED_KEYS = Object.keys(KEY_ORDER) as (keyof StructuralSchema)[];

const TYPES: ReadonlySet<string> = new Set<StructuralType>(['object', 'array', 'string', 'integer', 'number', 'boolean']);

// Formats the API server knows (JSONSchemaProps.format docs); any other format is dropped, which
// only loosens the CRD: the gateway still validates with the full TypeBox schema.
const KNOWN_FORMATS: ReadonlySet<string> = new Set([
  'bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac',
  'uuid', 'uuid3', 'uuid4', 'uuid5', 'isbn', 'isbn10', 'isbn13', 'creditcard', 'ssn',
  'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration', 'date-time', 'datetime',
  'int32', 'int64', 'float', 'double',
]);

// Keywords that change which documents are valid in ways a structural schema cannot express.
// Dropping them would make the CRD silently disagree with the source schema, so they are errors.
const UNSUPPORTED = [
  '$ref', 'allOf', 'not', 'if', 'then', 'else', 'patternProperties', 'prefixItems', 'additionalItems',
  'contains', 'dependencies', 'dependentSchemas', 'dependentRequired', 'propertyNames',
  'unevaluatedProperties', 'unevaluatedItems',
] as const;

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const child = (path: string, key: string): string => (path ? `${path}.${key}` : key);
const where = (path: string): string => path || '(root)';

/** Rebuilds a node in KEY_ORDER without undefined keys, so output is stable and minimal. */
function finish(node: StructuralSchema): StructuralSchema {
  const out: StructuralSchema = node.type === undefined ? {} : { type: node.type };
  for (const key of ORDERED_KEYS) put(out, key, node[key]);
  return out;
}

function put<K extends keyof StructuralSchema>(node: StructuralSchema, key: K, value: StructuralSchema[K] | undefined): void {
  if (value !== undefined) node[key] = value;
}

function numberAt(schema: Json, key: string, path: string): number | undefined {
  const value = schema[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${where(path)}: ${key} must be a finite number`);
  return value;
}

function stringAt(schema: Json, key: string, path: string): string | undefined {
  const value = schema[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${where(path)}: ${key} must be a string`);
  return value;
}

// --- Numeric bounds -------------------------------------------------------------------------
// JSON Schema 2020 writes an exclusive bound as a number (`exclusiveMinimum: 0`); OpenAPI v3.0,
// which Kubernetes speaks, writes it as `minimum: 0, exclusiveMinimum: true`.

interface Bound { value: number; exclusive: boolean }

function boundFrom(schema: Json, path: string, side: 'min' | 'max'): Bound | undefined {
  const [inclusiveKey, exclusiveKey] = side === 'min' ? ['minimum', 'exclusiveMinimum'] : ['maximum', 'exclusiveMaximum'];
  const inclusive = numberAt(schema, inclusiveKey, path);
  const exclusive = schema[exclusiveKey];
  if (typeof exclusive === 'boolean') {
    // Already the OpenAPI v3.0 form.
    if (inclusive === undefined) {
      if (exclusive) throw new Error(`${where(path)}: ${exclusiveKey}: true without ${inclusiveKey}`);
      return undefined;
    }
    return { value: inclusive, exclusive };
  }
  const exclusiveValue = numberAt(schema, exclusiveKey, path);
  if (exclusiveValue === undefined) return inclusive === undefined ? undefined : { value: inclusive, exclusive: false };
  if (inclusive === undefined) return { value: exclusiveValue, exclusive: true };
  // Both given: the stricter one decides.
  const exclusiveIsStricter = side === 'min' ? exclusiveValue >= inclusive : exclusiveValue <= inclusive;
  return exclusiveIsStricter ? { value: exclusiveValue, exclusive: true } : { value: inclusive, exclusive: false };
}

function boundOf(node: StructuralSchema, side: 'min' | 'max'): Bound | undefined {
  const value = side === 'min' ? node.minimum : node.maximum;
  if (value === undefined) return undefined;
  return { value, exclusive: (side === 'min' ? node.exclusiveMinimum : node.exclusiveMaximum) === true };
}

function setBound(node: StructuralSchema, side: 'min' | 'max', bound: Bound | undefined): void {
  const exclusive = bound?.exclusive ? true : undefined;
  if (side === 'min') {
    node.minimum = bound?.value;
    node.exclusiveMinimum = exclusive;
  } else {
    node.maximum = bound?.value;
    node.exclusiveMaximum = exclusive;
  }
}

/** The looser of two bounds; a missing bound is the loosest of all. */
function looserBound(a: Bound | undefined, b: Bound | undefined, side: 'min' | 'max'): Bound | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a.value === b.value) return { value: a.value, exclusive: a.exclusive && b.exclusive };
  const aIsLooser = side === 'min' ? a.value < b.value : a.value > b.value;
  return aIsLooser ? a : b;
}

// --- Enumerations -----------------------------------------------------------------------------

function enumFrom(schema: Json, path: string): EnumValue[] | undefined {
  if (schema.const !== undefined) {
    if (schema.enum !== undefined) throw new Error(`${where(path)}: both const and enum`);
    return [scalar(schema.const, path)];
  }
  if (schema.enum === undefined) return undefined;
  if (!Array.isArray(schema.enum) || schema.enum.length === 0) throw new Error(`${where(path)}: enum must be a non-empty array`);
  return schema.enum.map((value: unknown) => scalar(value, path));
}

function scalar(value: unknown, path: string): EnumValue {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new Error(`${where(path)}: cannot represent the constant ${JSON.stringify(value)}`);
}

function typeFrom(schema: Json, values: EnumValue[] | undefined, path: string): StructuralType {
  let type: unknown = schema.type;
  if (type === undefined && values !== undefined) type = typeof values[0];
  if (typeof type !== 'string' || !TYPES.has(type)) {
    throw new Error(`${where(path)}: ${type === undefined ? 'has no type' : `type ${JSON.stringify(type)} cannot be represented`}`);
  }
  // TypeBox types every number literal as 'number'; 90 | 180 | 270 is an integer field.
  if (type === 'number' && values !== undefined && values.every((v) => Number.isInteger(v))) type = 'integer';
  for (const value of values ?? []) {
    const fits = type === 'integer' ? Number.isInteger(value) : typeof value === type;
    if (!fits) throw new Error(`${where(path)}: enum value ${JSON.stringify(value)} is not of type ${String(type)}`);
  }
  // TYPES.has() above checked the string is one of StructuralType.
  return type as StructuralType;
}

// --- Conversion -------------------------------------------------------------------------------

/**
 * Converts a TypeBox / JSON Schema into a Kubernetes structural schema: every node typed, no
 * const/anyOf/oneOf, no additionalProperties beside properties. `path` names the node in errors.
 */
export function toStructural(schema: unknown, path = ''): StructuralSchema {
  if (!isRecord(schema)) throw new Error(`${where(path)}: expected a schema object, got ${JSON.stringify(schema)}`);
  for (const key of UNSUPPORTED) {
    if (Object.hasOwn(schema, key)) throw new Error(`${where(path)}: ${key} cannot be represented in a structural schema`);
  }
  if (schema.type === 'null') throw new Error(`${where(path)}: type "null" cannot be represented`);
  if (schema.anyOf !== undefined || schema.oneOf !== undefined) return fromUnion(schema, path);

  const values = enumFrom(schema, path);
  const type = typeFrom(schema, values, path);
  const node: StructuralSchema = { type, enum: values };
  node.description = stringAt(schema, 'description', path);
  const format = stringAt(schema, 'format', path);
  if (format !== undefined && KNOWN_FORMATS.has(format)) node.format = format;
  if (type === 'integer' || type === 'number') {
    setBound(node, 'min', boundFrom(schema, path, 'min'));
    setBound(node, 'max', boundFrom(schema, path, 'max'));
    node.multipleOf = numberAt(schema, 'multipleOf', path);
  }
  if (type === 'string') {
    node.minLength = numberAt(schema, 'minLength', path);
    node.maxLength = numberAt(schema, 'maxLength', path);
    node.pattern = stringAt(schema, 'pattern', path);
  }
  if (type === 'array') {
    // Kubernetes uses one items schema to decide what to prune; tuples cannot be described.
    if (!isRecord(schema.items)) throw new Error(`${where(path)}: an array needs a single items schema`);
    if (schema.uniqueItems === true) throw new Error(`${where(path)}: uniqueItems cannot be represented (use x-kubernetes-list-type)`);
    node.minItems = numberAt(schema, 'minItems', path);
    node.maxItems = numberAt(schema, 'maxItems', path);
    node.items = toStructural(schema.items, `${path}[]`);
  }
  if (type === 'object') Object.assign(node, objectParts(schema, path));
  return finish(node);
}

function objectParts(schema: Json, path: string): Pick<StructuralSchema, 'properties' | 'required' | 'additionalProperties'> {
  const parts: Pick<StructuralSchema, 'properties' | 'required' | 'additionalProperties'> = {};
  if (schema.properties !== undefined) {
    if (!isRecord(schema.properties)) throw new Error(`${where(path)}: properties must be an object`);
    parts.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([key, value]) => [key, toStructural(value, child(path, key))]),
    );
  }
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || !schema.required.every((key: unknown) => typeof key === 'string')) {
      throw new Error(`${where(path)}: required must be a list of property names`);
    }
    if (schema.required.length > 0) parts.required = [...(schema.required as string[])];
  }
  const extra = schema.additionalProperties;
  // `false` is dropped: the API server prunes unknown fields anyway, and forbids it beside properties.
  if (extra === undefined || extra === false) return parts;
  if (isRecord(extra) && parts.properties === undefined) {
    // A map with free keys, which Kubernetes can describe.
    parts.additionalProperties = toStructural(extra, child(path, '*'));
    return parts;
  }
  throw new Error(`${where(path)}: additionalProperties ${JSON.stringify(extra)} cannot be represented beside properties`);
}

/**
 * A union becomes one node that accepts whatever any branch accepts: string consts become one
 * enum, and a discriminated union of objects becomes one object with every branch's properties.
 * The gateway still validates the exact union; the CRD just must never refuse a valid job.
 */
function fromUnion(schema: Json, path: string): StructuralSchema {
  if (schema.anyOf !== undefined && schema.oneOf !== undefined) throw new Error(`${where(path)}: both anyOf and oneOf`);
  const branches = schema.anyOf ?? schema.oneOf;
  if (!Array.isArray(branches) || branches.length === 0) throw new Error(`${where(path)}: a union needs at least one branch`);
  const converted = branches.map((branch: unknown) => toStructural(branch, path));
  const kinds = new Set(converted.map((c) => c.type));
  if (kinds.size === 2 && kinds.has('integer') && kinds.has('string')) return intOrString(converted, stringAt(schema, 'description', path), path);
  const [first, ...rest] = converted;
  if (first === undefined) throw new Error(`${where(path)}: a union needs at least one branch`);
  const merged = rest.reduce((a, b) => merge(a, b, path), first);
  // The union's own description (TypeBox puts it on the union) describes the field best.
  const description = stringAt(schema, 'description', path);
  return finish(description === undefined ? merged : { ...merged, description });
}

/**
 * A whole number or a word (say 1..64 or "auto"): Kubernetes' int-or-string node, with a CEL rule
 * that holds each side to its branch's bounds or values, so the API server refuses what the gateway
 * refuses.
 */
function intOrString(branches: StructuralSchema[], description: string | undefined, path: string): StructuralSchema {
  const sides: string[] = [];
  for (const kind of ['integer', 'string'] as const) {
    const alternatives = branches.filter((b) => b.type === kind).map((b) => {
      const parts: string[] = [];
      if (b.enum) parts.push(`self in [${b.enum.map((v) => JSON.stringify(v)).join(', ')}]`);
      if (b.minimum !== undefined) parts.push(`self ${b.exclusiveMinimum ? '>' : '>='} ${b.minimum}`);
      if (b.maximum !== undefined) parts.push(`self ${b.exclusiveMaximum ? '<' : '<='} ${b.maximum}`);
      if (b.pattern !== undefined || b.minLength !== undefined || b.maxLength !== undefined || b.format !== undefined) {
        throw new Error(`${where(path)}: only bounds and enums of an int-or-string union can be represented`);
      }
      return parts.length ? parts.join(' && ') : 'true';
    });
    sides.push(alternatives.map((a) => `(${a})`).join(' || '));
  }
  const rule = `type(self) == int ? (${sides[0]}) : (${sides[1]})`;
  const allowed = branches.map((b) => (b.enum ? b.enum.map((v) => JSON.stringify(v)).join(' or ') : `${b.type} ${b.minimum ?? ''}..${b.maximum ?? ''}`)).join(', or ');
  return finish({ description, 'x-kubernetes-int-or-string': true, 'x-kubernetes-validations': [{ rule, message: `must be ${allowed}` }] });
}

function widerType(a: StructuralType | undefined, b: StructuralType | undefined, path: string): StructuralType {
  if (a === undefined || b === undefined) throw new Error(`${where(path)}: an int-or-string node cannot be merged with another branch`);
  if (a === b) return a;
  if ((a === 'integer' && b === 'number') || (a === 'number' && b === 'integer')) return 'number';
  throw new Error(`${where(path)}: union branches disagree on the type (${a} vs ${b})`);
}

const smaller = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : Math.min(a, b));
const larger = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : Math.max(a, b));
const same = <T>(a: T | undefined, b: T | undefined) => (a === b ? a : undefined);

/**
 * Merges two nodes for the same place. Annotations (description) come from the first; every
 * constraint is loosened to the weaker of the two, so a value either branch allows stays allowed.
 */
function merge(a: StructuralSchema, b: StructuralSchema, path: string): StructuralSchema {
  const out: StructuralSchema = { type: widerType(a.type, b.type, path), description: a.description ?? b.description };
  // Only both-enum merges keep an enum: a branch without one allows any value of the type.
  if (a.enum !== undefined && b.enum !== undefined) out.enum = [...new Set([...a.enum, ...b.enum])];
  out.format = same(a.format, b.format);
  out.pattern = same(a.pattern, b.pattern);
  out.multipleOf = same(a.multipleOf, b.multipleOf);
  setBound(out, 'min', looserBound(boundOf(a, 'min'), boundOf(b, 'min'), 'min'));
  setBound(out, 'max', looserBound(boundOf(a, 'max'), boundOf(b, 'max'), 'max'));
  out.minLength = smaller(a.minLength, b.minLength);
  out.maxLength = larger(a.maxLength, b.maxLength);
  out.minItems = smaller(a.minItems, b.minItems);
  out.maxItems = larger(a.maxItems, b.maxItems);
  if (a.items !== undefined && b.items !== undefined) out.items = merge(a.items, b.items, `${path}[]`);
  if (out.type === 'object') Object.assign(out, mergeObjects(a, b, path));
  return finish(out);
}

function mergeObjects(a: StructuralSchema, b: StructuralSchema, path: string): Pick<StructuralSchema, 'properties' | 'required' | 'additionalProperties'> {
  const parts: Pick<StructuralSchema, 'properties' | 'required' | 'additionalProperties'> = {};
  if ((a.additionalProperties === undefined) !== (b.additionalProperties === undefined)) {
    throw new Error(`${where(path)}: cannot merge a map with a fixed-field object`);
  }
  if (a.additionalProperties !== undefined && b.additionalProperties !== undefined) {
    parts.additionalProperties = merge(a.additionalProperties, b.additionalProperties, child(path, '*'));
  }
  if (a.properties !== undefined || b.properties !== undefined) {
    const properties: Record<string, StructuralSchema> = { ...a.properties };
    for (const [key, value] of Object.entries(b.properties ?? {})) {
      const existing = properties[key];
      properties[key] = existing === undefined ? value : merge(existing, value, child(path, key));
    }
    parts.properties = properties;
  }
  // Only what every branch requires is required of the merged object.
  const required = (a.required ?? []).filter((key) => (b.required ?? []).includes(key));
  if (required.length > 0) parts.required = required;
  return parts;
}

// --- The CRD ----------------------------------------------------------------------------------

export const crdGroup = 'kubeff.io';
export const crdName = `mediajobs.${crdGroup}`;
/** The generated file's name, next to crds/src; `npm run gen` writes it. */
export const crdFileName = `${crdName}.yaml`;

export function mediaJobCrd() {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName },
    spec: {
      group: crdGroup,
      names: {
        kind: 'MediaJob',
        listKind: 'MediaJobList',
        plural: 'mediajobs',
        singular: 'mediajob',
        shortNames: ['mj'],
        categories: ['kubeff'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          // Lets the operator write status without racing users' spec edits.
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: toStructural(MediaJobSpec, 'spec'),
                status: toStructural(MediaJobStatus, 'status'),
              },
              required: ['spec'],
            },
          },
          additionalPrinterColumns: [
            { name: 'Type', type: 'string', jsonPath: '.spec.type' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
            { name: 'Progress', type: 'number', jsonPath: '.status.progress' },
            // Split jobs: chunks in all and encoded so far (empty for a job that is not split).
            { name: 'Chunks', type: 'integer', jsonPath: '.status.chunks.total' },
            { name: 'Chunks-Done', type: 'integer', jsonPath: '.status.chunks.completed' },
            { name: 'Stage', type: 'string', jsonPath: '.status.stage', priority: 1 },
            { name: 'Priority', type: 'string', jsonPath: '.spec.options.priority', priority: 1 },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

export const crdHeader = '# Generated by `npm run gen` from crds/src/spec.ts and crds/src/status.ts. Do not edit.';

export function renderCrdYaml(): string {
  // YAML 1.1 quoting: kubectl and the API server read YAML 1.1, where a bare `y` key (CropOp.y) or
  // `on`/`no` would turn into a boolean. Without aliases: repeated subschemas are written out in full.
  const body = YAML.stringify(mediaJobCrd(), { lineWidth: 0, version: '1.1', aliasDuplicateObjects: false });
  return `${crdHeader}\n${body}`;
}
