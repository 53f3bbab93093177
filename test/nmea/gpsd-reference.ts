import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capturesDir } from '../helpers/paths.js';

/** One capture and gpsd's fixes for it (TPV lines with mode >= 2, a time and lat/lon in the .chk file). */
export interface Capture {
  name: string;
  bytes: Buffer;
  gpsdFixes: Map<number, Array<{ lat: number; lon: number }>>;
}

export function loadCaptures(): Capture[] {
  return readdirSync(capturesDir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((name) => {
      const gpsdFixes = new Map<number, Array<{ lat: number; lon: number }>>();
      for (const line of readFileSync(join(capturesDir, `${name}.chk`), 'latin1').split('\n')) {
        if (!line.startsWith('{"class":"TPV"')) continue;
        const o = JSON.parse(line) as { mode?: number; time?: string; lat?: number; lon?: number };
        if ((o.mode ?? 0) < 2 || o.time === undefined || o.lat === undefined || o.lon === undefined) continue;
        const t = Date.parse(o.time);
        const list = gpsdFixes.get(t) ?? [];
        list.push({ lat: o.lat, lon: o.lon });
        gpsdFixes.set(t, list);
      }
      return { name, bytes: readFileSync(join(capturesDir, name)), gpsdFixes };
    });
}
