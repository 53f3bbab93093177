import { columnsOf, type TrackColumns } from './track-columns.js';
import type { StoredFix } from './track-store.js';

export interface Stop {
  device: string;
  lat: number;
  lon: number;
  fromMs: number;
  toMs: number;
  durationS: number;
}

const EARTH_RADIUS_M = 6_371_000;

/** Great-circle distance in metres (haversine). */
export function distanceM(aLat: number, aLon: number, bLat: number, bLon: number): number {
  const r = Math.PI / 180;
  const dLat = (bLat - aLat) * r;
  const dLon = (bLon - aLon) * r;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(aLat * r) * Math.cos(bLat * r) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Stops of one device's time-ordered fixes: stretches that stay within
 * `radiusM` of where they began for at least `minS` seconds. A gap in the
 * fixes (no fix for `minS`) within the radius counts as stopped too.
 */
export function findStops(fixes: StoredFix[], radiusM = 30, minS = 60): Stop[] {
  return fixes.length ? findStopsIn(columnsOf(fixes[0]!.device, fixes), radiusM, minS) : [];
}

/**
 * findStops on columns (a day of one device, 86,400 fixes, in tens of
 * milliseconds). The same stops as with distanceM: "within the radius" is
 * the haversine term against its value at the radius (the distance grows
 * with it), from sines and cosines of the half angles worked out once per
 * fix, and whether a fix still moves to the next is worked out once per fix.
 */
export function findStopsIn(c: Pick<TrackColumns, 'device' | 't' | 'lat' | 'lon'>, radiusM = 30, minS = 60): Stop[] {
  const n = c.t.length;
  const r = Math.PI / 180;
  const sLat = new Float64Array(n);
  const cLat = new Float64Array(n);
  const sLon = new Float64Array(n);
  const cLon = new Float64Array(n);
  const cosLat = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    sLat[i] = Math.sin((c.lat[i]! * r) / 2);
    cLat[i] = Math.cos((c.lat[i]! * r) / 2);
    sLon[i] = Math.sin((c.lon[i]! * r) / 2);
    cLon[i] = Math.cos((c.lon[i]! * r) / 2);
    cosLat[i] = Math.cos(c.lat[i]! * r);
  }
  // distanceM = 2R asin(min(1, sqrt(h))) <= radiusM  <=>  h <= sin²(radiusM / 2R) (below half the globe).
  const everywhere = radiusM >= Math.PI * EARTH_RADIUS_M;
  const hMax = Math.sin(radiusM / (2 * EARTH_RADIUS_M)) ** 2;
  const within = (a: number, b: number): boolean => {
    if (everywhere) return true;
    const dLat = sLat[b]! * cLat[a]! - cLat[b]! * sLat[a]!; // sin((latB - latA) / 2)
    const dLon = sLon[b]! * cLon[a]! - cLon[b]! * sLon[a]!;
    return dLat * dLat + cosLat[a]! * cosLat[b]! * dLon * dLon <= hMax;
  };
  // Walking in and out of the circle is not stopping: fixes that still move (over 0.5 m/s to the next) are trimmed.
  const moving = new Uint8Array(Math.max(0, n - 1));
  for (let i = 0; i + 1 < n; i++) {
    const dt = (c.t[i + 1]! - c.t[i]!) / 1000;
    moving[i] = dt > 0 && distanceM(c.lat[i]!, c.lon[i]!, c.lat[i + 1]!, c.lon[i + 1]!) / dt > 0.5 ? 1 : 0;
  }
  const out: Stop[] = [];
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && within(i, j)) j++;
    let s = i;
    let e = j - 1;
    while (s < e && moving[s]) s++;
    while (e > s && moving[e - 1]) e--;
    const dur = (c.t[e]! - c.t[s]!) / 1000;
    if (dur >= minS) {
      out.push({ device: c.device, lat: c.lat[s]!, lon: c.lon[s]!, fromMs: c.t[s]!, toMs: c.t[e]!, durationS: Math.round(dur) });
      i = j;
    } else {
      i++;
    }
  }
  return out;
}
