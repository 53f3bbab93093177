import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ColumnCollector, SqliteTrackStore } from '../../console/store/sqlite-track-store.js';
import { PostgresTrackStore } from '../../console/store/postgres-track-store.js';
import { openTrackStore } from '../../console/store/open-store.js';
import type { StoredFix, TrackStore } from '../../console/store/track-store.js';
import { findStops } from '../../console/store/stops.js';
import { toCsv, toGeoJson, toGpx } from '../../console/store/track-export.js';
import { freshSchema } from './pg-schema.js';
import type { TapTest } from '../helpers/tap-test.js';

const T0 = Date.UTC(2026, 11, 5, 6, 0, 0);
const fix = (device: string, s: number, extra: Partial<StoredFix> = {}): StoredFix => ({ device, timeMs: T0 + s * 1000, lat: 30.04 + s * 1e-5, lon: 121.15, seq: s, hdop: 0.9, ...extra });

async function exercise(t: TapTest, store: TrackStore): Promise<void> {
  await store.insert([fix('A', 1), fix('A', 2), fix('B', 1)]);
  // A late, historical fix (older than the newest) lands in the track, not in "latest".
  await store.insert([fix('A', 0, { historical: true, lat: 31 })]);
  // Duplicates (QoS 1 redelivery) are ignored.
  await store.insert([fix('A', 2), fix('A', 2)]);
  const latest = await store.latest();
  t.same(latest.map((f) => [f.device, f.timeMs]), [['A', T0 + 2000], ['B', T0 + 1000]], 'latest is the newest fix per device');
  const track = await store.track({ devices: ['A'], fromMs: T0 - 10_000, toMs: T0 + 10_000 });
  t.same(track.map((f) => f.seq), [0, 1, 2], 'the track holds the late fix, in time order, once each');
  t.equal(track[0]!.historical, true);
  t.equal(track[1]!.hdop, 0.9);
  // A newer fix moves latest forward; several devices in one query come ordered by device.
  await store.insert([fix('A', 5), fix('B', 3)]);
  t.same((await store.latest()).map((f) => f.timeMs), [T0 + 5000, T0 + 3000]);
  const both = await store.track({ devices: ['A', 'B'], fromMs: T0 + 1, toMs: T0 + 10_000 });
  t.same(both.map((f) => `${f.device}${(f.timeMs - T0) / 1000}`), ['A1', 'A2', 'A5', 'B1', 'B3']);
  // The same as columns (the replay's binary form): one entry per device with fixes, in the order asked.
  await store.insert([fix('B', 4, { hdop: undefined, speed: 1.25 })]);
  const cols = await store.trackColumns({ devices: ['B', 'NONE', 'A'], fromMs: T0 + 1, toMs: T0 + 10_000 });
  t.same(cols.map((c) => [c.device, [...c.t].map((ms) => (ms - T0) / 1000)]), [['B', [1, 3, 4]], ['A', [1, 2, 5]]], 'columns of the same fixes');
  t.same([...cols[0]!.lat], both.filter((f) => f.device === 'B').map((f) => f.lat).concat(fix('B', 4).lat));
  t.same([...cols[0]!.hdop].map((h) => (Number.isNaN(h) ? null : h)), [0.9, 0.9, null], 'no HDOP: NaN');
  t.same([...cols[0]!.speed].map((v) => (Number.isNaN(v) ? null : v)), [null, null, 1.25]);
}

t.test('SQLite track store: late fixes never overwrite a newer latest position', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteTrackStore(join(dir, 'tracks.sqlite'));
  t.teardown(() => store.close());
  await exercise(t, store);
});

t.test('PostgreSQL track store: the same rules', async (t) => {
  const { url, drop } = await freshSchema('bwc_store');
  t.teardown(drop);
  const store = await openTrackStore(url, '/nonexistent');
  t.equal(store.kind, 'postgres');
  t.teardown(() => store.close());
  await exercise(t, store);
  t.comment(`PostGIS ${(store as PostgresTrackStore).postgis ? 'in use' : 'not installed: plain columns'}`);
});

t.test('an unreachable PostgreSQL says so', async (t) => {
  await t.rejects(PostgresTrackStore.open('postgres://nobody:secret@127.0.0.1:1/none'), { code: 'STORE_UNREACHABLE', message: /cannot use the PostgreSQL track store at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none/ });
  await t.rejects(openTrackStore('mysql://x', '/tmp'), { code: 'USAGE' });
});

t.test('SQLite columns come in time order whatever order the rows reach the aggregate', async (t) => {
  const c = new ColumnCollector();
  const times = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 3000); // every time once, shuffled
  for (const s of times) c.add(T0 + s, 30 + s * 1e-6, 121, s % 2 ? null : 0.9, null);
  const cols = c.finish('A');
  t.equal(cols.t.length, 3000);
  t.ok(cols.t.every((v, i) => v === T0 + i), 'sorted by time');
  t.ok(cols.lat.every((v, i) => v === 30 + i * 1e-6), 'each row kept together');
  t.same([...cols.hdop.subarray(0, 3)].map((h) => (Number.isNaN(h) ? null : h)), [0.9, null, 0.9]);
});

t.test('stops and exports', async (t) => {
  const fixes: StoredFix[] = [];
  // Walk 60 s, stand 5 min, walk 60 s.
  for (let s = 0; s < 60; s++) fixes.push(fix('A', s, { lat: 30 + s * 1e-5 }));
  for (let s = 60; s < 360; s++) fixes.push(fix('A', s, { lat: 30 + 60e-5 + (s % 2) * 1e-6 }));
  for (let s = 360; s < 420; s++) fixes.push(fix('A', s, { lat: 30 + 60e-5 + (s - 360) * 1e-5 }));
  const stops = findStops(fixes);
  t.equal(stops.length, 1, 'one stop');
  t.ok(stops[0]!.durationS >= 299 && stops[0]!.durationS <= 302, `lasting about 5 min (${stops[0]!.durationS} s)`);
  const few = [fix('A<&">', 1, { alt: 12 }), fix('A<&">', 2)];
  const gpx = toGpx(few);
  t.match(gpx, /<name>A&#60;&#38;&#34;&#62;<\/name>/, 'names are escaped in GPX');
  t.equal((gpx.match(/<trkpt /g) ?? []).length, 2);
  const gj = JSON.parse(toGeoJson(few)) as { features: Array<{ geometry: { coordinates: number[][] } }> };
  t.same(gj.features[0]!.geometry.coordinates[0], [121.15, 30.04001, 12]);
  const csv = toCsv(few).trim().split('\n');
  t.equal(csv[0], 'device,time,lat,lon,alt,speed,course,hdop,sats,seq,historical');
  t.equal(csv[1], '"A<&"">",2026-12-05T06:00:01.000Z,30.04001,121.15,12,,,0.9,,1,false');
});
