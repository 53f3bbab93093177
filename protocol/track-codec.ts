import protobuf from 'protobufjs';
import { ByteReader, ByteWriter } from './bytes-codec.js';
import { type HeaderData, decodeMessage, withHeader } from './codec.js';
import { readColumn, writeColumn } from './column-codec.js';
import { BwcError } from '../common/errors.js';
import type { Fix } from './fix.js';

/**
 * TrackBatch: the fixes of one device in the compact track format v1
 * (protocol/README.md, "Compact tracks", byte by byte).
 *
 * Quanta (what the round trip keeps; the error is at most half of each):
 * time 1 ms (exact), latitude and longitude 5e-7° (error ≤ 2.5e-7°, about
 * 3 cm), altitude 1 cm, speed 0.05 m/s, course 0.1°, HDOP 0.01, satellites
 * exact. A column whose steps share a factor (altitude in decimetres, as most
 * receivers give it) is stored divided by it, so a fine quantum costs nothing
 * where the data is coarser. Positions are the costliest columns: their
 * quantum is half the required 5e-7° fidelity, where 1e-7° would cost about
 * 0.6 byte a fix more for noise no receiver of a body camera resolves.
 */
export interface TrackBatchData {
  header: HeaderData;
  historical: boolean;
  fixes: Fix[];
  /** One per fix: the sequence number of the message written for it; seqs[0] === header.seq. */
  seqs: number[];
}

/** The body as the agent's buffer stores it (no header): what encodeTrackBatchBody takes. */
export interface TrackBatchBody {
  historical: boolean;
  fixes: Fix[];
  seqs: number[];
}

/** Fixes per batch a decoder accepts: a day at 1 Hz is 86,400; a batch is meant to be far smaller. */
export const MAX_FIXES = 100_000;

export const LATLON_PER_DEGREE = 2e6;
export const ALT_PER_M = 100;
export const SPEED_PER_MPS = 20;
export const COURSE_PER_DEGREE = 10;
export const COURSE_MODULUS = 360 * COURSE_PER_DEGREE;
export const HDOP_UNIT = 100;
/** Fix times: 1970 to the end of year 9999, the range of ISO 8601 times with a 4-digit year. */
export const MAX_TIME_MS = 253402300799999;

/** The optional columns, in wire order; their bit in the column mask is 1 << (index + 1) (bit 0: seq). */
const OPTIONAL = [
  { key: 'alt', per: ALT_PER_M },
  { key: 'speed', per: SPEED_PER_MPS },
  { key: 'course', per: COURSE_PER_DEGREE, modulus: COURSE_MODULUS },
  { key: 'hdop', per: HDOP_UNIT },
  { key: 'sats', per: 1 },
] as const;
const SEQ_BIT = 1;

export function encodeTrackBatch(b: TrackBatchData): Uint8Array {
  if (b.seqs?.[0] !== b.header?.seq) {
    throw new BwcError('BAD_FIX', `track batch: seqs[0] (${b.seqs?.[0]}) must equal header.seq (${b.header?.seq})`);
  }
  return withHeader(b.header, encodeTrackBatchBody(b, b.header.sentMs));
}

/**
 * The TrackBatch without its header, for the agent's buffer. Fix times are
 * stored as offsets from `sentMs`, so the header later given to withHeader
 * must carry this same sentMs (the time the message was written, assigned
 * with its seq).
 */
export function encodeTrackBatchBody(b: TrackBatchBody, sentMs: number): Uint8Array {
  const fixes = encodeTrackFixes(b.fixes, b.seqs, sentMs);
  const w = protobuf.Writer.create();
  if (b.historical) w.uint32(16).bool(true);
  w.uint32(26).bytes(fixes);
  return w.finish();
}

/** The `fixes` blob alone (README "Compact tracks"). */
export function encodeTrackFixes(fixes: Fix[], seqs: number[], sentMs: number): Uint8Array {
  const n = fixes.length;
  if (n < 1 || n > MAX_FIXES) throw new BwcError('BAD_FIX', `a track batch holds 1 to ${MAX_FIXES} fixes, got ${n}`);
  if (!Array.isArray(seqs) || seqs.length !== n) throw new BwcError('BAD_FIX', `track batch: ${n} fixes need ${n} seqs, got ${seqs?.length}`);
  if (!Number.isSafeInteger(sentMs) || sentMs < 0) throw new BwcError('BAD_FIX', `track batch: sentMs must be a non-negative integer, got ${sentMs}`);
  for (let i = 0; i < n; i++) {
    if (!Number.isSafeInteger(seqs[i]) || seqs[i]! < 0) throw new BwcError('BAD_FIX', `fix ${i}: seq must be a non-negative integer, got ${seqs[i]}`);
  }
  const time = new Array<number>(n);
  const lat = new Array<number>(n);
  const lon = new Array<number>(n);
  const mode = new Array<number>(n);
  const seq = new Array<number>(n);
  let seqColumn = false;
  for (let i = 0; i < n; i++) {
    const f = fixes[i]!;
    checkFix(f, i);
    time[i] = f.timeMs - sentMs;
    lat[i] = Math.round(f.lat * LATLON_PER_DEGREE);
    lon[i] = Math.round(f.lon * LATLON_PER_DEGREE);
    mode[i] = f.mode;
    seq[i] = seqs[i]! - seqs[0]! - i;
    if (seq[i] !== 0) seqColumn = true;
  }
  const optional = OPTIONAL.map((c) => {
    const present = fixes.map((f) => f[c.key] !== undefined);
    const values: number[] = [];
    for (const f of fixes) {
      const v = f[c.key];
      if (v === undefined) continue;
      let q = Math.round(v * c.per);
      if ('modulus' in c) q = ((q % c.modulus) + c.modulus) % c.modulus;
      values.push(q);
    }
    return { ...c, present, values, all: values.length === n };
  });
  let mask = seqColumn ? SEQ_BIT : 0;
  optional.forEach((c, i) => {
    if (c.values.length > 0) mask |= 1 << (i + 1);
  });

  const w = new ByteWriter();
  w.varint(n);
  w.varint(mask);
  if (n === 1) {
    // Single-fix form (a live report): each column is one zigzag varint.
    w.svarint(time[0]!);
    w.svarint(lat[0]!);
    w.svarint(lon[0]!);
    w.svarint(mode[0]!);
    for (const c of optional) if (c.values.length > 0) w.svarint(c.values[0]!);
    return w.finish();
  }
  writeColumn(w, time, null);
  writeColumn(w, lat, null);
  writeColumn(w, lon, null);
  writeColumn(w, mode, null);
  if (seqColumn) writeColumn(w, seq, null);
  for (const c of optional) {
    if (c.values.length === 0) continue;
    writeColumn(w, c.values, c.all ? null : c.present, 'modulus' in c ? { modulus: c.modulus } : {});
  }
  return w.finish();
}

/** Refuses a fix the compact formats cannot carry: BwcError('BAD_FIX', 'fix i: …'). */
export function checkFix(f: Fix, i: number): void {
  const bad = (why: string) => new BwcError('BAD_FIX', `fix ${i}: ${why}`);
  if (f === null || typeof f !== 'object') throw bad('not a fix object');
  if (!Number.isInteger(f.timeMs) || f.timeMs < 0 || f.timeMs > MAX_TIME_MS) throw bad(`timeMs must be whole milliseconds from 1970 to 9999, got ${f.timeMs}`);
  if (!(f.lat >= -90 && f.lat <= 90)) throw bad(`lat must be in [-90, 90], got ${f.lat}`);
  if (!(f.lon >= -180 && f.lon <= 180)) throw bad(`lon must be in [-180, 180], got ${f.lon}`);
  if (f.mode !== 2 && f.mode !== 3) throw bad(`mode must be 2 or 3, got ${f.mode}`);
  if (f.alt !== undefined && !(Math.abs(f.alt) <= 1e6)) throw bad(`alt must be a number of metres within ±1,000 km, got ${f.alt}`);
  if (f.speed !== undefined && !(f.speed >= 0 && f.speed <= 1e5)) throw bad(`speed must be in [0, 100000] m/s, got ${f.speed}`);
  // 360 (some receivers print it) is north as 0 is: the course column is modular anyway.
  if (f.course !== undefined && !(f.course >= 0 && f.course <= 360)) throw bad(`course must be in [0, 360], got ${f.course}`);
  if (f.hdop !== undefined && !(f.hdop >= 0 && f.hdop <= 1e4)) throw bad(`hdop must be in [0, 10000], got ${f.hdop}`);
  if (f.sats !== undefined && !(Number.isInteger(f.sats) && f.sats >= 0 && f.sats <= 1000)) throw bad(`sats must be an integer from 0 to 1000, got ${f.sats}`);
}

/** Decodes a whole TrackBatch message. BwcError('BAD_MESSAGE') naming the byte offset on garbage or truncation. */
export function decodeTrackBatch(bytes: Uint8Array): TrackBatchData {
  const msg = decodeMessage<{ historical: boolean; fixes: Uint8Array }>('TrackBatch', bytes);
  if (!msg.header) throw new BwcError('BAD_MESSAGE', 'TrackBatch: no header (field 1)');
  if (msg.header.deviceId === '') throw new BwcError('BAD_MESSAGE', 'TrackBatch: header without a device id');
  if (msg.fixes.length === 0) throw new BwcError('BAD_MESSAGE', 'TrackBatch: no fixes (field 3)');
  // Where the blob sits in the message, so errors name the byte of the message.
  const base = msg.fixes.buffer === bytes.buffer ? msg.fixes.byteOffset - bytes.byteOffset : 0;
  const { fixes, seqs } = decodeTrackFixes(msg.fixes, msg.header.seq, msg.header.sentMs, base);
  return { header: msg.header, historical: msg.historical, fixes, seqs };
}

/** Decodes the `fixes` blob, given the header's seq and sent time. */
export function decodeTrackFixes(blob: Uint8Array, seq0: number, sentMs: number, base = 0): { fixes: Fix[]; seqs: number[] } {
  const r = new ByteReader(blob, base, 'TrackBatch fixes');
  const n = r.varint();
  if (n < 1 || n > MAX_FIXES) throw r.fail(`fix count ${n} outside 1..${MAX_FIXES}`, 0);
  const mask = r.varint();
  if (mask >= 2 ** 31) throw r.fail('column mask past bit 30', 0);
  const cols: (number | undefined)[][] = [];
  const read = (name: string, bit: number, modulus?: number): (number | undefined)[] | undefined => {
    if (bit !== 0 && (mask & bit) === 0) return undefined;
    if (n === 1) return [r.svarint()];
    const col = readColumn(r, n, name, modulus ? { modulus } : {});
    if (bit === 0 && col.partial) throw r.fail(`${name} column: must have a value for every fix`);
    return col.values;
  };
  const time = read('time', 0)!;
  const lat = read('lat', 0)!;
  const lon = read('lon', 0)!;
  const mode = read('mode', 0)!;
  const seq = read('seq', SEQ_BIT);
  for (let i = 0; i < OPTIONAL.length; i++) {
    const c = OPTIONAL[i]!;
    cols.push(read(c.key, 1 << (i + 1), 'modulus' in c ? c.modulus : undefined) ?? []);
  }
  // Columns a later version added: same layout, skipped.
  for (let bit = OPTIONAL.length + 1; bit < 31; bit++) if (mask & (1 << bit)) read(`unknown #${bit}`, 1 << bit);
  if (r.remaining !== 0) throw r.fail(`${r.remaining} bytes after the last column`);

  const fixes: Fix[] = new Array(n);
  const seqs: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const bad = (why: string) => new BwcError('BAD_MESSAGE', `TrackBatch fixes: fix ${i}: ${why}`);
    const timeMs = sentMs + time[i]!;
    if (timeMs < 0 || timeMs > MAX_TIME_MS) throw bad(`time ${timeMs} out of range`);
    const la = lat[i]!, lo = lon[i]!;
    if (Math.abs(la) > 90 * LATLON_PER_DEGREE) throw bad(`latitude ${la / LATLON_PER_DEGREE} out of range`);
    if (Math.abs(lo) > 180 * LATLON_PER_DEGREE) throw bad(`longitude ${lo / LATLON_PER_DEGREE} out of range`);
    const m = mode[i];
    if (m !== 2 && m !== 3) throw bad(`mode ${m} is not 2 or 3`);
    const fix: Fix = { timeMs, lat: la / LATLON_PER_DEGREE, lon: lo / LATLON_PER_DEGREE, mode: m };
    for (let k = 0; k < OPTIONAL.length; k++) {
      const c = OPTIONAL[k]!;
      const q = cols[k]![i];
      if (q === undefined) continue;
      if (c.key !== 'alt' && q < 0) throw bad(`${c.key} ${q / c.per} is negative`);
      if (c.key === 'course' && q >= COURSE_MODULUS) throw bad(`course ${q / c.per} out of range`);
      fix[c.key] = q / c.per;
    }
    fixes[i] = fix;
    seqs[i] = seq0 + i + (seq ? seq[i]! : 0);
    if (!Number.isSafeInteger(seqs[i]) || seqs[i]! < 0) throw bad(`seq ${seqs[i]} out of range`);
  }
  if (seq && seq[0] !== 0) throw r.fail('seq column must start at 0', 0);
  return { fixes, seqs };
}
