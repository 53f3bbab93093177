import type { Fields } from './fields.js';
import { constellationOfId, constellationOfSystemId, constellationOfTalker } from './sentences.js';
import { CONSTELLATIONS, type Constellation, type GnssSummary } from './types.js';

/**
 * Satellites used (GSA) and in view (GSV) per constellation.
 *
 * A run of consecutive GSA sentences is one solution (u-blox sends one GNGSA
 * per system, SiRF a GPGSA then a BDGSA); a run of consecutive GSV sentences
 * is one sky view, possibly spread over several cycles, so the last complete
 * view is kept. A satellite reported on several signals (NMEA 4.10 signal id,
 * the field after the last satellite) counts once.
 */

const INDEX: Record<Constellation, number> = { gps: 0, glonass: 1, galileo: 2, beidou: 3, qzss: 4 };

export class SatelliteTracker {
  private readonly used = new Int32Array(5);
  private readonly inView = new Int32Array(5);
  private readonly viewing = new Int32Array(5);
  private usedKnown = false;
  private viewKnown = false;
  private inGsaRun = false;
  private inGsvRun = false;
  /** constellation index * 1024 + satellite id, of the sky view being collected (dedup across signals) */
  private readonly seen = new Int32Array(256);
  private seenCount = 0;

  gsa(f: Fields): void {
    if (!this.inGsaRun) {
      this.used.fill(0);
      this.inGsaRun = true;
    }
    this.usedKnown = true;
    const bySystem = f.count === 19 ? constellationOfSystemId(f.atoi(18)) : undefined;
    const byTalker = bySystem ?? constellationOfTalker(f.charAt(0, 0), f.charAt(0, 1));
    for (let i = 3; i <= 14; i++) {
      const id = f.atoi(i);
      if (id <= 0) continue;
      const c = byTalker ?? constellationOfId(id);
      if (c !== undefined) this.used[INDEX[c]]++;
    }
  }

  gsv(f: Fields, part: number, total: number): void {
    if (!this.inGsvRun) {
      this.viewing.fill(0);
      this.seenCount = 0;
      this.inGsvRun = true;
    }
    const byTalker = constellationOfTalker(f.charAt(0, 0), f.charAt(0, 1));
    const end = f.count - (f.count % 4); // the NMEA 4.10 signal id is not a satellite
    for (let i = 4; i < end; i += 4) {
      const id = f.atoi(i);
      if (id <= 0) continue;
      const c = byTalker ?? constellationOfId(id);
      if (c === undefined) continue;
      const k = INDEX[c];
      const key = k * 1024 + (id & 1023);
      if (this.seenBefore(key)) continue;
      this.viewing[k]++;
    }
    if (part >= total) {
      this.inView.set(this.viewing);
      this.viewKnown = true;
    }
  }

  private seenBefore(key: number): boolean {
    const seen = this.seen;
    for (let i = 0; i < this.seenCount; i++) if (seen[i] === key) return true;
    if (this.seenCount < seen.length) seen[this.seenCount++] = key;
    return false;
  }

  /** Ends a GSA or GSV run when another sentence comes. */
  afterSentence(wasGsa: boolean, wasGsv: boolean): void {
    if (!wasGsa) this.inGsaRun = false;
    if (!wasGsv) {
      if (this.inGsvRun) {
        // A run cut short still tells what was seen.
        this.inView.set(this.viewing);
        this.viewKnown = true;
      }
      this.inGsvRun = false;
    }
  }

  summary(mode: number, hdop: number): GnssSummary {
    const g: GnssSummary = { mode: mode >= 0 && mode <= 3 ? (mode as 0 | 1 | 2 | 3) : 0, sats: {} };
    if (hdop >= 0) g.hdop = hdop;
    if (!this.usedKnown && !this.viewKnown) return g;
    for (let k = 0; k < 5; k++) {
      const used = this.used[k]!;
      const inView = this.inView[k]!;
      if (used > 0 || inView > 0) g.sats[CONSTELLATIONS[k]!] = { used, inView: Math.max(inView, used) };
    }
    return g;
  }
}
