import type { Fix } from '../../protocol/fix.js';
import { EARTH_RADIUS_M } from '../../agent/pipeline/geo.js';

/** Yuyao city centre, where the simulator patrols. */
export const ORIGIN = { lat: 30.04, lon: 121.15 };
export const T0 = Date.UTC(2026, 10, 25, 2, 0, 0);

const DEG = 180 / Math.PI;

/** The point `north` and `east` metres from `from` (flat-earth offset: fine over a few km). */
export function offset(from: { lat: number; lon: number }, north: number, east: number): { lat: number; lon: number } {
  return {
    lat: from.lat + (north / EARTH_RADIUS_M) * DEG,
    lon: from.lon + (east / (EARTH_RADIUS_M * Math.cos(from.lat / DEG))) * DEG,
  };
}

export function fixAt(tMs: number, p: { lat: number; lon: number }, extra: Partial<Fix> = {}): Fix {
  return { timeMs: tMs, lat: p.lat, lon: p.lon, mode: 3, hdop: 0.9, sats: 12, ...extra };
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so tests repeat exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A straight walk/drive: `n` fixes every `stepMs`, at `speed` m/s along
 * `courseDeg`, starting at `start` and time `t0`. The course field is set
 * unless `course` is given as a function of the index.
 */
export function straight(opts: {
  n: number; stepMs: number; speed: number; courseDeg: number;
  start?: { lat: number; lon: number }; t0?: number;
  course?: (i: number) => number | undefined; withSpeed?: boolean;
}): Fix[] {
  const start = opts.start ?? ORIGIN, t0 = opts.t0 ?? T0;
  const out: Fix[] = [];
  for (let i = 0; i < opts.n; i++) {
    const d = opts.speed * (i * opts.stepMs) / 1000;
    const p = offset(start, d * Math.cos(opts.courseDeg / DEG), d * Math.sin(opts.courseDeg / DEG));
    const extra: Partial<Fix> = {};
    if (opts.withSpeed !== false) extra.speed = opts.speed;
    const c = opts.course ? opts.course(i) : opts.courseDeg;
    if (c !== undefined) extra.course = c;
    out.push(fixAt(t0 + i * opts.stepMs, p, extra));
  }
  return out;
}
