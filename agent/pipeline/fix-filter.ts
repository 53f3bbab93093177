import type { Fix } from '../../protocol/fix.js';
import { BwcError } from '../../common/errors.js';
import { haversineM } from './geo.js';

/** Why a fix was dropped; one counter each, reported in status and metrics. */
export type DropReason = 'mode' | 'hdop' | 'jump' | 'time' | 'invalid';

export const DROP_REASONS: readonly DropReason[] = ['mode', 'hdop', 'jump', 'time', 'invalid'];

export interface FixFilterOptions {
  /** fixes with a lower mode are dropped (2: accept 2D fixes, 3: only 3D) */
  minMode: 2 | 3;
  /** fixes with a larger HDOP are dropped; a fix without HDOP is not judged on it */
  maxHdop: number;
  /** fastest plausible movement of the wearer, m/s (see SPEED_PROFILES) */
  maxSpeedMps: number;
  /**
   * Distance a stationary receiver may wander between two fixes, metres, on
   * top of maxSpeedMps × Δt. Without it, 10 Hz fixes with a few metres of
   * noise would look like impossible speeds. The price: over one short
   * interval, up to maxSpeedMps + noiseM/Δt passes (32 m/s at 1 Hz with the
   * foot profile); it amortises over longer gaps. Default 20.
   */
  noiseM?: number;
  /**
   * A run of this many jumped fixes that agree with each other is accepted as
   * the real position (the receiver really is elsewhere, e.g. after a tunnel
   * or after a first fix that was itself wrong). Default 3.
   */
  confirmFixes?: number;
  /**
   * GNSS time advances with real time: when fix times move more than this
   * (ms) away from the time between their receptions on this machine, the fix
   * carries a bogus time (a corrupted sentence, a receiver's garbage date) and
   * needs confirmation like a jump. Judged only when reception times are
   * given. Default 60 000.
   */
  maxTimeSkewMs?: number;
  /** Plausible values of the fix's other fields (see FieldBounds); none: not judged. */
  bounds?: FieldBounds;
}

/**
 * What a receiver worn by this profile can plausibly report. A field outside
 * is dropped from the fix (the position stays) and counted: a fix never goes
 * out with 10,000 knots, -99,999 m, 99 satellites or an HDOP of 0.
 */
export interface FieldBounds {
  /** reported speed over ground, m/s */
  maxSpeedMps: number;
  /** altitude above mean sea level, metres */
  minAltM: number;
  maxAltM: number;
  /** satellites used in the solution */
  maxSats: number;
  /** HDOP below this is no real geometry (0 is what a receiver sends for "unknown") */
  minHdop: number;
}

/** Fields of a fix that FieldBounds judge; one counter each. */
export type ImplausibleField = 'speed' | 'alt' | 'sats' | 'hdop' | 'course';

/** A confirmed jump: the track left `from` and restarts at `to`. */
export interface Discontinuity {
  from: Fix;
  to: Fix;
  distanceM: number;
  /** fix time from `from` to `to` */
  dtMs: number;
}

/**
 * Fastest plausible speeds, m/s. An officer on foot sprints at up to ~10 m/s;
 * a patrol vehicle in a city rarely passes 30 m/s, on a motorway 50 m/s.
 * Choose the profile that covers the fastest real movement: an officer who
 * also rides in the patrol car needs the vehicle profile.
 */
export const SPEED_PROFILES = { foot: 12, vehicle: 70 } as const;

/**
 * ok: the fix to use (fields out of bounds removed; `dropped` names them) and,
 * when it confirms a jump, the discontinuity to report before it.
 */
export type FilterResult = { ok: true; fix: Fix; dropped?: ImplausibleField[]; discontinuity?: Discontinuity } | { ok: false; reason: DropReason };

/**
 * Drops fixes the rest of the product must never see, and counts why.
 * Judged in order: invalid values, fix mode, HDOP, time order, then the jump
 * test against the last accepted fix. All times are fix (GNSS) times.
 */
export class FixFilter {
  private readonly opts: Required<FixFilterOptions>;
  private readonly counts: Record<DropReason, number> = { mode: 0, hdop: 0, jump: 0, time: 0, invalid: 0 };
  private readonly fieldCounts: Record<ImplausibleField, number> = { speed: 0, alt: 0, sats: 0, hdop: 0, course: 0 };
  private fixesWithDroppedFields = 0;
  private discontinuityCount = 0;
  /** Set by judge() when the fix it accepts confirms a jump away from `last`. */
  private confirmedJump = false;
  private last: Fix | undefined;
  /** System time the last accepted fix was received, when given. */
  private lastRx: number | undefined;
  /**
   * Consecutive rejected fixes (jumped, or behind the accepted time) that are
   * consistent with each other: the candidate for "the receiver really is
   * there now".
   */
  private candidates: Array<{ fix: Fix; rx?: number }> = [];
  private acceptedCount = 0;

  constructor(opts: FixFilterOptions) {
    const o = { noiseM: 20, confirmFixes: 3, maxTimeSkewMs: 60_000, bounds: NO_BOUNDS, ...opts };
    if (o.minMode !== 2 && o.minMode !== 3) throw new BwcError('BAD_FILTER_OPTIONS', `fix filter: minMode must be 2 or 3, got ${String(o.minMode)}`);
    for (const k of ['maxHdop', 'maxSpeedMps', 'noiseM', 'maxTimeSkewMs'] as const) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || o[k] <= 0) {
        throw new BwcError('BAD_FILTER_OPTIONS', `fix filter: ${k} must be a positive number, got ${String(o[k])}`);
      }
    }
    if (!Number.isInteger(o.confirmFixes) || o.confirmFixes < 1) {
      throw new BwcError('BAD_FILTER_OPTIONS', `fix filter: confirmFixes must be a positive integer, got ${String(o.confirmFixes)}`);
    }
    this.opts = o;
  }

  /** Drop counts by reason (a copy: callers cannot change the filter's counts). */
  get drops(): Record<DropReason, number> {
    return { ...this.counts };
  }

  /** Fields removed as implausible, by field (a copy). */
  get implausibleFields(): Record<ImplausibleField, number> {
    return { ...this.fieldCounts };
  }

  /** Accepted fixes that lost at least one field as implausible. */
  get fixesWithImplausibleFields(): number {
    return this.fixesWithDroppedFields;
  }

  /** Jumps confirmed (each reported as a discontinuity). */
  get discontinuities(): number {
    return this.discontinuityCount;
  }

  /** Fixes accepted so far. */
  get accepted(): number {
    return this.acceptedCount;
  }

  /** The last accepted fix, the reference of the jump and time tests. */
  get lastAccepted(): Fix | undefined {
    return this.last;
  }

  /** `receivedMs`: the system time the fix arrived, to catch bogus fix times (see maxTimeSkewMs). */
  check(input: Fix, receivedMs?: number): FilterResult {
    if (!isSane(input)) {
      this.counts.invalid++;
      return { ok: false, reason: 'invalid' };
    }
    const { fix, dropped } = this.withinBounds(input);
    const before = this.last;
    this.confirmedJump = false;
    const reason = this.judge(fix, receivedMs);
    if (reason !== undefined) {
      this.counts[reason]++;
      return { ok: false, reason };
    }
    this.accept(fix, receivedMs);
    const out: FilterResult = { ok: true, fix };
    if (dropped.length > 0) {
      for (const d of dropped) this.fieldCounts[d]++;
      this.fixesWithDroppedFields++;
      out.dropped = dropped;
    }
    if (this.confirmedJump && before !== undefined) {
      this.discontinuityCount++;
      out.discontinuity = { from: before, to: fix, distanceM: haversineM(before, fix), dtMs: fix.timeMs - before.timeMs };
    }
    return out;
  }

  /** The fix without the fields its profile cannot report (a copy when any goes). */
  private withinBounds(fix: Fix): { fix: Fix; dropped: ImplausibleField[] } {
    const b = this.opts.bounds;
    const dropped: ImplausibleField[] = [];
    if (fix.speed !== undefined && !(fix.speed >= 0 && fix.speed <= b.maxSpeedMps)) dropped.push('speed');
    if (fix.alt !== undefined && !(fix.alt >= b.minAltM && fix.alt <= b.maxAltM)) dropped.push('alt');
    if (fix.sats !== undefined && !(Number.isInteger(fix.sats) && fix.sats >= 0 && fix.sats <= b.maxSats)) dropped.push('sats');
    if (fix.hdop !== undefined && !(fix.hdop >= b.minHdop)) dropped.push('hdop');
    if (fix.course !== undefined && !(fix.course >= 0 && fix.course < 360)) dropped.push('course');
    if (dropped.length === 0) return { fix, dropped };
    const copy: Fix = { ...fix };
    for (const d of dropped) delete copy[d];
    return { fix: copy, dropped };
  }

  private judge(fix: Fix, rx: number | undefined): DropReason | undefined {
    if (fix.mode < this.opts.minMode) return 'mode';
    if (fix.hdop !== undefined && fix.hdop > this.opts.maxHdop) return 'hdop';
    const last = this.last;
    if (last === undefined) return undefined;
    // A repeated epoch is a duplicate, never a new position: not a candidate.
    if (fix.timeMs === last.timeMs) return 'time';
    const behind = fix.timeMs < last.timeMs;
    const timeOk = this.timeConsistent(last, this.lastRx, fix, rx);
    if (!behind && timeOk && this.plausible(last, fix)) {
      // Consistent with the track: any run of outliers before it was noise.
      this.candidates = [];
      return undefined;
    }
    if (this.extendsCandidates(fix, rx) && this.candidates.length >= this.opts.confirmFixes) {
      // Enough fixes agree: the track moves here (accept() re-anchors it),
      // reported as a discontinuity, never passed off as movement.
      this.candidates = [];
      this.confirmedJump = true;
      return undefined;
    }
    return behind || !timeOk ? 'time' : 'jump';
  }

  /** Did fix time advance about as much as reception time did? (true when reception times are unknown) */
  private timeConsistent(a: Fix, aRx: number | undefined, b: Fix, bRx: number | undefined): boolean {
    if (aRx === undefined || bRx === undefined) return true;
    return Math.abs(b.timeMs - a.timeMs - (bRx - aRx)) <= this.opts.maxTimeSkewMs;
  }

  /** Adds fix to the candidate run, or starts a new run with it; true if it extended one. */
  private extendsCandidates(fix: Fix, rx: number | undefined): boolean {
    const prev = this.candidates[this.candidates.length - 1];
    if (prev !== undefined && fix.timeMs > prev.fix.timeMs && this.plausible(prev.fix, fix) && this.timeConsistent(prev.fix, prev.rx, fix, rx)) {
      this.candidates.push({ fix, rx });
      return true;
    }
    this.candidates = [{ fix, rx }];
    return this.opts.confirmFixes === 1;
  }

  /** Could the wearer have moved from a to b (b later) without exceeding the profile speed? */
  private plausible(a: Fix, b: Fix): boolean {
    const dtS = (b.timeMs - a.timeMs) / 1000;
    return haversineM(a, b) <= this.opts.maxSpeedMps * dtS + this.opts.noiseM;
  }

  private accept(fix: Fix, rx: number | undefined): void {
    this.last = fix;
    this.lastRx = rx;
    this.acceptedCount++;
  }
}

/** No bounds beyond isSane (callers that judge positions only). */
const NO_BOUNDS: FieldBounds = { maxSpeedMps: Infinity, minAltM: -Infinity, maxAltM: Infinity, maxSats: Infinity, minHdop: 0 };

/**
 * Default bounds per profile. Speed: above the profile's fastest movement
 * (SPEED_PROFILES) with a margin for Doppler noise. Altitude: the Dead Sea
 * shore (-430 m) to above Everest. Satellites: a four-constellation receiver
 * uses at most ~60 (the NMEA field holds 2 digits: 99 is noise). HDOP: no
 * geometry gives less than ~0.5; 0 means "unknown".
 */
export const FIELD_BOUNDS: Record<keyof typeof SPEED_PROFILES, FieldBounds> = {
  foot: { maxSpeedMps: 15, minAltM: -500, maxAltM: 9000, maxSats: 64, minHdop: 0.3 },
  vehicle: { maxSpeedMps: 90, minAltM: -500, maxAltM: 9000, maxSats: 64, minHdop: 0.3 },
};

/**
 * Values no receiver means: non-finite numbers, out-of-range coordinates,
 * modes other than 2/3 and (0, 0), which is what a decoder gives for empty
 * position fields rather than a place anyone patrols.
 */
function isSane(fix: Fix): boolean {
  const { timeMs, lat, lon } = fix;
  if (!Number.isFinite(timeMs) || !Number.isFinite(lat) || !Number.isFinite(lon)) return false;
  if (lat < -90 || lat > 90 || lon < -180 || lon > 180) return false;
  if (lat === 0 && lon === 0) return false;
  if (!Number.isInteger(fix.mode) || fix.mode < 0 || fix.mode > 3) return false;
  if (fix.hdop !== undefined && !(Number.isFinite(fix.hdop) && fix.hdop >= 0)) return false;
  return true;
}
