import { BwcError } from '../common/errors.js';

/** 2: 2D fix, 3: 3D fix. Anything less is not a fix. */
export type FixMode = 2 | 3;

/**
 * One GNSS position, as the whole product passes it around. Times come from
 * the receiver (Unix milliseconds, UTC), never from the system clock.
 * Optional fields are absent when the receiver did not give them: never 0.
 */
export interface Fix {
  timeMs: number;
  lat: number;
  lon: number;
  mode: FixMode;
  /** metres above mean sea level */
  alt?: number;
  /** metres per second over ground */
  speed?: number;
  /** degrees true, [0, 360) */
  course?: number;
  hdop?: number;
  /** satellites used in the solution */
  sats?: number;
}

/** A fix that travelled through the agent (CLI contract "fix" record). */
export interface DeliveredFix extends Fix {
  device: string;
  seq: number;
  historical: boolean;
}

/** The JSON record of the CLI contract: `{"time":"…Z","lat":…,"lon":…,"mode":3,…}`. */
export interface FixJson {
  device?: string;
  time: string;
  lat: number;
  lon: number;
  mode: number;
  alt?: number;
  speed?: number;
  course?: number;
  hdop?: number;
  sats?: number;
  seq?: number;
  historical?: boolean;
}

const OPTIONAL_NUMBERS = ['alt', 'speed', 'course', 'hdop', 'sats'] as const;

export function fixToJson(fix: Fix, extra?: { device?: string; seq?: number; historical?: boolean }): FixJson {
  const out: FixJson = {} as FixJson;
  if (extra?.device !== undefined) out.device = extra.device;
  out.time = new Date(fix.timeMs).toISOString();
  out.lat = fix.lat;
  out.lon = fix.lon;
  out.mode = fix.mode;
  for (const k of OPTIONAL_NUMBERS) if (fix[k] !== undefined) out[k] = fix[k];
  if (extra?.seq !== undefined) out.seq = extra.seq;
  if (extra?.historical !== undefined) out.historical = extra.historical;
  return out;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/**
 * Parses and checks one fix record. `where` names the input (e.g. "line 12")
 * so the error tells the user which record is wrong.
 */
export function fixFromJson(value: unknown, where: string): Fix {
  const bad = (why: string) => new BwcError('BAD_FIX', `${where}: ${why}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad('not a JSON object');
  const o = value as Record<string, unknown>;
  if (typeof o.time !== 'string' || !ISO_UTC.test(o.time)) throw bad(`"time" must be UTC ISO 8601 like 2026-11-25T02:12:30.200Z, got ${JSON.stringify(o.time)}`);
  const timeMs = Date.parse(o.time);
  if (!Number.isFinite(timeMs)) throw bad(`"time" is not a valid date: ${o.time}`);
  const lat = o.lat, lon = o.lon;
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) throw bad(`"lat" must be a number in [-90, 90], got ${JSON.stringify(lat)}`);
  if (typeof lon !== 'number' || !Number.isFinite(lon) || lon < -180 || lon > 180) throw bad(`"lon" must be a number in [-180, 180], got ${JSON.stringify(lon)}`);
  if (o.mode !== 2 && o.mode !== 3) throw bad(`"mode" must be 2 or 3, got ${JSON.stringify(o.mode)}`);
  const fix: Fix = { timeMs, lat, lon, mode: o.mode };
  for (const k of OPTIONAL_NUMBERS) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`"${k}" must be a finite number, got ${JSON.stringify(v)}`);
    fix[k] = v;
  }
  if (fix.speed !== undefined && fix.speed < 0) throw bad(`"speed" must not be negative, got ${fix.speed}`);
  if (fix.course !== undefined && (fix.course < 0 || fix.course >= 360)) throw bad(`"course" must be in [0, 360), got ${fix.course}`);
  if (fix.hdop !== undefined && fix.hdop < 0) throw bad(`"hdop" must not be negative, got ${fix.hdop}`);
  if (fix.sats !== undefined && (!Number.isInteger(fix.sats) || fix.sats < 0)) throw bad(`"sats" must be a non-negative integer, got ${fix.sats}`);
  return fix;
}
