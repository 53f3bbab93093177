import { randomInt } from 'node:crypto';
import { BwcError } from '../common/errors.js';
import type { Fix } from './fix.js';
import { ByteReader, ByteWriter } from './bytes-codec.js';
import { ALT_PER_M, checkFix, COURSE_MODULUS, COURSE_PER_DEGREE, HDOP_UNIT, LATLON_PER_DEGREE, MAX_TIME_MS, SPEED_PER_MPS } from './track-codec.js';

/**
 * The compact live form (`dev/{id}/live`, protocol/README.md "The live
 * path"): one fix, no protobuf, no header. The topic names the device; the
 * session and schema are in the agent's state. A **full** form carries seq,
 * time and position whole and opens an **anchor** (a per-device number,
 * 0..255); a **compact** form names its anchor and carries only the low bits
 * (residues) of seq, time and position: a subscriber takes each as the value
 * with those low bits nearest its reference for that anchor. Residues, not
 * differences: a subscriber that missed messages, or shares the stream with
 * others ($share), still decodes every fix it gets as long as its reference
 * is within half a window, and the agent sends a full form whenever a
 * subscriber could be further away than that. The anchor keeps a compact
 * form from being read against a reference it was not made for (a jump the
 * device made, or a full form someone else sent).
 */

export const LIVE_FLAG_FULL = 0x01;
export const LIVE_FLAG_MODE3 = 0x02;
/** Bits 2..6: alt, speed, course, hdop, sats present. Bit 7 is reserved and refused. */
const OPTIONAL_FLAGS = [
  { key: 'alt', bit: 0x04, per: ALT_PER_M, signed: true },
  { key: 'speed', bit: 0x08, per: SPEED_PER_MPS, signed: false },
  { key: 'course', bit: 0x10, per: COURSE_PER_DEGREE, signed: false },
  { key: 'hdop', bit: 0x20, per: HDOP_UNIT, signed: false },
  { key: 'sats', bit: 0x40, per: 1, signed: false },
] as const;
const RESERVED = 0x80;

/** Windows of the compact form: the residue is the value modulo these. */
export const SEQ_MODULUS = 2 ** 16;
export const TIME_MODULUS = 2 ** 21;
export const LATLON_MODULUS = 2 ** 21;

/**
 * When the agent sends a full form: more than a quarter window from the last
 * live fix it sent of the device (a subscriber holding a reference up to a
 * quarter window older still decodes), at least every `fullEveryMs`, and for
 * the first live fix of a device in each MQTT session.
 */
export const FULL_WHEN = { seq: SEQ_MODULUS / 4, timeMs: TIME_MODULUS / 4, latlon: LATLON_MODULUS / 4 } as const;
/** A subscriber's reference older than this (by its own clock) is not used: it waits for a full form. */
export const REFERENCE_MAX_AGE_MS = 5 * 60_000;
/** Longitudes this close to ±180° always go full: a residue could land across the antimeridian. */
const ANTIMERIDIAN_Q = 179 * LATLON_PER_DEGREE;

export interface LiveFix {
  seq: number;
  fix: Fix;
  /** The full form (absolute values); false for the compact form. */
  full: boolean;
  /** The anchor the full form opened or the compact form named. */
  anchor: number;
}

/** The quantised values a compact form is reconstructed against. */
export interface LiveReference {
  seq: number;
  timeMs: number;
  latQ: number;
  lonQ: number;
}

const mod = (v: number, m: number) => ((v % m) + m) % m;

/** The value ≡ residue (mod m) nearest `near` (ties go up). */
export function nearestWithResidue(residue: number, m: number, near: number): number {
  let d = mod(residue - near, m);
  if (d >= m / 2) d -= m;
  return near + d;
}

export function referenceOf(seq: number, fix: Fix): LiveReference {
  return { seq, timeMs: fix.timeMs, latQ: Math.round(fix.lat * LATLON_PER_DEGREE), lonQ: Math.round(fix.lon * LATLON_PER_DEGREE) };
}

/** Whether a fix may go compact against the last live fix sent (`prev`), by the windows alone. */
export function compactAllowed(seq: number, fix: Fix, prev: LiveReference | undefined): boolean {
  if (!prev) return false;
  const r = referenceOf(seq, fix);
  return (
    Math.abs(r.seq - prev.seq) < FULL_WHEN.seq &&
    Math.abs(r.timeMs - prev.timeMs) < FULL_WHEN.timeMs &&
    Math.abs(r.latQ - prev.latQ) < FULL_WHEN.latlon &&
    Math.abs(r.lonQ - prev.lonQ) < FULL_WHEN.latlon &&
    Math.abs(r.lonQ) < ANTIMERIDIAN_Q
  );
}

/**
 * Encodes one live fix; `full` chooses the form (the caller applies
 * compactAllowed and its own cadence); `anchor` is the number a full form
 * opens and a compact form names (LiveFormChooser keeps them).
 */
export function encodeLiveFix(seq: number, fix: Fix, full: boolean, anchor: number): Uint8Array {
  checkFix(fix, 0);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new BwcError('BAD_FIX', `live fix: seq must be a non-negative integer, got ${seq}`);
  const r = referenceOf(seq, fix);
  let flags = (full ? LIVE_FLAG_FULL : 0) | (fix.mode === 3 ? LIVE_FLAG_MODE3 : 0);
  for (const o of OPTIONAL_FLAGS) if (fix[o.key] !== undefined) flags |= o.bit;
  const w = new ByteWriter();
  w.byte(flags);
  w.byte(anchor & 0xff);
  if (full) {
    w.varint(seq);
    w.varint(fix.timeMs);
    w.svarint(r.latQ);
    w.svarint(r.lonQ);
  } else {
    const s = seq % SEQ_MODULUS;
    w.byte(s & 0xff);
    w.byte(s >>> 8);
    w.varint(mod(fix.timeMs, TIME_MODULUS));
    w.varint(mod(r.latQ, LATLON_MODULUS));
    w.varint(mod(r.lonQ, LATLON_MODULUS));
  }
  for (const o of OPTIONAL_FLAGS) {
    const v = fix[o.key];
    if (v === undefined) continue;
    let q = Math.round(v * o.per);
    if (o.key === 'course') q = mod(q, COURSE_MODULUS);
    if (o.signed) w.svarint(q);
    else w.varint(q);
  }
  return w.finish();
}

/** The parts of a live payload before reconstruction. */
interface ParsedLive {
  full: boolean;
  anchor: number;
  seq: number;
  timeMs: number;
  latQ: number;
  lonQ: number;
  fix: Omit<Fix, 'timeMs' | 'lat' | 'lon'>;
}

function parseLive(payload: Uint8Array): ParsedLive {
  const r = new ByteReader(payload, 0, 'live fix');
  const flags = r.byte();
  if (flags & RESERVED) throw r.fail('reserved flag bit 7 set (a later live form)', 0);
  const full = (flags & LIVE_FLAG_FULL) !== 0;
  const anchor = r.byte();
  let seq: number, timeMs: number, latQ: number, lonQ: number;
  if (full) {
    seq = r.varint();
    timeMs = r.varint();
    latQ = r.svarint();
    lonQ = r.svarint();
  } else {
    seq = r.byte() | (r.byte() << 8);
    timeMs = r.varint();
    latQ = r.varint();
    lonQ = r.varint();
    if (timeMs >= TIME_MODULUS || latQ >= LATLON_MODULUS || lonQ >= LATLON_MODULUS) throw r.fail('a residue past its window');
  }
  const fix: ParsedLive['fix'] = { mode: flags & LIVE_FLAG_MODE3 ? 3 : 2 };
  for (const o of OPTIONAL_FLAGS) {
    if (!(flags & o.bit)) continue;
    const q = o.signed ? r.svarint() : r.varint();
    if (o.key === 'course' && q >= COURSE_MODULUS) throw r.fail(`course ${q / o.per} out of range`);
    fix[o.key] = q / o.per;
  }
  if (r.remaining !== 0) throw r.fail(`${r.remaining} bytes after the last field`);
  return { full, anchor, seq, timeMs, latQ, lonQ, fix };
}

function complete(p: ParsedLive, ref: LiveReference | undefined): LiveFix {
  let { seq, timeMs, latQ, lonQ } = p;
  if (!p.full) {
    if (!ref) throw new BwcError('NO_REFERENCE', 'a compact live fix needs a reference (an earlier live fix of the device)');
    seq = nearestWithResidue(seq, SEQ_MODULUS, ref.seq);
    timeMs = nearestWithResidue(timeMs, TIME_MODULUS, ref.timeMs);
    latQ = nearestWithResidue(latQ, LATLON_MODULUS, ref.latQ);
    lonQ = nearestWithResidue(lonQ, LATLON_MODULUS, ref.lonQ);
  }
  const bad = (why: string) => new BwcError('BAD_MESSAGE', `live fix: ${why}`);
  if (!Number.isSafeInteger(seq) || seq < 0) throw bad(`seq ${seq} out of range`);
  if (timeMs < 0 || timeMs > MAX_TIME_MS) throw bad(`time ${timeMs} out of range`);
  if (Math.abs(latQ) > 90 * LATLON_PER_DEGREE) throw bad(`latitude ${latQ / LATLON_PER_DEGREE} out of range`);
  if (Math.abs(lonQ) > 180 * LATLON_PER_DEGREE) throw bad(`longitude ${lonQ / LATLON_PER_DEGREE} out of range`);
  return { seq, full: p.full, anchor: p.anchor, fix: { timeMs, lat: latQ / LATLON_PER_DEGREE, lon: lonQ / LATLON_PER_DEGREE, ...p.fix } as Fix };
}

/** Decodes a live payload against a reference (needed for the compact form). BwcError BAD_MESSAGE or NO_REFERENCE. */
export function decodeLiveFix(payload: Uint8Array, ref?: LiveReference): LiveFix {
  return complete(parseLive(payload), ref);
}

/** Whether a live payload is a full form (decodable without a reference). */
export function isFullLiveForm(payload: Uint8Array): boolean {
  return payload.length > 0 && (payload[0]! & LIVE_FLAG_FULL) !== 0;
}

/** Reference tracks kept per device: each full form opens one (a jump of the device, or someone else's). */
const MAX_TRACKS = 8;

interface Track { anchor: number; ref: LiveReference; atMs: number }

/**
 * The subscriber's side: per device, a reference track for each recent
 * anchor, and the compact forms that came before any usable reference, held
 * (a bounded number per device) until the next full form places them. Feed
 * every live payload of a device in the order received.
 *
 * A compact form is read against the track of the anchor it names. When no
 * track has that anchor (the subscriber missed the full form: it joined
 * late, lost messages, or shares the stream with others) it is read against
 * every usable track: the residues give the right values from any reference
 * within half a window. Anyone who may publish on a device's topics could
 * send full forms, even naming the device's anchor; then a compact form may
 * be read against two tracks and the same seq comes out twice, and the
 * signed checkpoints (auth-verifier.ts) tell the device's reading from the
 * other. A forged full form cannot make a genuine fix disappear.
 */
export class LiveReferences {
  private readonly tracks = new Map<string, Track[]>();
  private readonly held = new Map<string, { payload: Uint8Array; atMs: number }[]>();
  /** Compact forms dropped because too many waited for a reference. */
  droppedWaiting = 0;

  constructor(private readonly o: { maxHeldPerDevice?: number; maxAgeMs?: number } = {}) {}

  /**
   * The fixes this payload gives: itself (normally once), or nothing while
   * it waits for a reference, or (a full form) the waiting ones too, oldest
   * first. Throws BAD_MESSAGE for a malformed payload.
   */
  decode(deviceId: string, payload: Uint8Array, receivedMs = Date.now()): LiveFix[] {
    const p = parseLive(payload);
    const maxAge = this.o.maxAgeMs ?? REFERENCE_MAX_AGE_MS;
    const tracks = (this.tracks.get(deviceId) ?? []).filter((t) => receivedMs - t.atMs <= maxAge);
    this.tracks.set(deviceId, tracks);
    if (p.full) {
      const out = complete(p, undefined);
      const ref = referenceOf(out.seq, out.fix);
      const same = tracks.find((t) => t.anchor === p.anchor && t.ref.seq === ref.seq);
      if (same) Object.assign(same, { ref, atMs: receivedMs });
      else {
        // Past the bound, the track read least recently goes: the device's own is read every report.
        tracks.push({ anchor: p.anchor, ref, atMs: receivedMs });
        tracks.sort((a, b) => b.atMs - a.atMs);
        tracks.length = Math.min(tracks.length, MAX_TRACKS);
      }
      return [...this.release(deviceId, ref), out];
    }
    const named = tracks.filter((t) => t.anchor === p.anchor);
    const use = named.length > 0 ? named : tracks;
    if (use.length === 0) {
      const list = this.held.get(deviceId) ?? [];
      list.push({ payload, atMs: receivedMs });
      if (list.length > (this.o.maxHeldPerDevice ?? 300)) {
        list.shift();
        this.droppedWaiting++;
      }
      this.held.set(deviceId, list);
      return [];
    }
    const outs: LiveFix[] = [];
    let failure: unknown;
    for (const t of use) {
      let o: LiveFix;
      try {
        o = complete(p, t.ref);
      } catch (err) {
        failure = err; // out of range against this track: not a reading
        continue;
      }
      Object.assign(t, { ref: referenceOf(o.seq, o.fix), atMs: receivedMs });
      if (!outs.some((x) => x.seq === o.seq && JSON.stringify(x.fix) === JSON.stringify(o.fix))) outs.push(o);
    }
    if (outs.length === 0) throw failure;
    return outs;
  }

  /** The compact forms that waited for a reference, read against the full form that just came. */
  private release(deviceId: string, ref: LiveReference): LiveFix[] {
    const waiting = this.held.get(deviceId) ?? [];
    this.held.delete(deviceId);
    const released: LiveFix[] = [];
    for (const w of waiting) {
      try {
        released.push(decodeLiveFix(w.payload, ref));
      } catch {
        this.droppedWaiting++; // parsed once already: only a range failure lands here
      }
    }
    return released;
  }

  /** Compact forms of a device still waiting for a reference. */
  waiting(deviceId: string): number {
    return this.held.get(deviceId)?.length ?? 0;
  }

  /** Reference tracks of a device (one per recent full form, at most MAX_TRACKS). */
  trackCount(deviceId: string): number {
    return this.tracks.get(deviceId)?.length ?? 0;
  }
}

/**
 * The agent's side: per device, the last live fix sent in this session, when
 * the last full form went out and the anchor it opened. `reset()` at every
 * new MQTT session, so that each session's first live fix of a device is a
 * full form; anchors keep counting across sessions (mod 256), so a new one
 * never names a subscriber's track from before.
 */
export class LiveFormChooser {
  private readonly last = new Map<string, { ref: LiveReference; fullAtMs: number }>();
  private readonly anchors = new Map<string, number>();

  constructor(private readonly fullEveryMs: number) {}

  reset(): void {
    this.last.clear();
  }

  encode(deviceId: string, seq: number, fix: Fix, nowMs = Date.now()): Uint8Array {
    const prev = this.last.get(deviceId);
    const full = !prev || nowMs - prev.fullAtMs >= this.fullEveryMs || !compactAllowed(seq, fix, prev.ref);
    // A random first anchor: an agent restarted within a subscriber's reference age names no old track.
    let anchor = this.anchors.get(deviceId) ?? randomInt(256);
    if (full) {
      anchor = (anchor + 1) % 256;
      this.anchors.set(deviceId, anchor);
    }
    const bytes = encodeLiveFix(seq, fix, full, anchor);
    this.last.set(deviceId, { ref: referenceOf(seq, fix), fullAtMs: full ? nowMs : prev!.fullAtMs });
    return bytes;
  }
}
