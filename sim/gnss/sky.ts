import { SeededRandom } from './random.js';

/** The constellations a multi-GNSS receiver in China tracks, with their NMEA 4.10 ids. */
export type Constellation = 'GPS' | 'GLONASS' | 'BeiDou';

export interface SkySatellite {
  constellation: Constellation;
  /** NMEA satellite id: GPS 1-32, GLONASS 65-96, BeiDou 1-63 (NMEA 4.10 numbering). */
  prn: number;
  elevation: number;
  azimuth: number;
  /** C/N0 dB-Hz, absent when not tracked. */
  snr?: number;
}

const COUNTS: Record<Constellation, [number, number]> = { GPS: [9, 12], GLONASS: [6, 9], BeiDou: [10, 14] };
const PRN_RANGE: Record<Constellation, [number, number]> = { GPS: [1, 32], GLONASS: [65, 96], BeiDou: [1, 63] };
export const CONSTELLATIONS: Constellation[] = ['GPS', 'GLONASS', 'BeiDou'];

/**
 * A slowly turning sky: satellites in view per constellation, their
 * elevation and azimuth drifting as orbits do (a few degrees per minute
 * at most), signal strength following elevation with noise.
 */
export class Sky {
  private readonly rnd: SeededRandom;
  private readonly sats: Array<SkySatellite & { el0: number; az0: number; dEl: number; dAz: number }> = [];

  constructor(seed: number) {
    this.rnd = new SeededRandom(seed ^ 0x5a5a);
    for (const c of CONSTELLATIONS) {
      const [lo, hi] = COUNTS[c];
      const n = this.rnd.int(lo, hi);
      const [pmin, pmax] = PRN_RANGE[c];
      const prns = new Set<number>();
      while (prns.size < n) prns.add(this.rnd.int(pmin, pmax));
      for (const prn of [...prns].sort((a, b) => a - b)) {
        const el0 = this.rnd.range(5, 85);
        const az0 = this.rnd.range(0, 360);
        this.sats.push({ constellation: c, prn, elevation: el0, azimuth: az0, el0, az0, dEl: this.rnd.range(-2, 2), dAz: this.rnd.range(-4, 4) });
      }
    }
  }

  /** The sky at `timeMs`, in a fixed order per constellation. */
  at(timeMs: number): SkySatellite[] {
    const minutes = timeMs / 60_000;
    return this.sats.map((s) => {
      // Bounded drift: a slow sine keeps elevations between 3° and 89°.
      const elevation = Math.round(Math.min(89, Math.max(3, s.el0 + 10 * Math.sin((minutes * s.dEl) / 40))));
      const azimuth = Math.round((((s.az0 + minutes * s.dAz) % 360) + 360) % 360);
      const snrBase = 18 + elevation * 0.3;
      const snr = elevation < 8 && this.rnd.chance(0.5) ? undefined : Math.round(Math.min(50, snrBase + this.rnd.normal() * 2));
      return { constellation: s.constellation, prn: s.prn, elevation, azimuth, snr };
    });
  }
}

/**
 * Which satellites a fix with `used` satellites used: the strongest, spread
 * over the constellations as a receiver would pick them.
 */
export function pickUsed(sky: SkySatellite[], used: number): Map<Constellation, number[]> {
  const tracked = sky.filter((s) => s.snr !== undefined).sort((a, b) => b.snr! - a.snr! || a.prn - b.prn);
  const out = new Map<Constellation, number[]>(CONSTELLATIONS.map((c) => [c, []]));
  for (const s of tracked.slice(0, used)) {
    const list = out.get(s.constellation)!;
    if (list.length < 12) list.push(s.prn);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}
