import t from 'tap';
import { captureDate } from '../../drivers/nmea/capture-file.js';
import { decodeNmea } from '../../drivers/nmea/nmea-decoder.js';
import type { Fix } from '../../protocol/fix.js';
import { loadCaptures } from './gpsd-reference.js';

/**
 * Every capture against gpsd's own fixes (.chk): at least 99% of gpsd's fixes
 * found at the same millisecond within 2e-6°, and no fix where gpsd has none,
 * none at (0,0), no NaN.
 */
const captures = loadCaptures();
t.ok(captures.length >= 16, `captures found (${captures.length})`);

let totalGpsd = 0;
let totalFound = 0;
for (const c of captures) {
  t.test(c.name, async (t) => {
    const epochs = decodeNmea(c.bytes, { date: captureDate(c.bytes) });
    const ours = new Map<number, Fix>();
    for (const e of epochs) {
      if (e.fix === undefined) continue;
      t.notOk(ours.has(e.fix.timeMs), `one fix per epoch (${new Date(e.fix.timeMs).toISOString()})`);
      ours.set(e.fix.timeMs, e.fix);
    }
    let found = 0;
    const missed: string[] = [];
    for (const [time, list] of c.gpsdFixes) {
      const f = ours.get(time);
      if (f !== undefined && list.some((g) => Math.abs(g.lat - f.lat) <= 2e-6 && Math.abs(g.lon - f.lon) <= 2e-6)) found++;
      else missed.push(new Date(time).toISOString());
    }
    const extra = [...ours.keys()].filter((time) => !c.gpsdFixes.has(time)).map((time) => new Date(time).toISOString());
    const bad = [...ours.values()].filter(
      (f) => !Number.isFinite(f.lat) || !Number.isFinite(f.lon) || !Number.isFinite(f.timeMs) || (f.lat === 0 && f.lon === 0) ||
        Math.abs(f.lat) > 90 || Math.abs(f.lon) > 180 || Object.values(f).some((v) => typeof v === 'number' && !Number.isFinite(v)),
    );
    totalGpsd += c.gpsdFixes.size;
    totalFound += found;
    const ratio = c.gpsdFixes.size === 0 ? 1 : found / c.gpsdFixes.size;
    t.comment(`${c.name}: gpsd ${c.gpsdFixes.size} fixes, found ${found} (${(ratio * 100).toFixed(1)}%), ours ${ours.size}, extra ${extra.length}`);
    t.ok(ratio >= 0.99, `>= 99% of gpsd's fixes found (${found}/${c.gpsdFixes.size}); missed: ${missed.slice(0, 5).join(' ')}`);
    t.same(extra, [], 'no fix where gpsd has none');
    t.same(bad, [], 'no NaN, no (0,0), no out-of-range value');
  });
}
t.teardown(() => {
  console.log(`# all captures: gpsd ${totalGpsd} fixes, found ${totalFound}`);
});
