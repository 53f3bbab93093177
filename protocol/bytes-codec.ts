import { BwcError } from '../common/errors.js';

/**
 * Byte-level pieces of the compact track format: unsigned LEB128 varints (as
 * protobuf), zigzag for signed values, and LSB-first bit packing. Integers go
 * up to 2^53 (JS numbers, no BigInt): arithmetic instead of 32-bit bitwise
 * operators wherever a value can pass 2^31.
 */

const TWO_POW_53 = 2 ** 53;

export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

export function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

export function varintSize(u: number): number {
  let n = 1;
  while (u >= 128) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

/** A growable output buffer. */
export class ByteWriter {
  private buf = new Uint8Array(64);
  length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  varint(u: number): void {
    if (!(u >= 0 && u < TWO_POW_53 && Number.isInteger(u))) throw new BwcError('ENCODE_RANGE', `value ${u} cannot be a varint here (0 to 2^53)`);
    this.ensure(8);
    while (u >= 128) {
      this.buf[this.length++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    this.buf[this.length++] = u;
  }

  svarint(v: number): void {
    this.varint(zigzag(v));
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Writes the low `width` bits (width ≤ 24) of each value, LSB first, padded to a whole byte. */
  packBits(values: ArrayLike<number>, width: number): void {
    if (width === 0) return;
    const total = Math.ceil((values.length * width) / 8);
    this.ensure(total);
    const mask = (1 << width) - 1;
    let acc = 0;
    let nbits = 0;
    for (let i = 0; i < values.length; i++) {
      // acc holds < 8 bits, so acc | low << nbits fits in 31 bits for width ≤ 24.
      acc |= (values[i]! % 2 ** width & mask) << nbits;
      nbits += width;
      while (nbits >= 8) {
        this.buf[this.length++] = acc & 0xff;
        acc >>>= 8;
        nbits -= 8;
      }
    }
    if (nbits > 0) this.buf[this.length++] = acc & 0xff;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Reads with bounds checks. Every failure is BwcError('BAD_MESSAGE') naming
 * the byte offset (counted from `base`, the blob's place in the message).
 */
export class ByteReader {
  pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly base = 0,
    private readonly what = 'track batch',
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(why: string, at = this.pos): BwcError {
    return new BwcError('BAD_MESSAGE', `${this.what}: ${why} at byte ${this.base + at}`);
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw this.fail('truncated (expected another byte)');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.buf.length) throw this.fail('truncated varint', start);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
      if (i >= 7) throw this.fail('varint longer than 8 bytes', start);
    }
    if (result >= TWO_POW_53) throw this.fail('varint past 2^53', start);
    return result;
  }

  svarint(): number {
    return unzigzag(this.varint());
  }

  bytes(n: number): Uint8Array {
    if (n > this.remaining) throw this.fail(`truncated (${n} bytes needed, ${this.remaining} left)`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Reads `count` values of `width` bits (≤ 24), LSB first, as written by packBits. */
  unpackBits(count: number, width: number): number[] {
    const out = new Array<number>(count);
    if (width === 0) {
      out.fill(0);
      return out;
    }
    const total = Math.ceil((count * width) / 8);
    if (total > this.remaining) throw this.fail(`truncated bit-packed column (${total} bytes needed, ${this.remaining} left)`);
    const mask = (1 << width) - 1;
    let acc = 0;
    let nbits = 0;
    let p = this.pos;
    for (let i = 0; i < count; i++) {
      while (nbits < width) {
        acc |= this.buf[p++]! << nbits;
        nbits += 8;
      }
      out[i] = acc & mask;
      acc >>>= width;
      nbits -= width;
    }
    this.pos += total;
    return out;
  }
}
