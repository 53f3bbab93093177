import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import type { BwcSchemaOptions } from './schema-kit.js';

/** A problem found in a configuration: where (`mqtt.keepaliveS`) and why (`must be >= 5`). */
export interface ConfigProblem {
  path: string;
  reason: string;
}

/** Checks `value` against `schema`; one problem per path, in document order. */
export function configProblems(schema: TSchema, value: unknown): ConfigProblem[] {
  const seen = new Set<string>();
  const out: ConfigProblem[] = [];
  for (const err of Value.Errors(schema, value)) {
    const path = pointerToPath(err.path);
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ path, reason: reasonFor(err) });
  }
  return out;
}

/** `/devices/0/id` → `devices[0].id` */
export function pointerToPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || '(top level)';
}

function reasonFor(err: ValueError): string {
  const s = err.schema as TSchema & BwcSchemaOptions & Record<string, unknown>;
  const got = describeValue(err.value);
  switch (err.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown key (see config/README.md for the keys of this section)';
    case ValueErrorType.ObjectRequiredProperty:
      return 'required';
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `must be >= ${s.minimum as number}, got ${got}`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `must be <= ${s.maximum as number}, got ${got}`;
    case ValueErrorType.Integer:
      return `must be a whole number, got ${got}`;
    case ValueErrorType.Number:
      return `must be a number, got ${got}`;
    case ValueErrorType.Boolean:
      return `must be true or false, got ${got}`;
    case ValueErrorType.String:
      return `must be a string, got ${got}`;
    case ValueErrorType.StringMinLength:
      return (s.minLength as number) <= 1 ? 'must not be empty' : `must be at least ${s.minLength as number} characters`;
    case ValueErrorType.ArrayMinItems:
      return `must list at least ${s.minItems as number}`;
    case ValueErrorType.Array:
      return `must be a list, got ${got}`;
    case ValueErrorType.Object:
      return `must be a mapping of keys, got ${got}`;
    default:
      if (s.expect) return `must be ${s.expect}, got ${got}`;
      return `${err.message.replace(/^Expected/, 'expected')}, got ${got}`;
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
