import { SeededRandom } from '../gnss/random.js';
import { HOSTILE_GNSS_FAULTS, HostileGnss, type HostileGnssFault } from './hostile-gnss.js';

/** GNSS faults a simulated camera can show, each a behaviour switched on and off (hostile-gnss.ts: the receiver lies). */
export type GnssFault = 'unplug' | 'garbage' | 'bad-checksum' | 'no-fix' | 'clock-drift' | HostileGnssFault;
export const GNSS_FAULTS: readonly GnssFault[] = ['unplug', 'garbage', 'bad-checksum', 'no-fix', 'clock-drift', ...HOSTILE_GNSS_FAULTS];

export function isGnssFault(s: string): s is GnssFault {
  return (GNSS_FAULTS as readonly string[]).includes(s);
}

/** Result of passing one epoch through the line faults. */
export interface MangledEpoch {
  text: string;
  /** False when the position sentences (RMC and GGA) were damaged: no decoder may make a fix of them. */
  positionIntact: boolean;
}

export interface LineFaultOptions {
  /** Clock drift, ms gained per second while on (default 20: 1.2 s a minute, plain in a skew report). */
  driftMsPerSec?: number;
  /** Share of epochs whose position sentences are damaged under garbage or bad-checksum (default 0.15). */
  positionDamage?: number;
}

/**
 * The line faults of one camera's GNSS port: garbage bytes (NUL, high bytes,
 * stray `$`, cut sentences), bad checksums, and a receiver clock that drifts.
 * Damage to the position sentences is all-or-nothing per epoch (RMC and GGA
 * together), so that what the simulator counts as emitted fixes stays exact.
 */
export class GnssLineFaults {
  private readonly rnd: SeededRandom;
  private readonly on = new Set<GnssFault>();
  private readonly driftMsPerSec: number;
  private readonly positionDamage: number;
  private driftSinceMs: number | undefined;
  /** What was done, for status and tests. */
  readonly counts = { garbageBursts: 0, badChecksums: 0, damagedEpochs: 0 };
  /** Lies with valid checksums (implausible fields, a lagging GGA, a teleport). */
  readonly hostile = new HostileGnss();

  constructor(seed: number, opts: LineFaultOptions = {}) {
    this.rnd = new SeededRandom(seed ^ 0xfa017);
    this.driftMsPerSec = opts.driftMsPerSec ?? 20;
    this.positionDamage = opts.positionDamage ?? 0.15;
  }

  set(fault: GnssFault, on: boolean, nowMs: number): void {
    if (on) this.on.add(fault);
    else this.on.delete(fault);
    if (fault === 'clock-drift') this.driftSinceMs = on ? nowMs : undefined;
  }

  has(fault: GnssFault): boolean {
    return this.on.has(fault);
  }

  active(): GnssFault[] {
    return [...this.on];
  }

  /** How far the receiver's clock is off at wall time `nowMs` (ms; 0 without the drift fault). */
  clockOffsetMs(nowMs: number): number {
    if (this.driftSinceMs === undefined) return 0;
    // Whole milliseconds: NMEA times carry no finer.
    return Math.round(((nowMs - this.driftSinceMs) / 1000) * this.driftMsPerSec);
  }

  /** Damages an epoch's sentences (lines ended by CRLF) as the active faults say. */
  mangle(original: string): MangledEpoch {
    const text = this.hostile.rewrite(original, this.on);
    const garbage = this.on.has('garbage');
    const badSum = this.on.has('bad-checksum');
    if (!garbage && !badSum) return { text, positionIntact: true };
    const lines = text.split('\r\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const damagePosition = this.rnd.chance(this.positionDamage);
    if (damagePosition) this.counts.damagedEpochs++;
    const out: string[] = [];
    for (const line of lines) {
      const isPosition = /^\$..(RMC|GGA),/.test(line);
      let l = line;
      if (isPosition ? damagePosition : badSum && this.rnd.chance(0.1)) {
        if (garbage && (!badSum || this.rnd.chance(0.5))) l = this.cutOrSpoil(l);
        else l = this.breakChecksum(l);
      }
      if (garbage && this.rnd.chance(0.08)) out.push(this.junk());
      out.push(l + '\r\n');
    }
    return { text: out.join(''), positionIntact: !damagePosition };
  }

  /** A line-noise burst: NULs, high bytes, a stray `$`, sometimes a line end. */
  private junk(): string {
    this.counts.garbageBursts++;
    const n = this.rnd.int(1, 24);
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = this.rnd.next();
      s += r < 0.2 ? '\0' : r < 0.25 ? '$' : String.fromCharCode(r < 0.6 ? this.rnd.int(0x80, 0xff) : this.rnd.int(0x20, 0x7e));
    }
    return this.rnd.chance(0.3) ? s + '\r\n' : s;
  }

  /** Noise inside a sentence: bytes replaced, so its checksum no longer holds. */
  private cutOrSpoil(line: string): string {
    this.counts.garbageBursts++;
    const star = line.lastIndexOf('*');
    const end = star > 1 ? star : line.length;
    const at = this.rnd.int(1, Math.max(1, end - 1));
    // Flip the low bit of one body byte: a different byte, and the XOR is off by one bit.
    const spoiled = line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 0x01) + line.slice(at + 1);
    return spoiled === line ? this.breakChecksum(line) : spoiled;
  }

  private breakChecksum(line: string): string {
    this.counts.badChecksums++;
    const m = /\*([0-9A-F]{2})$/.exec(line);
    if (!m) return line + '*00';
    const wrong = (parseInt(m[1]!, 16) ^ this.rnd.int(1, 255)).toString(16).toUpperCase().padStart(2, '0');
    return line.slice(0, -2) + wrong;
  }
}
