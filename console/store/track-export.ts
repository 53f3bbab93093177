import type { StoredFix } from './track-store.js';

export type ExportFormat = 'gpx' | 'geojson' | 'csv';

export const EXPORT_TYPES: Record<ExportFormat, string> = {
  gpx: 'application/gpx+xml',
  geojson: 'application/geo+json',
  csv: 'text/csv; charset=utf-8',
};

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function byDevice(fixes: StoredFix[]): Map<string, StoredFix[]> {
  const m = new Map<string, StoredFix[]>();
  for (const f of fixes) {
    let a = m.get(f.device);
    if (!a) m.set(f.device, (a = []));
    a.push(f);
  }
  return m;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** GPX 1.1: one track per device. */
export function toGpx(fixes: StoredFix[]): string {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="bwc-console" xmlns="http://www.topografix.com/GPX/1/1">\n'];
  for (const [device, fs] of byDevice(fixes)) {
    parts.push(`<trk><name>${xml(device)}</name><trkseg>\n`);
    for (const f of fs) {
      parts.push(`<trkpt lat="${f.lat}" lon="${f.lon}">${f.alt !== undefined ? `<ele>${f.alt}</ele>` : ''}<time>${iso(f.timeMs)}</time>${f.hdop !== undefined ? `<hdop>${f.hdop}</hdop>` : ''}</trkpt>\n`);
    }
    parts.push('</trkseg></trk>\n');
  }
  parts.push('</gpx>\n');
  return parts.join('');
}

/** GeoJSON: one LineString feature per device, times alongside the coordinates. */
export function toGeoJson(fixes: StoredFix[]): string {
  const features = [...byDevice(fixes)].map(([device, fs]) => ({
    type: 'Feature',
    properties: { device, times: fs.map((f) => iso(f.timeMs)) },
    geometry: { type: 'LineString', coordinates: fs.map((f) => (f.alt !== undefined ? [f.lon, f.lat, f.alt] : [f.lon, f.lat])) },
  }));
  return JSON.stringify({ type: 'FeatureCollection', features });
}

/** CSV with the CLI contract's fix field names; empty cells for absent optional fields. */
export function toCsv(fixes: StoredFix[]): string {
  const rows = ['device,time,lat,lon,alt,speed,course,hdop,sats,seq,historical'];
  const v = (x: number | undefined) => (x === undefined ? '' : String(x));
  for (const f of fixes) {
    const device = /[",\n]/.test(f.device) ? `"${f.device.replace(/"/g, '""')}"` : f.device;
    rows.push([device, iso(f.timeMs), f.lat, f.lon, v(f.alt), v(f.speed), v(f.course), v(f.hdop), v(f.sats), v(f.seq), f.historical ? 'true' : 'false'].join(','));
  }
  return rows.join('\n') + '\n';
}

export function exportTrack(fixes: StoredFix[], format: ExportFormat): string {
  return format === 'gpx' ? toGpx(fixes) : format === 'geojson' ? toGeoJson(fixes) : toCsv(fixes);
}
