import type { StoredFix } from './track-store.js';

export interface Stop {
  device: string;
  lat: number;
  lon: number;
  fromMs: number;
  toMs: number;
  durationS: number;
}

/** Great-circle distance in metres (haversine). */
export function distanceM(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const r = Math.PI / 180;
  const dLat = (bLat - aLat) * r;
  const dLon = (bLon - aLon) * r;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(aLat * r) * Math.cos(bLat * r) * Math.sin(dLon / 2) ** 2;
  return 2 * 6_371_000 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Stops of one device's time-ordered fixes: stretches that stay within
 * `radiusM` of where they began for at least `minS` seconds. A gap in the
 * fixes (no fix for `minS`) within the radius counts as stopped too.
 */
export function findStops(fixes: StoredFix[], radiusM = 30, minS = 60): Stop[] {
  const out: Stop[] = [];
  let i = 0;
  while (i < fixes.length) {
    const a = fixes[i]!;
    let j = i + 1;
    while (j < fixes.length && distanceM(a.lat, a.lon, fixes[j]!.lat, fixes[j]!.lon) <= radiusM) j++;
    // Walking in and out of the circle is not stopping: trim fixes that still move (over 0.5 m/s to the next).
    let s = i;
    let e = j - 1;
    while (s < e && speedBetween(fixes[s]!, fixes[s + 1]!) > 0.5) s++;
    while (e > s && speedBetween(fixes[e - 1]!, fixes[e]!) > 0.5) e--;
    const first = fixes[s]!;
    const last = fixes[e]!;
    const dur = (last.timeMs - first.timeMs) / 1000;
    if (dur >= minS) {
      out.push({ device: a.device, lat: first.lat, lon: first.lon, fromMs: first.timeMs, toMs: last.timeMs, durationS: Math.round(dur) });
      i = j;
    } else {
      i++;
    }
  }
  return out;
}

function speedBetween(a: StoredFix, b: StoredFix): number {
  const dt = (b.timeMs - a.timeMs) / 1000;
  return dt > 0 ? distanceM(a.lat, a.lon, b.lat, b.lon) / dt : 0;
}
