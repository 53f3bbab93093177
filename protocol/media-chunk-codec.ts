import { encodeMessage, type HeaderData } from './codec.js';
import { SCHEMA_VERSION } from './schema.js';

/**
 * MediaChunk written straight into one buffer, for the live video path:
 * each access unit of a feed goes out as a chunk at 25 frames a second, and
 * the general encoder (field checks, protobufjs objects, the body copied
 * twice) cost more than the rest of the chunk's way to the socket. The bytes
 * are exactly what encodeMessage('MediaChunk', header, body) gives (fields in
 * number order, proto3 defaults left out); anything outside the plain case
 * (a negative or fractional number, a non-ASCII string) is handed to
 * encodeMessage, which checks it and says what is wrong.
 */
export interface MediaChunkFields {
  requestId: string;
  index: number;
  offset: number;
  last: boolean;
  contentType: string;
  data: Uint8Array;
  sha256?: Uint8Array;
  totalSize: number;
  frame?: number;
  timeMs?: number;
  objectId: string;
  keyframe?: boolean;
  codec?: string;
  width?: number;
  height?: number;
  ptsUs?: number;
  fps?: number;
  gop?: number;
}

const U32 = 0xffffffff;
const U53 = Number.MAX_SAFE_INTEGER;
const ASCII = /^[\x00-\x7f]*$/;

export function encodeMediaChunk(header: HeaderData, c: MediaChunkFields): Buffer {
  const schema = header.schema ?? SCHEMA_VERSION;
  if (!plain(header, schema, c)) return Buffer.from(encodeMessage('MediaChunk', header, bodyOf(c)));
  const headerLen = tagLen(1) + header.deviceId.length + 1 // device_id (ids are short: a one-byte length)
    + uintField(2, header.seq) + uintField(3, header.session) + uintField(4, header.sentMs) + uintField(5, schema);
  const size = tagLen(1) + varintLen(headerLen) + headerLen
    + strField(2, c.requestId) + uintField(3, c.index) + uintField(4, c.offset) + boolField(5, c.last) + strField(6, c.contentType)
    + bytesField(7, c.data) + bytesField(8, c.sha256) + uintField(9, c.totalSize) + uintField(10, c.frame) + uintField(11, c.timeMs)
    + strField(12, c.objectId) + boolField(13, c.keyframe) + strField(14, c.codec) + uintField(15, c.width) + uintField(16, c.height)
    + uintField(17, c.ptsUs) + uintField(18, c.fps) + uintField(19, c.gop);
  const w = new Out(Buffer.allocUnsafe(size));
  w.tag(1, 2).varint(headerLen);
  w.tag(1, 2).varint(header.deviceId.length).ascii(header.deviceId);
  w.uint(2, header.seq).uint(3, header.session).uint(4, header.sentMs).uint(5, schema);
  w.str(2, c.requestId).uint(3, c.index).uint(4, c.offset).bool(5, c.last).str(6, c.contentType)
    .bytes(7, c.data).bytes(8, c.sha256).uint(9, c.totalSize).uint(10, c.frame).uint(11, c.timeMs)
    .str(12, c.objectId).bool(13, c.keyframe).str(14, c.codec).uint(15, c.width).uint(16, c.height)
    .uint(17, c.ptsUs).uint(18, c.fps).uint(19, c.gop);
  if (w.pos !== size) throw new Error(`MediaChunk encoder wrote ${w.pos} of ${size} bytes`);
  return w.buf;
}

/** Integers in range, ASCII strings, a device id under 128 bytes: what the fast path writes. */
function plain(h: HeaderData, schema: number, c: MediaChunkFields): boolean {
  return typeof h.deviceId === 'string' && h.deviceId.length > 0 && h.deviceId.length < 128 && ASCII.test(h.deviceId)
    && isUint(h.seq, U53) && isUint(h.session, U32) && isUint(h.sentMs, U53) && isUint(schema, U32)
    && isAscii(c.requestId) && isAscii(c.contentType) && isAscii(c.objectId) && (c.codec === undefined || isAscii(c.codec))
    && isUint(c.index, U32) && isUint(c.offset, U53) && isUint(c.totalSize, U53) && typeof c.last === 'boolean'
    && c.data instanceof Uint8Array && (c.sha256 === undefined || c.sha256 instanceof Uint8Array)
    && optUint(c.frame, U32) && optUint(c.timeMs, U53) && optUint(c.width, U32) && optUint(c.height, U32)
    && optUint(c.ptsUs, U53) && optUint(c.fps, U32) && optUint(c.gop, U32) && (c.keyframe === undefined || typeof c.keyframe === 'boolean');
}

const isUint = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const optUint = (v: unknown, max: number) => v === undefined || isUint(v, max);
const isAscii = (s: unknown): s is string => typeof s === 'string' && ASCII.test(s);

function bodyOf(c: MediaChunkFields): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) if (v !== undefined) body[k] = v;
  return body;
}

function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

const tagLen = (field: number) => varintLen(field << 3);
const uintField = (field: number, v: number | undefined) => (v ? tagLen(field) + varintLen(v) : 0);
const boolField = (field: number, v: boolean | undefined) => (v ? tagLen(field) + 1 : 0);
const strField = (field: number, s: string | undefined) => (s ? tagLen(field) + varintLen(s.length) + s.length : 0);
const bytesField = (field: number, b: Uint8Array | undefined) => (b && b.length ? tagLen(field) + varintLen(b.length) + b.length : 0);

class Out {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  varint(v: number): this {
    const b = this.buf;
    while (v >= 128) {
      b[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  ascii(s: string): this {
    this.pos += this.buf.write(s, this.pos, 'latin1');
    return this;
  }

  uint(field: number, v: number | undefined): this {
    return v ? this.tag(field, 0).varint(v) : this;
  }

  bool(field: number, v: boolean | undefined): this {
    if (v) this.tag(field, 0).buf[this.pos++] = 1;
    return this;
  }

  str(field: number, s: string | undefined): this {
    return s ? this.tag(field, 2).varint(s.length).ascii(s) : this;
  }

  bytes(field: number, b: Uint8Array | undefined): this {
    if (!b || b.length === 0) return this;
    this.tag(field, 2).varint(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
}
