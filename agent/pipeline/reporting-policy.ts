import type { Fix } from '../../protocol/fix.js';
import { BwcError } from '../../common/errors.js';
import { haversineM, headingDiffDeg } from './geo.js';

export interface ReportingOptions {
  /** interval while the camera records, seconds (default 1) */
  recordingIntervalS: number;
  /** interval while moving and not recording, seconds (default 5) */
  movingIntervalS: number;
  /** heartbeat interval while stationary, seconds (default 60) */
  stationaryIntervalS: number;
  /** report when this far from the last reported position, metres (0: off) */
  distanceM: number;
  /** report when the course turned this much since the last report, degrees (0: off) */
  headingChangeDeg: number;
  /** below this speed the wearer is stationary, m/s */
  stationarySpeedMps: number;
  /**
   * Distance and heading triggers never fire sooner than this after the last
   * report, seconds (default: min(1, recordingIntervalS)). At 10 Hz, course
   * noise would otherwise report every epoch.
   */
  minIntervalS?: number;
}

export const DEFAULT_REPORTING: Readonly<Required<ReportingOptions>> = Object.freeze({
  recordingIntervalS: 1,
  movingIntervalS: 5,
  stationaryIntervalS: 60,
  distanceM: 50,
  headingChangeDeg: 30,
  stationarySpeedMps: 0.5,
  minIntervalS: 1,
});

export type ImmediateReason = 'sos' | 'recording' | 'query';

/** Why the last offered fix was reported (for logs, metrics and tests). */
export type ReportReason = 'first' | 'immediate' | 'recording-change' | 'interval' | 'distance' | 'heading';

/**
 * Fix times are epoch times: at 5 Hz, 5 fixes are exactly 1000 ms apart, but
 * receivers that stamp with sub-millisecond jitter give 999 ms. Counting an
 * interval as elapsed this close to its end keeps a 1 s rate at 1 Hz instead
 * of falling to every other fix.
 */
const INTERVAL_SLACK_MS = 50;

/** Shortest span of positions a speed is derived from when the receiver gives none. */
export const SPEED_BASELINE_MS = 15_000;

/**
 * Decides which accepted fixes of one device are reported (buffered and
 * published). A pure function of the fixes and events given to it: every
 * time it uses is a fix time, never the system clock, so the same inputs
 * always give the same reports.
 */
export class ReportingPolicy {
  private readonly opts: Required<ReportingOptions>;
  private lastReported: Fix | undefined;
  private lastOffered: Fix | undefined;
  private immediate: ImmediateReason | undefined;
  private wasRecording: boolean | undefined;
  private temporary: { intervalMs: number; fromMs: number; untilMs: number } | undefined;
  private stationary = false;
  /** start of the current baseline for position-derived speed */
  private speedAnchor: Fix | undefined;
  private reason: ReportReason | null = null;

  constructor(opts: ReportingOptions) {
    const o: Required<ReportingOptions> = { minIntervalS: Math.min(1, opts.recordingIntervalS), ...opts };
    const positive = ['recordingIntervalS', 'movingIntervalS', 'stationaryIntervalS', 'minIntervalS'] as const;
    for (const k of ['distanceM', 'headingChangeDeg'] as const) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || o[k] < 0) {
        throw new BwcError('BAD_REPORTING_OPTIONS', `reporting policy: ${k} must be 0 (off) or a positive number, got ${String(o[k])}`);
      }
    }
    for (const k of positive) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k]) || o[k] <= 0) {
        throw new BwcError('BAD_REPORTING_OPTIONS', `reporting policy: ${k} must be a positive number, got ${String(o[k])}`);
      }
    }
    if (typeof o.stationarySpeedMps !== 'number' || !Number.isFinite(o.stationarySpeedMps) || o.stationarySpeedMps < 0) {
      throw new BwcError('BAD_REPORTING_OPTIONS', `reporting policy: stationarySpeedMps must be a number ≥ 0, got ${String(o.stationarySpeedMps)}`);
    }
    this.opts = o;
  }

  /** Why the last offered fix was reported, or null if it was not. */
  get lastReason(): ReportReason | null {
    return this.reason;
  }

  /** The most recent fix offered: what "the last known position" is right now. */
  get lastKnown(): Fix | undefined {
    return this.lastOffered;
  }

  /** Whether the wearer counted as stationary at the last offered fix. */
  get isStationary(): boolean {
    return this.stationary;
  }

  /**
   * Offers one accepted fix; true if it is to be reported. `ctx.recording`
   * is the camera's state at this fix: a change of it is itself a reason to
   * report at once.
   */
  offer(fix: Fix, ctx: { recording: boolean }): boolean {
    this.lastOffered = fix;
    this.stationary = this.judgeStationary(fix);
    const recordingChanged = this.wasRecording !== undefined && this.wasRecording !== ctx.recording;
    this.wasRecording = ctx.recording;
    this.reason = this.decide(fix, ctx.recording, recordingChanged);
    if (this.reason === null) return false;
    this.lastReported = fix;
    this.immediate = undefined;
    return true;
  }

  /**
   * The next offered fix is reported whatever the rate (SOS, recording
   * started/stopped, a position query). Returns the last known fix when it
   * was not reported yet, for the caller to report right away rather than
   * wait for the next epoch (it is stale by up to one fix interval, and the
   * next fix follows); it then counts as reported. Returns undefined when
   * the last known fix already went out: reporting it again would publish
   * one fix twice under two seqs.
   */
  requestImmediate(reason: ImmediateReason): Fix | undefined {
    this.immediate = reason;
    if (!this.lastOffered || this.lastOffered === this.lastReported) return undefined;
    this.lastReported = this.lastOffered;
    return this.lastOffered;
  }

  /**
   * Temporary tracking (JT/T 808 0x8202): report at least every intervalS
   * for durationS from fix time fromMs, then return to the adaptive rate by
   * itself. It only ever makes reporting denser: the faster of the override
   * and the adaptive interval wins. intervalS or durationS 0 cancels it, as
   * in 0x8202.
   */
  setTemporary(intervalS: number, durationS: number, fromMs: number): void {
    for (const [name, v] of [['intervalS', intervalS], ['durationS', durationS], ['fromMs', fromMs]] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new BwcError('BAD_TRACKING_OVERRIDE', `temporary tracking: ${name} must be a finite number ≥ 0, got ${String(v)}`);
      }
    }
    if (intervalS === 0 || durationS === 0) {
      this.temporary = undefined;
      return;
    }
    this.temporary = { intervalMs: intervalS * 1000, fromMs, untilMs: fromMs + durationS * 1000 };
  }

  /** Whether a temporary override applies at fix time tMs. */
  temporaryActiveAt(tMs: number): boolean {
    const tmp = this.temporary;
    return tmp !== undefined && tMs >= tmp.fromMs && tMs < tmp.untilMs;
  }

  /** The reporting interval in force at fix time tMs, milliseconds. */
  intervalMsAt(tMs: number, recording: boolean): number {
    const o = this.opts;
    const adaptive = (recording ? o.recordingIntervalS : this.stationary ? o.stationaryIntervalS : o.movingIntervalS) * 1000;
    if (this.temporaryActiveAt(tMs)) return Math.min(adaptive, this.temporary!.intervalMs);
    if (this.temporary !== undefined && tMs >= this.temporary.untilMs) this.temporary = undefined; // it ends by itself
    return adaptive;
  }

  private decide(fix: Fix, recording: boolean, recordingChanged: boolean): ReportReason | null {
    const last = this.lastReported;
    if (last === undefined) return 'first';
    if (this.immediate !== undefined) return 'immediate';
    if (recordingChanged) return 'recording-change';
    const sinceMs = fix.timeMs - last.timeMs;
    if (sinceMs + INTERVAL_SLACK_MS >= this.intervalMsAt(fix.timeMs, recording)) return 'interval';
    if (sinceMs + INTERVAL_SLACK_MS < this.opts.minIntervalS * 1000) return null;
    if (this.opts.distanceM > 0 && haversineM(last, fix) >= this.opts.distanceM) return 'distance';
    // Course means nothing at a standstill: a stationary receiver's course
    // swings at random, so turns count only while moving.
    if (this.opts.headingChangeDeg > 0 && !this.stationary && fix.course !== undefined && last.course !== undefined &&
        headingDiffDeg(fix.course, last.course) >= this.opts.headingChangeDeg) return 'heading';
    return null;
  }

  /**
   * Stationary when the speed is below the threshold: the receiver's own
   * speed when it gives one (Doppler, far less noisy than position
   * differences), else the average speed over at least SPEED_BASELINE_MS of
   * positions. Over one second, metres of position noise look like a walk;
   * over 15 s they average out below a walking pace.
   */
  private judgeStationary(fix: Fix): boolean {
    if (fix.speed !== undefined) {
      this.speedAnchor = undefined;
      return fix.speed < this.opts.stationarySpeedMps;
    }
    const anchor = this.speedAnchor;
    if (anchor === undefined || fix.timeMs < anchor.timeMs) {
      this.speedAnchor = fix;
      return this.stationary;
    }
    const dtMs = fix.timeMs - anchor.timeMs;
    if (dtMs < SPEED_BASELINE_MS) return this.stationary;
    this.speedAnchor = fix;
    return haversineM(anchor, fix) / (dtMs / 1000) < this.opts.stationarySpeedMps;
  }
}
