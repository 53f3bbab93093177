import type { Fields } from './fields.js';
import type { Constellation } from './types.js';

/**
 * Field-level decoding shared by the sentence handlers of the epoch
 * assembler. Hand-written rather than nmea-simple 3.3.0, which gets the
 * fields that matter wrong (see DEVELOPERS.md): it drops the milliseconds of
 * `hhmmss.sss`, gives GGA/GNS/GLL today's system date, reads empty fields as
 * 0, counts the NMEA 4.10 GSV signal id as a satellite and throws TypeErrors
 * on short sentences; and it builds an object per sentence with a regex
 * split, which alone costs more than the whole of this decoder (see
 * bench/nmea-decode.bench.ts). Every reader here returns "absent" (NaN or
 * false) for an empty or malformed field, never 0.
 */

export interface LatLon {
  lat: number;
  lon: number;
}

/**
 * `DDMM.mmmm` / `DDDMM.mmmm` + hemisphere. gpsd's do_lat_lon: all four
 * fields present, a decimal point required; stricter here: any other
 * character, a hemisphere other than N/S/E/W or an out-of-range result
 * rejects the position.
 */
export function readLatLon(f: Fields, i: number, out: LatLon): boolean {
  const lat = readDegMin(f, i);
  const lon = readDegMin(f, i + 2);
  if (!(lat <= 90) || !(lon <= 180)) return false; // also catches NaN
  const ns = f.char(i + 1);
  const ew = f.char(i + 3);
  if ((ns !== 0x4e && ns !== 0x53) || (ew !== 0x45 && ew !== 0x57) || f.length(i + 1) !== 1 || f.length(i + 3) !== 1) return false;
  out.lat = ns === 0x53 ? -lat : lat;
  out.lon = ew === 0x57 ? -lon : lon;
  return true;
}

function readDegMin(f: Fields, i: number): number {
  if (f.empty(i)) return NaN;
  const s = f.s;
  let p = f.startOf(i);
  const e = f.endOf(i);
  let whole = 0;
  let digits = 0;
  while (p < e) {
    const d = s.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) break;
    whole = whole * 10 + d;
    digits++;
    p++;
  }
  if (digits === 0 || digits > 5 || p >= e || s.charCodeAt(p) !== 0x2e) return NaN;
  let frac = 0;
  let scale = 1;
  p++;
  while (p < e) {
    const d = s.charCodeAt(p) - 0x30;
    if (d < 0 || d > 9) return NaN;
    if (scale < 1e12) {
      frac = frac * 10 + d;
      scale *= 10;
    }
    p++;
  }
  const deg = Math.floor(whole / 100);
  const min = whole - deg * 100 + frac / scale;
  if (min >= 60) return deg <= 89 && min === 60 ? deg + 1 : NaN; // 8960.0000 = 90°, as gpsd reads it
  return deg + min / 60;
}

export interface TimeOfDay {
  h: number;
  m: number;
  s: number;
  /** nanoseconds of the fraction, as gpsd keeps them */
  ns: number;
}

/**
 * `hhmmss[.sss…]`: six digits required (gpsd's merge_hhmmss); the fraction
 * keeps all its digits, so `.60`, `.005` and `.799` are 600, 5 and 799 ms.
 */
export function readTime(f: Fields, i: number, out: TimeOfDay): boolean {
  if (f.length(i) < 6) return false;
  const s = f.s;
  const p = f.startOf(i);
  const e = f.endOf(i);
  for (let k = 0; k < 6; k++) {
    const d = s.charCodeAt(p + k) - 0x30;
    if (d < 0 || d > 9) return false;
  }
  const h = (s.charCodeAt(p) - 0x30) * 10 + s.charCodeAt(p + 1) - 0x30;
  const m = (s.charCodeAt(p + 2) - 0x30) * 10 + s.charCodeAt(p + 3) - 0x30;
  const sec = (s.charCodeAt(p + 4) - 0x30) * 10 + s.charCodeAt(p + 5) - 0x30;
  // Stricter than gpsd: 25:70:99 is garbage, not a time to normalise.
  if (h > 23 || m > 59 || sec > 60) return false;
  let ns = 0;
  if (p + 6 < e) {
    if (s.charCodeAt(p + 6) !== 0x2e) return false;
    let scale = 100_000_000;
    for (let k = p + 7; k < e; k++) {
      const d = s.charCodeAt(k) - 0x30;
      if (d < 0 || d > 9) return false;
      ns += d * scale;
      scale = Math.floor(scale / 10);
    }
  }
  out.h = h;
  out.m = m;
  out.s = sec;
  out.ns = ns;
  return true;
}

export interface DayDate {
  year: number;
  mon: number;
  mday: number;
}

/** RMC `ddmmyy` with the century supplied, as gpsd's merge_ddmmyy. */
export function readDdmmyy(f: Fields, i: number, century: number, out: DayDate): boolean {
  if (f.length(i) !== 6) return false;
  const s = f.s;
  const p = f.startOf(i);
  for (let k = 0; k < 6; k++) {
    const d = s.charCodeAt(p + k) - 0x30;
    if (d < 0 || d > 9) return false;
  }
  const dd = (s.charCodeAt(p) - 0x30) * 10 + s.charCodeAt(p + 1) - 0x30;
  const mm = (s.charCodeAt(p + 2) - 0x30) * 10 + s.charCodeAt(p + 3) - 0x30;
  const yy = (s.charCodeAt(p + 4) - 0x30) * 10 + s.charCodeAt(p + 5) - 0x30;
  let year = century + yy;
  if (year >= 2080) year -= 100; // gpsd: 2080 and later are read as the previous century
  if (mm < 1 || mm > 12 || dd < 1 || dd > 31) return false;
  out.year = year;
  out.mon = mm;
  out.mday = dd;
  return true;
}

/**
 * Talker id → constellation, for sentences whose talker names one system.
 * GN (combined) and GP (GPS, but also SBAS/QZSS ids) return undefined: the
 * satellite id decides (constellationOfId).
 */
export function constellationOfTalker(t0: number, t1: number): Constellation | undefined {
  if (t0 === 0x47 /* G */) {
    switch (t1) {
      case 0x4c: return 'glonass'; // GL
      case 0x41: return 'galileo'; // GA
      case 0x42: return 'beidou'; // GB
      case 0x51: return 'qzss'; // GQ
      default: return undefined;
    }
  }
  if (t0 === 0x42 && t1 === 0x44) return 'beidou'; // BD
  if (t0 === 0x51 && t1 === 0x5a) return 'qzss'; // QZ
  if (t0 === 0x50 && t1 === 0x51) return 'beidou'; // PQ: Quectel's BeiDou
  return undefined;
}

/** NMEA 4.10 system id (GSA field 18, GSV signal-less) → constellation. */
export function constellationOfSystemId(id: number): Constellation | undefined {
  switch (id) {
    case 1: return 'gps';
    case 2: return 'glonass';
    case 3: return 'galileo';
    case 4: return 'beidou';
    case 5: return 'qzss';
    default: return undefined;
  }
}

/**
 * NMEA satellite id ranges (as gpsd's nmeaid_to_prn) for GP/GN sentences:
 * 1–32 GPS, 33–64 and 120–158 SBAS (not counted), 65–96 GLONASS,
 * 193–200 QZSS, 201–237 and 401–437 BeiDou, 301–356 Galileo.
 */
export function constellationOfId(id: number): Constellation | undefined {
  if (id >= 1 && id <= 32) return 'gps';
  if (id >= 65 && id <= 96) return 'glonass';
  if (id >= 193 && id <= 200) return 'qzss';
  if ((id >= 201 && id <= 237) || (id >= 401 && id <= 437)) return 'beidou';
  if (id >= 301 && id <= 356) return 'galileo';
  return undefined;
}
