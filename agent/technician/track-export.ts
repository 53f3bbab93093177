import { fixToJson } from '../../protocol/fix.js';
import type { BufferedFix } from './buffer-file.js';

export type ExportFormat = 'gpx' | 'geojson';

/**
 * Tracks as GPX 1.1 (one <trk> per device; per point the elevation, time,
 * fix type, satellites and HDOP, in the order the GPX schema requires) —
 * what mapping tools and auditors open.
 */
export function toGpx(fixes: BufferedFix[]): string {
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<gpx version="1.1" creator="bwc-agent" xmlns="http://www.topografix.com/GPX/1/1">',
  ];
  for (const [device, list] of byDevice(fixes)) {
    out.push('  <trk>', `    <name>${xml(device)}</name>`, '    <trkseg>');
    for (const { fix } of list) {
      const parts = [`      <trkpt lat="${fix.lat}" lon="${fix.lon}">`];
      if (fix.alt !== undefined) parts.push(`<ele>${fix.alt}</ele>`);
      parts.push(`<time>${new Date(fix.timeMs).toISOString()}</time>`);
      parts.push(`<fix>${fix.mode === 3 ? '3d' : '2d'}</fix>`);
      if (fix.sats !== undefined) parts.push(`<sat>${fix.sats}</sat>`);
      if (fix.hdop !== undefined) parts.push(`<hdop>${fix.hdop}</hdop>`);
      parts.push('</trkpt>');
      out.push(parts.join(''));
    }
    out.push('    </trkseg>', '  </trk>');
  }
  out.push('</gpx>', '');
  return out.join('\n');
}

/**
 * Tracks as a GeoJSON FeatureCollection (RFC 7946: [lon, lat, alt]): one
 * LineString per device (a Point when it has one fix), with the time of each
 * position in `coordTimes` as mapping tools (togeojson, Mapbox) read it, and
 * each fix record (CLI contract format) in `fixes`.
 */
export function toGeoJson(fixes: BufferedFix[]): string {
  const features = [];
  for (const [device, list] of byDevice(fixes)) {
    const coords = list.map(({ fix }) => (fix.alt !== undefined ? [fix.lon, fix.lat, fix.alt] : [fix.lon, fix.lat]));
    features.push({
      type: 'Feature',
      geometry: coords.length === 1 ? { type: 'Point', coordinates: coords[0] } : { type: 'LineString', coordinates: coords },
      properties: {
        device,
        start: new Date(list[0]!.fix.timeMs).toISOString(),
        end: new Date(list[list.length - 1]!.fix.timeMs).toISOString(),
        coordTimes: list.map(({ fix }) => new Date(fix.timeMs).toISOString()),
        fixes: list.map(({ fix, seq }) => fixToJson(fix, { device, seq })),
      },
    });
  }
  return JSON.stringify({ type: 'FeatureCollection', features }) + '\n';
}

function byDevice(fixes: BufferedFix[]): Map<string, BufferedFix[]> {
  const m = new Map<string, BufferedFix[]>();
  for (const f of fixes) {
    const list = m.get(f.device);
    if (list) list.push(f);
    else m.set(f.device, [f]);
  }
  return m;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
