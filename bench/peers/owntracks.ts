import type { Fix } from '../../protocol/fix.js';

/**
 * An OwnTracks `_type: location` payload as the Android app publishes it
 * (owntracks.org/booklet/tech/json): lat/lon as floats, tst and created_at
 * in whole seconds, acc/vac/alt in whole metres, vel in km/h, cog in degrees,
 * battery, connectivity, trigger, tracker id and topic. For the size
 * comparison only.
 */
export function owntracksLocation(fix: Fix, opts: { tid: string; topic: string; batt?: number }): string {
  const tst = Math.floor(fix.timeMs / 1000);
  const o: Record<string, unknown> = {
    _type: 'location',
    acc: Math.max(1, Math.round((fix.hdop ?? 1) * 4)),
    alt: Math.round(fix.alt ?? 0),
    batt: opts.batt ?? 76,
    bs: 1,
    cog: Math.round(fix.course ?? 0),
    conn: 'm',
    created_at: tst,
    lat: fix.lat,
    lon: fix.lon,
    m: 1,
    t: 'u',
    tid: opts.tid,
    topic: opts.topic,
    tst,
    vac: 3,
    vel: Math.round((fix.speed ?? 0) * 3.6),
  };
  return JSON.stringify(o);
}
