import type { Fix } from '../../protocol/fix.js';

/** Seeded random tracks for the property tests: the same seed, the same track. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  /** mulberry32 */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  range(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  int(a: number, b: number): number {
    return Math.floor(this.range(a, b + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  normal(): number {
    const u = this.next() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

export type TrackKind = 'walking' | 'vehicle' | 'noisy' | 'stationary' | 'gaps' | 'partial' | 'antimeridian' | 'pole' | 'extremes';
export const TRACK_KINDS: readonly TrackKind[] = ['walking', 'vehicle', 'noisy', 'stationary', 'gaps', 'partial', 'antimeridian', 'pole', 'extremes'];

const M_PER_DEG = 111_320;

/** n fixes of the given kind. Values are arbitrary doubles, not on the codec's grid. */
export function randomTrack(rng: Rng, kind: TrackKind, n: number): Fix[] {
  let lat = kind === 'pole' ? rng.pick([89.9999, -89.9999]) : rng.range(-60, 60);
  let lon = kind === 'antimeridian' ? 179.9995 : rng.range(-179, 179);
  let t = Date.UTC(2026, 0, 1) + rng.int(0, 300 * 86400) * 1000 + rng.int(0, 999);
  let alt = kind === 'extremes' ? rng.pick([-430.37, 8848.86, -0.01]) : rng.range(-20, 400);
  let heading = rng.range(0, 360);
  const baseSpeed = kind === 'vehicle' ? rng.range(5, 30) : kind === 'stationary' ? 0 : kind === 'extremes' ? rng.range(0, 340) : rng.range(0.8, 1.8);
  const period = kind === 'vehicle' ? rng.pick([200, 1000]) : 1000;
  const noise = kind === 'noisy' ? 30 : kind === 'stationary' ? 0.3 : 3;
  const sats = rng.int(4, 30);
  const out: Fix[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      let dt = period;
      if (kind === 'gaps' && rng.chance(0.1)) dt = rng.pick([rng.int(1, 999), rng.int(2000, 120_000), rng.int(3_600_000, 40_000_000)]);
      if (kind === 'noisy' && rng.chance(0.3)) dt += rng.int(-120, 120);
      t += Math.max(1, dt);
      heading = (heading + rng.normal() * (kind === 'vehicle' ? 5 : 25) + 360) % 360;
      const d = (baseSpeed * dt) / 1000;
      const rad = (heading * Math.PI) / 180;
      lat += (d * Math.cos(rad)) / M_PER_DEG;
      lon += (d * Math.sin(rad)) / (M_PER_DEG * Math.max(0.01, Math.cos((lat * Math.PI) / 180)));
      alt += rng.normal() * 0.5;
    }
    const nl = clamp(lat + (rng.normal() * noise) / M_PER_DEG, -90, 90);
    let nlon = lon + (rng.normal() * noise) / M_PER_DEG;
    // Crossing ±180° back and forth: the big step is an exception in the column, not an error.
    if (kind === 'antimeridian') nlon = wrapLon(179.9998 + (i % 9) * 0.0001 + rng.normal() * 1e-6);
    else nlon = wrapLon(nlon);
    const fix: Fix = { timeMs: t, lat: nl, lon: nlon, mode: rng.chance(kind === 'noisy' ? 0.3 : 0.02) ? 2 : 3 };
    const opt = kind === 'partial' ? 0.6 : 1;
    if (fix.mode === 3 && rng.chance(opt)) fix.alt = alt + rng.normal() * 2;
    if (rng.chance(opt)) fix.speed = Math.max(0, baseSpeed + rng.normal() * (kind === 'stationary' ? 0.02 : 0.3));
    if (rng.chance(opt)) fix.course = (((heading + rng.normal() * 3) % 360) + 360) % 360;
    if (rng.chance(opt)) fix.hdop = rng.range(0.5, kind === 'noisy' ? 25 : 2.5);
    if (rng.chance(opt)) fix.sats = Math.max(0, sats + (rng.chance(0.05) ? rng.int(-2, 2) : 0));
    if (kind === 'extremes' && i % 5 === 0) {
      fix.lat = rng.pick([90, -90, 0, 89.99999999]);
      fix.lon = rng.pick([180, -180, 0, 179.99999999, -179.99999999]);
      if (fix.course !== undefined) fix.course = rng.pick([0, 359.99, 359.951, 0.04]);
    }
    out.push(fix);
  }
  return out;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function wrapLon(x: number): number {
  let v = x;
  while (v > 180) v -= 360;
  while (v < -180) v += 360;
  return v;
}

/** Consecutive seqs with, now and then, a jump (messages of other kinds took numbers in between). */
export function randomSeqs(rng: Rng, n: number): number[] {
  const seqs: number[] = [];
  let s = rng.int(0, 5_000_000);
  for (let i = 0; i < n; i++) {
    seqs.push(s);
    s += rng.chance(0.1) ? rng.int(2, 500) : 1;
  }
  return seqs;
}

/** Smallest difference between two angles in degrees. */
export function angleDiff(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return Math.min(d, 360 - d);
}
