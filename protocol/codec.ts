import protobuf from 'protobufjs';
import { BwcError } from '../common/errors.js';
import { SCHEMA_VERSION, messageType } from './schema.js';

/**
 * Encode and decode every bwc.v1 message as plain JS objects: 64-bit integers
 * as numbers (exact up to 2^53), bytes as Uint8Array/Buffer, enums as their
 * names on decode (numbers or names accepted on encode), field names in
 * lowerCamelCase as protobufjs loads them (`device_id` → `deviceId`).
 *
 * A message on the wire is its header (field 1) followed by its body. The
 * agent stores the body when it writes a message (the seq and sent time are
 * assigned then) and prepends the header when it publishes (the session is
 * known then): protobuf concatenation is merging, so header + body is one
 * valid message and the body is never re-encoded.
 */
export interface HeaderData {
  deviceId: string;
  seq: number;
  session: number;
  sentMs: number;
  /** Schema version of bwc.v1 the sender used; default SCHEMA_VERSION. */
  schema?: number;
}

const HEADER_FIELD_TAG = (1 << 3) | 2; // field 1, length-delimited

/** A message WITHOUT its header (field 1): what the agent's buffer stores. */
export function encodeBody(typeName: string, body: object): Uint8Array {
  const type = lookup(typeName);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BwcError('BAD_MESSAGE', `${typeName}: the body must be an object`);
  }
  if ('header' in body && (body as { header?: unknown }).header !== undefined) {
    throw new BwcError('BAD_MESSAGE', `${typeName}: pass the header to withHeader/encodeMessage, not inside the body`);
  }
  const clean = checkObject(type, body as Record<string, unknown>, typeName);
  return type.encode(type.fromObject(clean)).finish();
}

/** Prepends the header as field 1 to an encoded body (no re-encoding of the body). */
export function withHeader(header: HeaderData, body: Uint8Array): Uint8Array {
  const h = encodeHeader(header);
  const lenBytes = varintLength(h.length);
  const out = new Uint8Array(1 + lenBytes + h.length + body.length);
  out[0] = HEADER_FIELD_TAG;
  let pos = 1;
  let n = h.length;
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  out.set(h, pos);
  out.set(body, pos + h.length);
  return out;
}

export function encodeMessage(typeName: string, header: HeaderData, body: object): Uint8Array {
  const field = lookup(typeName).fieldsById[1];
  if (!field || field.name !== 'header') throw new BwcError('BAD_MESSAGE', `${typeName} has no header (field 1 is not a Header): use encodeBody`);
  return withHeader(header, encodeBody(typeName, body));
}

/**
 * Decodes one whole message (an MQTT payload, or one length-delimited frame).
 * Throws BwcError('BAD_MESSAGE') on anything protobuf can tell is not a
 * message: truncated fields, bad wire types, lengths past the end, integers
 * that do not fit.
 */
export function decodeMessage<T = any>(typeName: string, bytes: Uint8Array): T & { header?: HeaderData } {
  const type = lookup(typeName);
  if (!(bytes instanceof Uint8Array)) throw new BwcError('BAD_MESSAGE', `${typeName}: expected bytes, got ${typeof bytes}`);
  let msg: protobuf.Message;
  try {
    checkWireTypes(type, protobuf.Reader.create(bytes), bytes.length, typeName);
    msg = type.decode(bytes);
  } catch (err) {
    if (err instanceof BwcError) throw err;
    throw new BwcError('BAD_MESSAGE', `${typeName}: not a valid message (${(err as Error).message})`, { cause: err });
  }
  const obj = type.toObject(msg, TO_OBJECT) as Record<string, unknown>;
  stripNulls(obj);
  if (obj.header !== undefined) obj.header = headerFromObject(obj.header as Record<string, unknown>);
  return obj as T & { header?: HeaderData };
}

/** The header alone, for a consumer that routes before it decodes the rest. */
export function decodeHeader(bytes: Uint8Array): HeaderData | undefined {
  const reader = protobuf.Reader.create(bytes);
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === HEADER_FIELD_TAG) {
        const h = decodeMessage('Header', reader.bytes()) as unknown as Record<string, unknown>;
        return headerFromObject(h);
      }
      reader.skipType(tag & 7);
    }
  } catch (err) {
    if (err instanceof BwcError) throw err;
    throw new BwcError('BAD_MESSAGE', `not a valid message (${(err as Error).message})`, { cause: err });
  }
  return undefined;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };

const VARINT_TYPES = new Set(['int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'bool']);
const FIXED64_TYPES = new Set(['fixed64', 'sfixed64', 'double']);
const FIXED32_TYPES = new Set(['fixed32', 'sfixed32', 'float']);

function wireTypeOf(field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Enum || VARINT_TYPES.has(field.type)) return 0;
  if (FIXED64_TYPES.has(field.type)) return 1;
  if (FIXED32_TYPES.has(field.type)) return 5;
  return 2; // string, bytes, message
}

/**
 * protobufjs reads a known field by its declared type whatever wire type the
 * tag says, so garbage can decode into a plausible message. Walk the bytes
 * first: a known field with the wrong wire type (packed repeated scalars
 * excepted), a field number 0 or a sub-message that does not parse is an
 * error, not a message.
 */
function checkWireTypes(type: protobuf.Type, r: protobuf.Reader, end: number, path: string, depth = 0): void {
  if (depth > 32) throw new BwcError('BAD_MESSAGE', `${path}: nested too deep`);
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    const id = tag >>> 3;
    const wire = tag & 7;
    if (id === 0) throw new BwcError('BAD_MESSAGE', `${path}: field number 0 at byte ${at}`);
    const field = type.fieldsById[id];
    if (!field) {
      r.skipType(wire);
      continue;
    }
    const expected = wireTypeOf(field);
    const packed = field.repeated && expected !== 2 && wire === 2;
    if (wire !== expected && !packed) {
      throw new BwcError('BAD_MESSAGE', `${path}.${field.name}: wire type ${wire} where ${expected} belongs, at byte ${at}`);
    }
    if (field.resolvedType instanceof protobuf.Type) {
      const len = r.uint32();
      const subEnd = r.pos + len;
      if (subEnd > end) throw new BwcError('BAD_MESSAGE', `${path}.${field.name}: ${len} bytes past the end, at byte ${at}`);
      checkWireTypes(field.resolvedType, r, subEnd, `${path}.${field.name}`, depth + 1);
      continue;
    }
    r.skipType(wire);
  }
  if (r.pos !== end) throw new BwcError('BAD_MESSAGE', `${path}: truncated`);
}

function lookup(typeName: string): protobuf.Type {
  try {
    return messageType(typeName);
  } catch (err) {
    throw new BwcError('BAD_MESSAGE', `unknown message type ${JSON.stringify(typeName)} in bwc.v1`, { cause: err });
  }
}

function encodeHeader(h: HeaderData): Uint8Array {
  const schema = h.schema ?? SCHEMA_VERSION;
  if (typeof h.deviceId !== 'string' || h.deviceId.length === 0) throw new BwcError('BAD_MESSAGE', 'Header: deviceId must be a non-empty string');
  checkUint('Header.seq', h.seq, Number.MAX_SAFE_INTEGER);
  checkUint('Header.session', h.session, 0xffffffff);
  checkUint('Header.sentMs', h.sentMs, Number.MAX_SAFE_INTEGER);
  checkUint('Header.schema', schema, 0xffffffff);
  const w = protobuf.Writer.create();
  w.uint32(10).string(h.deviceId);
  if (h.seq !== 0) w.uint32(16).uint64(h.seq);
  if (h.session !== 0) w.uint32(24).uint32(h.session);
  if (h.sentMs !== 0) w.uint32(32).uint64(h.sentMs);
  if (schema !== 0) w.uint32(40).uint32(schema);
  return w.finish();
}

function headerFromObject(o: Record<string, unknown>): HeaderData {
  return {
    deviceId: (o.deviceId as string) ?? '',
    seq: (o.seq as number) ?? 0,
    session: (o.session as number) ?? 0,
    sentMs: (o.sentMs as number) ?? 0,
    schema: (o.schema as number) ?? 0,
  };
}

function checkUint(what: string, v: unknown, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new BwcError('BAD_MESSAGE', `${what} must be an integer from 0 to ${max}, got ${JSON.stringify(v)}`);
  }
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n >>>= 7;
    len++;
  }
  return len;
}

function stripNulls(o: Record<string, unknown>): void {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === null) {
      delete o[k];
    } else if (Array.isArray(v)) {
      for (const e of v) if (e && typeof e === 'object' && !(e instanceof Uint8Array)) stripNulls(e as Record<string, unknown>);
    } else if (typeof v === 'object' && !(v instanceof Uint8Array)) {
      stripNulls(v as Record<string, unknown>);
    }
  }
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-0x80000000, 0x7fffffff],
  sint32: [-0x80000000, 0x7fffffff],
  sfixed32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  fixed32: [0, 0xffffffff],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sint64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  sfixed64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
  fixed64: [0, Number.MAX_SAFE_INTEGER],
};

/**
 * protobufjs's fromObject coerces silently ("abc" for a uint32 becomes 0, an
 * unknown key is dropped): check first, so a wrong body is an error naming
 * the field instead of a message with a zero in it. Returns a copy without
 * proto3 default values (0, false, "", empty bytes and lists) outside oneofs,
 * so that a decoded object (which lists every default) re-encodes to the same
 * canonical bytes as the original.
 */
function checkObject(type: protobuf.Type, obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined || value === null) continue;
    const field = type.fields[key];
    if (!field) {
      if (type.oneofs && key in type.oneofs) continue; // the virtual "which member is set" property of decoded objects
      throw new BwcError('BAD_MESSAGE', `${path}: unknown field ${JSON.stringify(key)} (fields: ${Object.keys(type.fields).join(', ')})`);
    }
    const where = `${path}.${key}`;
    if (field.repeated) {
      if (!Array.isArray(value)) throw new BwcError('BAD_MESSAGE', `${where} must be an array`);
      if (value.length === 0) continue;
      out[key] = value.map((v, i) => checkValue(field, v, `${where}[${i}]`));
    } else {
      const v = checkValue(field, value, where);
      if (field.partOf || !isDefault(field, v)) out[key] = v;
    }
  }
  return out;
}

function isDefault(field: protobuf.Field, v: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Type) return false;
  if (field.resolvedType instanceof protobuf.Enum) return v === 0 || (field.resolvedType as protobuf.Enum).values[v as string] === 0;
  if (v instanceof Uint8Array || typeof v === 'string') return (v as { length: number }).length === 0;
  return v === 0 || v === false;
}

function checkValue(field: protobuf.Field, v: unknown, where: string): unknown {
  const bad = (what: string) => new BwcError('BAD_MESSAGE', `${where} must be ${what}, got ${describe(v)}`);
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(`a ${rt.name} object`);
    return checkObject(rt, v as Record<string, unknown>, where);
  }
  if (rt instanceof protobuf.Enum) {
    if (typeof v === 'string' && v in rt.values) return v;
    if (typeof v === 'number' && Object.values(rt.values).includes(v)) return v;
    throw bad(`one of ${Object.keys(rt.values).join(', ')}`);
  }
  switch (field.type) {
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw bad('a boolean');
      return v;
    case 'bytes':
      if (!(v instanceof Uint8Array) && typeof v !== 'string') throw bad('bytes (Uint8Array/Buffer, or base64 text)');
      return v;
    case 'double':
    case 'float':
      if (typeof v !== 'number' || Number.isNaN(v)) throw bad('a number');
      return v;
    default: {
      const range = INT_RANGES[field.type];
      if (!range) throw bad(`a ${field.type}`);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) throw bad(`an integer from ${range[0]} to ${range[1]}`);
      return v;
    }
  }
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
