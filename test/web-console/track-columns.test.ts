import t from 'tap';
import { distanceM, findStops, findStopsIn, type Stop } from '../../console/store/stops.js';
import { columnsOf, decodeTrackColumns, encodeTrackColumns } from '../../console/store/track-columns.js';
import type { StoredFix } from '../../console/store/track-store.js';

/**
 * The replay's data path: a track as columns, its binary form for the page,
 * and stops found on columns. Stops are checked against the plain
 * definition (every fix within the radius of where the stretch began, by
 * distanceM), written out here the slow way.
 */
function stopsByDefinition(fixes: StoredFix[], radiusM = 30, minS = 60): Stop[] {
  const speed = (a: StoredFix, b: StoredFix) => {
    const dt = (b.timeMs - a.timeMs) / 1000;
    return dt > 0 ? distanceM(a.lat, a.lon, b.lat, b.lon) / dt : 0;
  };
  const out: Stop[] = [];
  let i = 0;
  while (i < fixes.length) {
    const a = fixes[i]!;
    let j = i + 1;
    while (j < fixes.length && distanceM(a.lat, a.lon, fixes[j]!.lat, fixes[j]!.lon) <= radiusM) j++;
    let s = i;
    let e = j - 1;
    while (s < e && speed(fixes[s]!, fixes[s + 1]!) > 0.5) s++;
    while (e > s && speed(fixes[e - 1]!, fixes[e]!) > 0.5) e--;
    const dur = (fixes[e]!.timeMs - fixes[s]!.timeMs) / 1000;
    if (dur >= minS) {
      out.push({ device: a.device, lat: fixes[s]!.lat, lon: fixes[s]!.lon, fromMs: fixes[s]!.timeMs, toMs: fixes[e]!.timeMs, durationS: Math.round(dur) });
      i = j;
    } else i++;
  }
  return out;
}

/** A seeded walk: strolls, stands (with GNSS jitter), drives, gaps, around a given place. */
function walk(seed: number, n: number, lat0: number, lon0: number): StoredFix[] {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: StoredFix[] = [];
  let lat = lat0;
  let lon = lon0;
  let t = Date.UTC(2026, 11, 5);
  let mode = 0;
  for (let i = 0; i < n; i++) {
    if (rnd() < 0.01) mode = Math.floor(rnd() * 3);
    const step = mode === 0 ? 0 : mode === 1 ? 1.4 : 12; // standing, walking, driving (m/s)
    const dir = rnd() * Math.PI * 2;
    const m = step + (rnd() - 0.5) * 6; // metres this second, with a few metres of jitter
    lat += (m * Math.cos(dir)) / 111_320;
    lon += (m * Math.sin(dir)) / (111_320 * Math.cos((lat * Math.PI) / 180));
    t += rnd() < 0.002 ? 120_000 : 1000; // now and then a gap
    out.push({ device: 'W-1', timeMs: t, lat, lon, ...(rnd() < 0.9 ? { hdop: 0.8 + rnd() } : {}), ...(rnd() < 0.5 ? { speed: step } : {}) });
  }
  return out;
}

t.test('stops on columns are the stops of the definition', async (t) => {
  for (const [seed, lat0, lon0] of [[1, 30.04, 121.15], [2, -33.9, 151.2], [3, 69.6, 18.9], [4, 0.01, 179.9995]] as const) {
    const fixes = walk(seed, 20_000, lat0, lon0);
    const want = stopsByDefinition(fixes);
    t.ok(want.length > 5, `seed ${seed}: ${want.length} stops to find`);
    t.same(findStops(fixes), want, `seed ${seed}: the same stops`);
    t.same(findStopsIn(columnsOf('W-1', fixes), 80, 120), stopsByDefinition(fixes, 80, 120), `seed ${seed}: and with another radius and time`);
  }
  t.same(findStops([]), []);
  const still = walk(5, 300, 30, 121).map((f) => ({ ...f, lat: 30, lon: 121 }));
  t.same(findStops(still, 1e8).length, 1, 'a radius beyond half the globe: everything is one stop');
});

t.test('the console benchmark\'s day of one device (86,400 fixes): the same stops', async (t) => {
  const day0 = Date.UTC(2026, 11, 5);
  const day = Array.from({ length: 86_400 }, (_, s) => ({ device: 'DAY-0001', timeMs: day0 + s * 1000, lat: 30.03 + 0.01 * Math.sin(s / 2000), lon: 121.14 + 0.01 * Math.cos(s / 3000) + s * 1e-7 }));
  const stops = findStopsIn(columnsOf('DAY-0001', day));
  t.ok(stops.length > 0, `${stops.length} stops`);
  t.same(stops, stopsByDefinition(day));
});

t.test('the binary form: columns as sent, stops and the range in its header', async (t) => {
  const a = columnsOf('A<1>', [{ timeMs: 1_795_000_000_123, lat: 30.123456789, lon: -121.5, hdop: 0.9, speed: 1.5 }, { timeMs: 1_795_000_001_123, lat: -89.9, lon: 179.999999, speed: 0 }]);
  const b = columnsOf('B', [{ timeMs: 5, lat: 1, lon: 2, hdop: 2 }]);
  const empty = columnsOf('C', []);
  const stops: Stop[] = [{ device: 'A<1>', lat: 30.1, lon: -121.5, fromMs: 1, toMs: 2, durationS: 60 }];
  const bytes = encodeTrackColumns({ fromMs: 1, toMs: 2, stops }, [a, b, empty], (h) => h * 5);
  t.equal(bytes.length % 8, 0);
  // As the page gets it: its own ArrayBuffer.
  const { head, tracks } = decodeTrackColumns<{ fromMs: number; toMs: number; stops: Stop[] }>(bytes.slice().buffer);
  t.same(head, { fromMs: 1, toMs: 2, stops, devices: [{ device: 'A<1>', n: 2 }, { device: 'B', n: 1 }, { device: 'C', n: 0 }] });
  t.same(tracks.map((c) => c.device), ['A<1>', 'B', 'C']);
  t.same([...tracks[0]!.t], [...a.t], 'times to the millisecond');
  t.same([...tracks[0]!.lat], [...a.lat], 'positions exactly (float64)');
  t.same([...tracks[0]!.lon], [...a.lon]);
  t.same([...tracks[0]!.acc].map((v) => (Number.isNaN(v) ? null : Math.round(v * 10) / 10)), [4.5, null], 'accuracy from HDOP, NaN without');
  t.same([...tracks[0]!.speed], [1.5, 0]);
  t.same([...tracks[1]!.acc], [10]);
  t.equal(tracks[2]!.t.length, 0);
  t.throws(() => decodeTrackColumns(new TextEncoder().encode('{"devices":[]}').buffer), /not a track in columns/);
  t.throws(() => decodeTrackColumns(bytes.slice(0, bytes.length - 8).buffer), /cut short/);
});
