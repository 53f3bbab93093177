import { BwcError } from '../../common/errors.js';

/**
 * Measures how far the system and camera clocks are from GNSS time.
 *
 * A GNSS sample pairs a fix time with the system time the fix was read.
 * The fix reaches us late (UART buffering, sentence assembly, event loop), so
 * each sample's system−GNSS offset is the true offset plus a delay that is
 * never negative: the minimum over recent samples is the best estimate, as
 * NTP's clock filter takes the sample with the least delay. One late sample
 * changes nothing.
 *
 * A camera sample pairs the camera clock as read over the control channel
 * with the system time the reply arrived: the reading is older than the
 * arrival, so system−camera is the true offset plus a delay too, and the
 * minimum again is the estimate.
 *
 * A clock jump (system clock stepped by NTP or an RTC reset, camera clock
 * set) is a new offset that persists: `confirmSamples` consecutive samples
 * beyond `jumpThresholdMs` from the estimate that agree with each other. The
 * estimate then restarts from them, so it follows the jump at once rather
 * than after the window, and the jump is queued for detectJump().
 */

export type SkewClock = 'system-gnss' | 'system-camera';

export interface ClockJump {
  /** which offset changed: system vs GNSS, or system vs camera */
  clock: SkewClock;
  /** estimate before the jump, ms (system minus the other clock) */
  fromMs: number;
  /** estimate after the jump, ms */
  toMs: number;
  /** toMs − fromMs */
  deltaMs: number;
  /** system time of the sample that confirmed the jump */
  atSystemMs: number;
}

export interface ClockSkewOptions {
  /** recent samples kept per clock (default 16) */
  windowSize?: number;
  /** an offset change larger than this is a jump, ms (default 1000) */
  jumpThresholdMs?: number;
  /** samples that must agree before a jump is believed (default 3) */
  confirmSamples?: number;
  /** GNSS time counts as valid for this long after its last sample, ms of system time (default 10 000) */
  gnssStaleMs?: number;
}

export interface ClockSkewSnapshot {
  systemMinusGnssMs?: number;
  cameraMinusGnssMs?: number;
  /** the camera clock against the system clock, known even without GNSS */
  cameraMinusSystemMs?: number;
  /** a GNSS time reference exists and is recent */
  gnssValid: boolean;
}

class OffsetFilter {
  private window: number[] = [];
  private suspects: number[] = [];
  lastSystemMs: number | undefined;

  constructor(
    private readonly clock: SkewClock,
    private readonly opts: Required<ClockSkewOptions>,
    private readonly onJump: (j: ClockJump) => void,
  ) {}

  get estimate(): number | undefined {
    return this.window.length === 0 ? undefined : Math.min(...this.window);
  }

  add(offsetMs: number, systemMs: number): void {
    this.lastSystemMs = systemMs;
    const est = this.estimate;
    if (est === undefined || Math.abs(offsetMs - est) <= this.opts.jumpThresholdMs) {
      this.suspects = [];
      this.push(offsetMs);
      return;
    }
    // Far from the estimate: a late sample, a bad one, or a jump. Only a run
    // of agreeing samples is a jump.
    const first = this.suspects[0];
    if (first !== undefined && Math.abs(offsetMs - first) > this.opts.jumpThresholdMs) this.suspects = [];
    this.suspects.push(offsetMs);
    if (this.suspects.length < this.opts.confirmSamples) return;
    this.window = [];
    for (const s of this.suspects) this.push(s);
    this.suspects = [];
    const to = this.estimate!;
    this.onJump({ clock: this.clock, fromMs: est, toMs: to, deltaMs: to - est, atSystemMs: systemMs });
  }

  private push(offsetMs: number): void {
    this.window.push(offsetMs);
    if (this.window.length > this.opts.windowSize) this.window.shift();
  }
}

export class ClockSkew {
  private readonly opts: Required<ClockSkewOptions>;
  private readonly gnss: OffsetFilter;
  private readonly camera: OffsetFilter;
  private jumps: ClockJump[] = [];
  private rejected = 0;

  constructor(opts: ClockSkewOptions = {}) {
    const o = { windowSize: 16, jumpThresholdMs: 1000, confirmSamples: 3, gnssStaleMs: 10_000, ...opts };
    for (const k of ['windowSize', 'confirmSamples'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new BwcError('BAD_CLOCK_OPTIONS', `clock skew: ${k} must be a positive integer, got ${String(o[k])}`);
    }
    for (const k of ['jumpThresholdMs', 'gnssStaleMs'] as const) {
      if (!Number.isFinite(o[k]) || o[k] <= 0) throw new BwcError('BAD_CLOCK_OPTIONS', `clock skew: ${k} must be a positive number, got ${String(o[k])}`);
    }
    this.opts = o;
    const onJump = (j: ClockJump) => this.jumps.push(j);
    this.gnss = new OffsetFilter('system-gnss', o, onJump);
    this.camera = new OffsetFilter('system-camera', o, onJump);
  }

  /** A fix time (GNSS clock) and the system time it was read. */
  observeGnss(gnssMs: number, systemMs: number): void {
    if (this.usable(gnssMs, systemMs)) this.gnss.add(systemMs - gnssMs, systemMs);
  }

  /** The camera clock as read over the control channel and the system time the reply arrived. */
  observeCamera(cameraMs: number, systemMs: number): void {
    if (this.usable(cameraMs, systemMs)) this.camera.add(systemMs - cameraMs, systemMs);
  }

  /** Samples ignored because a time was not a finite number. */
  get rejectedSamples(): number {
    return this.rejected;
  }

  /**
   * A measurement must never break the data path that feeds it: a sample
   * with a non-finite time is counted and ignored, not thrown.
   */
  private usable(otherMs: number, systemMs: number): boolean {
    if (Number.isFinite(otherMs) && Number.isFinite(systemMs)) return true;
    this.rejected++;
    return false;
  }

  /**
   * The current estimates. cameraMinusGnss needs both clocks (it is
   * derived through the system clock). With `nowSystemMs`, gnssValid also
   * requires a GNSS sample within gnssStaleMs of it; without, any sample.
   */
  snapshot(nowSystemMs?: number): ClockSkewSnapshot {
    const sysGnss = this.gnss.estimate;
    const sysCam = this.camera.estimate;
    const out: ClockSkewSnapshot = { gnssValid: false };
    if (sysCam !== undefined) out.cameraMinusSystemMs = 0 - sysCam; // not -sysCam: no -0
    if (sysGnss !== undefined) {
      out.systemMinusGnssMs = sysGnss;
      const last = this.gnss.lastSystemMs!;
      out.gnssValid = nowSystemMs === undefined || Math.abs(nowSystemMs - last) <= this.opts.gnssStaleMs;
      // camera − gnss = (system − gnss) − (system − camera)
      if (sysCam !== undefined) out.cameraMinusGnssMs = sysGnss - sysCam;
    }
    return out;
  }

  /**
   * The clock jumps confirmed since the last call, oldest first (each one a
   * CLOCK_JUMP event for the device). Draining: a jump is returned once.
   */
  detectJump(): ClockJump[] {
    const out = this.jumps;
    this.jumps = [];
    return out;
  }
}
