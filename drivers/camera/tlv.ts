import { BwcError } from '../../common/errors.js';
import { decodeText, encodeText, type TextEncoding } from './text-encoding.js';

/**
 * Payloads are a list of fields: tag (u8), length (u32 BE), value. Readers
 * skip tags they do not know, so a newer camera can add fields without
 * breaking older drivers. A tag may repeat (lists).
 */
export class TlvWriter {
  private readonly parts: Buffer[] = [];
  constructor(readonly encoding: TextEncoding = 'utf8') {}

  raw(tag: number, value: Buffer): this {
    const head = Buffer.allocUnsafe(5);
    head[0] = tag;
    head.writeUInt32BE(value.length, 1);
    this.parts.push(head, value);
    return this;
  }
  u8(tag: number, v: number): this {
    return this.raw(tag, Buffer.from([v & 0xff]));
  }
  bool(tag: number, v: boolean): this {
    return this.u8(tag, v ? 1 : 0);
  }
  u32(tag: number, v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    return this.raw(tag, b);
  }
  /** Times (ms since 1970) and byte counts: signed 64-bit. */
  i64(tag: number, v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(BigInt(Math.trunc(v)));
    return this.raw(tag, b);
  }
  f64(tag: number, v: number): this {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(v);
    return this.raw(tag, b);
  }
  str(tag: number, s: string): this {
    return this.raw(tag, encodeText(s, this.encoding));
  }
  bytes(tag: number, b: Buffer): this {
    return this.raw(tag, b);
  }
  nested(tag: number, w: TlvWriter): this {
    return this.raw(tag, w.toBuffer());
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class TlvReader {
  private readonly fields = new Map<number, Buffer[]>();

  /** `what` names the message in errors ("status response"). */
  constructor(buf: Buffer, readonly encoding: TextEncoding, readonly what: string) {
    let i = 0;
    while (i < buf.length) {
      if (buf.length - i < 5) throw this.bad(`field header cut off at byte ${i}`);
      const tag = buf[i]!;
      const len = buf.readUInt32BE(i + 1);
      if (len > buf.length - i - 5) throw this.bad(`field ${tag} claims ${len} bytes, only ${buf.length - i - 5} left`);
      const value = buf.subarray(i + 5, i + 5 + len);
      const list = this.fields.get(tag);
      if (list) list.push(value);
      else this.fields.set(tag, [value]);
      i += 5 + len;
    }
  }

  bad(why: string): BwcError {
    return new BwcError('CAMERA_BAD_PAYLOAD', `${this.what}: ${why}`);
  }

  has(tag: number): boolean {
    return this.fields.has(tag);
  }
  all(tag: number): Buffer[] {
    return this.fields.get(tag) ?? [];
  }
  private one(tag: number, name: string, size?: number): Buffer {
    const v = this.fields.get(tag);
    if (!v) throw this.bad(`missing ${name}`);
    const b = v[0]!;
    if (size !== undefined && b.length !== size) throw this.bad(`${name} must be ${size} bytes, got ${b.length}`);
    return b;
  }
  u8(tag: number, name: string): number {
    return this.one(tag, name, 1)[0]!;
  }
  bool(tag: number, name: string): boolean {
    const v = this.u8(tag, name);
    if (v > 1) throw this.bad(`${name} must be 0 or 1, got ${v}`);
    return v === 1;
  }
  u32(tag: number, name: string): number {
    return this.one(tag, name, 4).readUInt32BE(0);
  }
  i64(tag: number, name: string): number {
    const v = this.one(tag, name, 8).readBigInt64BE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw this.bad(`${name} is out of range: ${v}`);
    return Number(v);
  }
  f64(tag: number, name: string): number {
    const v = this.one(tag, name, 8).readDoubleBE(0);
    if (!Number.isFinite(v)) throw this.bad(`${name} is not a finite number`);
    return v;
  }
  str(tag: number, name: string): string {
    return decodeText(this.one(tag, name), this.encoding, `${this.what}: ${name}`);
  }
  bytes(tag: number, name: string): Buffer {
    return this.one(tag, name);
  }
  opt<T>(tag: number, read: (tag: number, name: string) => T, name: string): T | undefined {
    return this.fields.has(tag) ? read.call(this, tag, name) : undefined;
  }
}
