import { ByteReader, ByteWriter, varintSize, unzigzag, zigzag } from './bytes-codec.js';

/**
 * One integer column of the compact track format (protocol/README.md,
 * "Compact tracks", describes these bytes for other languages):
 *
 *   varint h        order (bits 0-1: 0 raw, 1 deltas, 2 deltas of deltas)
 *                   | partial << 2 | scaled << 3 | width << 4
 *   [bitmap]        if partial: ceil(n/8) bytes, bit i (LSB first) set when fix i has a value
 *   [varint scale]  if scaled: every residual is a multiple of scale (≥ 2), stored divided
 *   heads           `order` zigzag varints: the first value, then (order 2) the first delta
 *   packed          the zigzag residuals' low `width` bits, LSB first, ceil(r*width/8) bytes
 *   varint e        exceptions: residuals that need more than `width` bits
 *   e × (varint gap, varint high)   index gap from the previous exception (minus 1), and
 *                   the residual's bits above `width`
 *
 * A column parses the same whatever it holds, so a decoder skips columns it
 * does not know. The encoder tries every order and picks the width that makes
 * the column shortest (frame of reference on the zigzag residuals, with a
 * patched exception list for the rare big step: a turn, a gap, a jump).
 */

export const MAX_WIDTH = 24;

export interface ColumnOptions {
  /** Values live on a circle of this size (course): differences are wrapped to [-m/2, m/2). */
  modulus?: number;
}

function wrap(d: number, m: number | undefined): number {
  if (!m) return d;
  const half = m / 2;
  let x = d % m;
  if (x < -half) x += m;
  else if (x >= half) x -= m;
  return x;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Writes `values` (the present ones, in fix order) as one column. `present` is null when every fix has a value. */
export function writeColumn(w: ByteWriter, values: number[], present: boolean[] | null, opts: ColumnOptions = {}): void {
  let best: Uint8Array | undefined;
  const maxOrder = Math.min(2, values.length);
  for (let order = 0; order <= maxOrder; order++) {
    const tmp = new ByteWriter();
    writeColumnWithOrder(tmp, values, present, order, opts.modulus);
    const bytes = tmp.finish();
    if (!best || bytes.length < best.length) best = bytes;
  }
  w.bytes(best!);
}

function writeColumnWithOrder(w: ByteWriter, q: number[], present: boolean[] | null, order: number, m: number | undefined): void {
  const heads: number[] = [];
  let residuals: number[];
  if (order === 0) {
    residuals = q.slice();
  } else {
    const d = new Array<number>(q.length);
    for (let i = 1; i < q.length; i++) d[i] = wrap(q[i]! - q[i - 1]!, m);
    heads.push(q[0]!);
    if (order === 1) {
      residuals = d.slice(1);
    } else {
      heads.push(d[1]!);
      residuals = [];
      for (let i = 2; i < q.length; i++) residuals.push(wrap(d[i]! - d[i - 1]!, m));
    }
  }
  let scale = 0;
  for (const r of residuals) scale = gcd(scale, Math.abs(r));
  const scaled = scale >= 2;
  const u = residuals.map((r) => zigzag(scaled ? r / scale : r));
  const width = bestWidth(u);

  w.varint(order | (present ? 4 : 0) | (scaled ? 8 : 0) | (width << 4));
  if (present) {
    const bitmap = new Uint8Array(Math.ceil(present.length / 8));
    present.forEach((p, i) => {
      if (p) bitmap[i >> 3]! |= 1 << (i & 7);
    });
    w.bytes(bitmap);
  }
  if (scaled) w.varint(scale);
  for (const h of heads) w.svarint(h);
  w.packBits(u, width);
  const limit = 2 ** width;
  const exceptions: number[] = [];
  for (let i = 0; i < u.length; i++) if (u[i]! >= limit) exceptions.push(i);
  w.varint(exceptions.length);
  let prev = -1;
  for (const i of exceptions) {
    w.varint(i - prev - 1);
    w.varint(Math.floor(u[i]! / limit));
    prev = i;
  }
}

/** The width that makes packed bits plus exceptions shortest (ties: the narrower). */
function bestWidth(u: number[]): number {
  let bestW = 0;
  let bestCost = Infinity;
  for (let width = 0; width <= MAX_WIDTH; width++) {
    const limit = 2 ** width;
    let cost = Math.ceil((u.length * width) / 8);
    let count = 0;
    let prev = -1;
    for (let i = 0; i < u.length && cost < bestCost; i++) {
      if (u[i]! >= limit) {
        cost += varintSize(i - prev - 1) + varintSize(Math.floor(u[i]! / limit));
        prev = i;
        count++;
      }
    }
    cost += varintSize(count);
    if (cost < bestCost) {
      bestCost = cost;
      bestW = width;
    }
  }
  return bestW;
}

export interface ReadColumn {
  /** One entry per fix; undefined where the fix has no value. */
  values: (number | undefined)[];
  partial: boolean;
}

/** Reads a column of `n` fixes. Throws BwcError('BAD_MESSAGE') with the byte offset on anything malformed. */
export function readColumn(r: ByteReader, n: number, name: string, opts: ColumnOptions = {}): ReadColumn {
  const start = r.pos;
  const h = r.varint();
  const order = h & 3;
  const partial = (h & 4) !== 0;
  const scaled = (h & 8) !== 0;
  const width = Math.floor(h / 16);
  if (order === 3) throw r.fail(`${name} column: unknown order 3`, start);
  if (width > MAX_WIDTH) throw r.fail(`${name} column: bit width ${width} above ${MAX_WIDTH}`, start);
  let present: boolean[] | null = null;
  let p = n;
  if (partial) {
    const bitmap = r.bytes(Math.ceil(n / 8));
    present = new Array<boolean>(n);
    p = 0;
    for (let i = 0; i < n; i++) {
      present[i] = (bitmap[i >> 3]! & (1 << (i & 7))) !== 0;
      if (present[i]) p++;
    }
    if (n % 8 !== 0 && bitmap[bitmap.length - 1]! >> n % 8 !== 0) throw r.fail(`${name} column: presence bits set past the last fix`, start);
    if (p === 0) throw r.fail(`${name} column: present on no fix (it should have been left out)`, start);
  }
  if (order > p) throw r.fail(`${name} column: order ${order} with only ${p} values`, start);
  let scale = 1;
  if (scaled) {
    scale = r.varint();
    if (scale < 2) throw r.fail(`${name} column: scale ${scale} below 2`, start);
  }
  const heads: number[] = [];
  for (let i = 0; i < order; i++) heads.push(r.svarint());
  const count = p - order;
  const u = r.unpackBits(count, width);
  const e = r.varint();
  if (e > count) throw r.fail(`${name} column: ${e} exceptions for ${count} values`);
  const limit = 2 ** width;
  let idx = -1;
  for (let k = 0; k < e; k++) {
    idx += r.varint() + 1;
    if (idx >= count) throw r.fail(`${name} column: exception index ${idx} past ${count} values`);
    const high = r.varint();
    const full = high * limit + u[idx]!;
    if (high === 0 || !Number.isSafeInteger(full)) throw r.fail(`${name} column: bad exception value`);
    u[idx] = full;
  }
  const m = opts.modulus;
  const q = new Array<number>(p);
  const res = (i: number) => {
    const v = unzigzag(u[i]!) * scale;
    if (!Number.isSafeInteger(v)) throw r.fail(`${name} column: value out of range`);
    return v;
  };
  if (order === 0) {
    for (let i = 0; i < p; i++) q[i] = res(i);
  } else {
    q[0] = heads[0]!;
    let d = order === 2 ? heads[1]! : 0;
    for (let i = 1; i < p; i++) {
      if (order === 1) d = res(i - 1);
      else if (i >= 2) d = wrap(d + res(i - 2), m);
      q[i] = q[i - 1]! + d;
      if (m) q[i] = ((q[i]! % m) + m) % m;
      if (!Number.isSafeInteger(q[i]!)) throw r.fail(`${name} column: value out of range`);
    }
  }
  const values = new Array<number | undefined>(n);
  if (present) {
    let j = 0;
    for (let i = 0; i < n; i++) values[i] = present[i] ? q[j++] : undefined;
  } else {
    for (let i = 0; i < n; i++) values[i] = q[i];
  }
  return { values, partial };
}
