import { Type, type TSchema, type SchemaOptions } from '@sinclair/typebox';
import { SAFE_ID_PATTERN, SAFE_ID_RULE } from '../protocol/identifiers.js';

/**
 * Building blocks of the configuration schema. Extra schema keywords carry
 * what the loader, the docs and `maskSecrets` need, so the shape lives once:
 * - `expect`: how a person should read the constraint in an error message;
 * - `secret`: the value names a file holding a secret (read, never shown);
 * - `fsPath`: a file system path, resolved against the config file's folder.
 */
export interface BwcSchemaOptions extends SchemaOptions {
  expect?: string;
  secret?: boolean;
  fsPath?: boolean;
}

/** Ids end up as MQTT topic levels and file names: the shared rule of protocol/identifiers.ts. */
export const TOPIC_ID_PATTERN = SAFE_ID_PATTERN;

export function TopicId(description: string, options: BwcSchemaOptions = {}) {
  return Type.String({ pattern: TOPIC_ID_PATTERN, expect: SAFE_ID_RULE, description, ...options });
}

/** GB/T 28181 ids (devices, channels, servers) are 20 decimal digits. */
export function GbId(description: string) {
  return Type.String({ pattern: '^[0-9]{20}$', expect: '20 digits (a GB/T 28181 id)', description });
}

export function FilePath(description: string, options: BwcSchemaOptions = {}) {
  return Type.String({ minLength: 1, fsPath: true, description, ...options });
}

export function SecretFile(description: string) {
  return FilePath(description, { secret: true });
}

export function Int(description: string, min: number, max: number, def?: number) {
  return Type.Integer({ minimum: min, maximum: max, description, ...(def === undefined ? {} : { default: def }) });
}

export function Num(description: string, min: number, max: number, def?: number) {
  return Type.Number({ minimum: min, maximum: max, description, ...(def === undefined ? {} : { default: def }) });
}

export function Bool(description: string, def: boolean) {
  return Type.Boolean({ description, default: def });
}

/** A section: unknown keys refused, filled from defaults when left out. */
export function Section<T extends Record<string, TSchema>>(description: string, properties: T, options: BwcSchemaOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, default: {}, description, ...options });
}

/** An object inside a list or an optional group: unknown keys refused, no default. */
export function Strict<T extends Record<string, TSchema>>(description: string, properties: T, options: BwcSchemaOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, description, ...options });
}
