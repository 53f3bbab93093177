import { Kind, type TSchema } from '@sinclair/typebox';
import { BwcError } from '../common/errors.js';
import { ConfigSchema } from './schema.js';
import { formatPath, isArraySchema, isObjectSchema, schemaFields, type FieldSchema } from './schema-walk.js';

/**
 * Environment overrides, derived from the schema (no list kept by hand).
 *
 * Rule: `BWC_` + the path of a field, each level in SCREAMING_SNAKE_CASE,
 * levels joined by a double underscore:
 *   mqtt.keepaliveS            ← BWC_MQTT__KEEPALIVE_S=10
 *   agent.id                   ← BWC_AGENT__ID=gw-7
 *   mqtt.tls.rejectUnauthorized← BWC_MQTT__TLS__REJECT_UNAUTHORIZED=false
 * Numbers and booleans (true/false/1/0) are parsed; a list takes a JSON
 * array, or for a list of strings also a comma-separated list
 * (`BWC_MQTT__BROKERS=mqtt://a:1883,mqtt://b:1883`); a top-level list is one
 * level (`BWC_DEVICES='[{"id":"CAM-1","gnss":"/dev/ttyUSB0"}]'`). A variable of the form
 * BWC_<SECTION>__... that matches no field is refused, so a typo is not
 * silently ignored; other BWC_ variables (without `__`) are not ours.
 */
export const ENV_PREFIX = 'BWC_';

export function envName(path: string[]): string {
  return ENV_PREFIX + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__');
}

export interface EnvField {
  name: string;
  path: string[];
  schema: FieldSchema;
}

/** Every field an environment variable can set: leaves outside lists. */
export function envFields(schema: TSchema = ConfigSchema): EnvField[] {
  return schemaFields(schema)
    .filter((f) => !f.path.includes('[]') && !isObjectSchema(f.schema))
    .map((f) => ({ name: envName(f.path), path: f.path, schema: f.schema }));
}

export interface EnvApplied {
  name: string;
  path: string[];
}

/** Returns a copy of `raw` with the overrides found in `env` applied. */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, schema: TSchema = ConfigSchema): { value: Record<string, unknown>; applied: EnvApplied[] } {
  const fields = new Map(envFields(schema).map((f) => [f.name, f]));
  const value = structuredClone(raw);
  const applied: EnvApplied[] = [];
  for (const [name, text] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith(ENV_PREFIX) || text === undefined) continue;
    const field = fields.get(name);
    if (!field) {
      if (!name.includes('__')) continue;
      throw new BwcError('BAD_CONFIG', `environment variable ${name} matches no configuration field (rule: BWC_<SECTION>__<FIELD> in SCREAMING_SNAKE_CASE, e.g. BWC_MQTT__KEEPALIVE_S; see config/README.md)`);
    }
    setPath(value, field.path, parseEnvValue(name, text, field));
    applied.push({ name, path: field.path });
  }
  return { value, applied };
}

function parseEnvValue(name: string, text: string, field: EnvField): unknown {
  const where = `${name}=${JSON.stringify(text)} (${formatPath(field.path)})`;
  const s = field.schema;
  const kind = s[Kind];
  if (kind === 'Integer' || kind === 'Number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n)) throw new BwcError('BAD_CONFIG', `${where}: must be a number`);
    return n;
  }
  if (kind === 'Boolean') {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === '1' || t === 'yes') return true;
    if (t === 'false' || t === '0' || t === 'no') return false;
    throw new BwcError('BAD_CONFIG', `${where}: must be true or false`);
  }
  if (isArraySchema(s)) {
    if (text.trim().startsWith('[')) {
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new BwcError('BAD_CONFIG', `${where}: not a valid JSON array (${(err as Error).message})`, { cause: err });
      }
    }
    if (isObjectSchema((s as unknown as { items: TSchema }).items)) throw new BwcError('BAD_CONFIG', `${where}: must be a JSON array`);
    return text.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  }
  if (kind === 'Union') {
    // A union of literals and numbers (baud, protocolVersion): a number when it reads as one.
    const members = (s as unknown as { anyOf: TSchema[] }).anyOf;
    const numeric = members.some((m) => m[Kind] === 'Integer' || m[Kind] === 'Number' || typeof (m as { const?: unknown }).const === 'number');
    if (numeric && text.trim() !== '' && Number.isFinite(Number(text))) return Number(text);
    return text;
  }
  return text;
}

function setPath(target: Record<string, unknown>, path: string[], v: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[seg] = {};
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = v;
}
