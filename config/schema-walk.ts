import { Kind, type TSchema } from '@sinclair/typebox';
import type { BwcSchemaOptions } from './schema-kit.js';

export type FieldSchema = TSchema & BwcSchemaOptions;

/** One field of the schema, as the docs and the env override rule see it. */
export interface SchemaField {
  /** Path segments; `[]` marks the items of a list (`devices[].id`). */
  path: string[];
  schema: FieldSchema;
  required: boolean;
}

export function isObjectSchema(s: TSchema): boolean {
  return s[Kind] === 'Object';
}

export function isArraySchema(s: TSchema): boolean {
  return s[Kind] === 'Array';
}

/**
 * Every field, depth first in declaration order. Objects are walked into;
 * a list of objects is walked into through `[]`; everything else is a leaf.
 */
export function schemaFields(schema: TSchema, path: string[] = []): SchemaField[] {
  const out: SchemaField[] = [];
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const required = new Set((schema as { required?: string[] }).required ?? []);
  for (const [key, child] of Object.entries(props)) {
    const p = [...path, key];
    out.push({ path: p, schema: child as FieldSchema, required: required.has(key) && (child as FieldSchema).default === undefined });
    if (isObjectSchema(child)) out.push(...schemaFields(child, p));
    else if (isArraySchema(child) && isObjectSchema(itemsOf(child))) {
      out.push(...schemaFields(itemsOf(child), [...p, '[]']));
    }
  }
  return out;
}

/** The sub-schema at a concrete path (array indexes as numbers), or undefined. */
export function schemaAt(schema: TSchema, path: (string | number)[]): FieldSchema | undefined {
  let s: TSchema | undefined = schema;
  for (const seg of path) {
    if (!s) return undefined;
    if (typeof seg === 'number') s = isArraySchema(s) ? itemsOf(s) : undefined;
    else s = (s as { properties?: Record<string, TSchema> }).properties?.[seg];
  }
  return s as FieldSchema | undefined;
}

/**
 * Visits every value of `value` that the schema describes, with its concrete
 * path and schema; `visit` may return a replacement for the value.
 */
export function mapValues(
  schema: TSchema,
  value: unknown,
  visit: (v: unknown, s: FieldSchema, path: (string | number)[]) => unknown,
  path: (string | number)[] = [],
): unknown {
  if (isObjectSchema(schema) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const props = propsOf(schema);
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const [key, child] of Object.entries(props)) {
      if (out[key] === undefined) continue;
      out[key] = mapValues(child, out[key], visit, [...path, key]);
    }
    return out;
  }
  if (isArraySchema(schema) && Array.isArray(value)) {
    const items = itemsOf(schema);
    return value.map((v, i) => mapValues(items, v, visit, [...path, i]));
  }
  return visit(value, schema as FieldSchema, path);
}

/** `mqtt.tls.caFile`, `devices[2].id`: how paths are shown to people. */
export function formatPath(path: (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (seg === '[]') out += '[]';
    else out += out ? `.${seg}` : seg;
  }
  return out || '(top level)';
}

function itemsOf(s: TSchema): TSchema {
  return (s as unknown as { items: TSchema }).items;
}

function propsOf(s: TSchema): Record<string, TSchema> {
  return (s as unknown as { properties: Record<string, TSchema> }).properties;
}
