import type { Fix } from '../../protocol/fix.js';
import { GnssLineFaults } from '../faults/gnss-faults.js';
import { NmeaWriter } from './nmea-writer.js';
import { Patrol } from './patrol.js';
import type { PortEndpoint } from './port-endpoint.js';
import type { ReplayEpoch } from './replay.js';

/** What one camera's GNSS port has put on the line: fixes with a valid position, first and last fix times. */
export interface EmittedCount {
  fixes: number;
  first?: string;
  last?: string;
  /** Every fix time put on the line, when the feed was asked to keep them (tests: a loaded machine skips seconds). */
  times?: string[];
}

/** One epoch ready to send: its bytes, and the fix time if it carries a valid position. */
interface Epoch {
  text: string;
  fixTimeMs?: number;
  /** Position sentences present but their time unknown (replay without a date). */
  validWithoutTime?: boolean;
}

export type GnssFeedSource =
  | { kind: 'patrol'; rateHz: 1 | 5 | 10; seed: number; centre: { lat: number; lon: number }; vehicle?: boolean }
  | { kind: 'replay'; epochs: ReplayEpoch[]; speed: number };

/**
 * Sends one camera's receiver output to its port on the receiver's own
 * schedule: a patrol epoch every 1/rate s with times from the wall clock (as
 * a receiver's time is true time), or a capture at its recorded pace. Writes
 * go through the line faults. Epochs are never queued without bound: a port
 * nobody reads drops them, as a UART does.
 */
export class GnssFeed {
  readonly faults: GnssLineFaults;
  readonly emitted: EmittedCount = { fixes: 0 };
  /** Each simulated fix as the receiver computes it (the camera draws it on its frames). */
  onFix: ((fix: Fix) => void) | undefined;
  /** Epochs not written because the port was unplugged or backed up. */
  dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly writer?: NmeaWriter;
  private readonly periodMs: number;
  private startWall = 0;
  private k = 0;
  private replayIndex = 0;
  private replayLapStart = 0;
  /** The text of the epoch in flight when an unplug cuts the line mid-sentence. */
  private lastText = '';

  constructor(private readonly endpoint: PortEndpoint, private readonly source: GnssFeedSource, seed: number, opts: { keepTimes?: boolean } = {}) {
    this.faults = new GnssLineFaults(seed);
    if (opts.keepTimes) this.emitted.times = [];
    if (source.kind === 'patrol') {
      this.periodMs = 1000 / source.rateHz;
      this.writer = new NmeaWriter({ rateHz: source.rateHz, seed });
    } else this.periodMs = 0;
    this.patrolOpts = source.kind === 'patrol' ? source : undefined;
  }

  private readonly patrolOpts: Extract<GnssFeedSource, { kind: 'patrol' }> | undefined;
  private patrolInstance: Patrol | undefined;

  start(): void {
    if (this.running) return;
    this.running = true;
    const now = Date.now();
    if (this.patrolOpts) {
      // Epochs fall on whole multiples of the period, as receivers align them to GNSS time.
      this.startWall = Math.ceil(now / this.periodMs) * this.periodMs;
      this.patrolInstance = new Patrol({
        centreLat: this.patrolOpts.centre.lat,
        centreLon: this.patrolOpts.centre.lon,
        seed: this.patrolOpts.seed,
        rateHz: this.patrolOpts.rateHz,
        startMs: this.startWall,
        vehicle: this.patrolOpts.vehicle,
      });
      this.k = 0;
    } else {
      this.startWall = now;
      this.replayLapStart = now;
    }
    this.schedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The first part of the epoch being sent: what a pulled cable leaves on the line. */
  partialSentence(): string {
    const t = this.lastText || '$GNRMC,000000.000,A,3002.';
    return t.slice(0, Math.max(1, Math.floor(t.length * 0.37)));
  }

  private schedule(): void {
    if (!this.running) return;
    const due = this.nextDue();
    this.timer = setTimeout(() => this.tick(), Math.max(0, due - Date.now()));
  }

  private nextDue(): number {
    if (this.patrolOpts) return this.startWall + this.k * this.periodMs;
    const src = this.source as Extract<GnssFeedSource, { kind: 'replay' }>;
    const e = src.epochs[this.replayIndex]!;
    return this.replayLapStart + e.offsetMs / src.speed;
  }

  private tick(): void {
    if (!this.running) return;
    const now = Date.now();
    if (this.patrolOpts) {
      // Behind by more than a second (a stalled event loop): the receiver went on without us; skip what is lost.
      while (now - (this.startWall + this.k * this.periodMs) > 1000) {
        this.patrolEpoch(now);
        this.k++;
        this.dropped++;
      }
      while (this.startWall + this.k * this.periodMs <= now) {
        this.send(this.patrolEpoch(now));
        this.k++;
      }
    } else {
      const src = this.source as Extract<GnssFeedSource, { kind: 'replay' }>;
      while (this.running && this.replayLapStart + src.epochs[this.replayIndex]!.offsetMs / src.speed <= now) {
        this.send(this.replayEpoch(src.epochs[this.replayIndex]!));
        this.replayIndex++;
        if (this.replayIndex >= src.epochs.length) {
          // Loop the capture, a second after its end, so a person can watch it for as long as they like.
          const lastOffset = src.epochs[src.epochs.length - 1]!.offsetMs / src.speed;
          this.replayLapStart += lastOffset + 1000 / src.speed;
          this.replayIndex = 0;
        }
      }
    }
    this.schedule();
  }

  private patrolEpoch(now: number): Epoch {
    const fix: Fix = this.patrolInstance!.next();
    const timeMs = fix.timeMs + this.faults.clockOffsetMs(now);
    const valid = !this.faults.has('no-fix');
    if (valid) this.onFix?.({ ...fix, timeMs });
    return { text: this.writer!.epochText(timeMs, valid ? { ...fix, timeMs } : undefined), fixTimeMs: valid ? timeMs : undefined };
  }

  private replayEpoch(e: ReplayEpoch): Epoch {
    return { text: e.text, fixTimeMs: e.valid ? e.timeMs : undefined, validWithoutTime: e.valid && e.timeMs === undefined };
  }

  private send(epoch: Epoch): void {
    const { text, positionIntact } = this.faults.mangle(epoch.text);
    this.lastText = text;
    const counts = positionIntact && (epoch.fixTimeMs !== undefined || epoch.validWithoutTime);
    const sent = this.endpoint.write(text, () => {
      if (!counts) return;
      this.emitted.fixes++;
      if (epoch.fixTimeMs !== undefined) {
        const iso = new Date(epoch.fixTimeMs).toISOString();
        this.emitted.first ??= iso;
        this.emitted.last = iso;
        this.emitted.times?.push(iso);
      }
    });
    if (!sent) this.dropped++;
  }
}
