/**
 * Small spherical-earth helpers for the track pipeline. A sphere is plenty
 * here: the filters compare distances against tolerances of metres to tens of
 * metres, far above the 0.5% error of the spherical model.
 */

/** Mean earth radius (IUGG), metres. */
export const EARTH_RADIUS_M = 6_371_008.8;

export interface LatLon {
  lat: number;
  lon: number;
}

const RAD = Math.PI / 180;

/**
 * Great-circle distance in metres (haversine). Well conditioned for the short
 * distances between consecutive fixes, and correct across the antimeridian
 * and at the poles because it works on the sphere, not on degree differences.
 */
export function haversineM(a: LatLon, b: LatLon): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  // min() guards against s creeping past 1 by rounding for antipodal points.
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(s)));
}

/** Initial bearing from a to b, degrees true in [0, 360). */
export function bearingDeg(a: LatLon, b: LatLon): number {
  const φ1 = a.lat * RAD, φ2 = b.lat * RAD, dλ = (b.lon - a.lon) * RAD;
  const y = Math.sin(dλ) * Math.cos(φ2);
  const x = Math.cos(φ1) * Math.sin(φ2) - Math.sin(φ1) * Math.cos(φ2) * Math.cos(dλ);
  return normalizeDeg(Math.atan2(y, x) / RAD);
}

/** Any angle in degrees, brought into [0, 360). */
export function normalizeDeg(deg: number): number {
  const r = deg % 360;
  const n = r < 0 ? r + 360 : r;
  // -1e-15 % 360 + 360 rounds to 360: fold it back to 0.
  return n >= 360 ? 0 : n;
}

/**
 * The smallest angle between two headings, in [0, 180]. Headings wrap at
 * 0°/360°: 359° → 1° is a change of 2°, not 358° (the bug of filters that
 * subtract courses directly).
 */
export function headingDiffDeg(a: number, b: number): number {
  const d = Math.abs(normalizeDeg(a) - normalizeDeg(b));
  return d > 180 ? 360 - d : d;
}
