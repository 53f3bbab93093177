import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { SqliteMessageBuffer } from '../../agent/buffer/sqlite-message-buffer.js';
import { encodeFixPayload } from '../../agent/fix-payload.js';
import type { Fix } from '../../protocol/fix.js';
import { runCli, tempDir, writeConfig } from './rig.js';

const T0 = Date.parse('2026-11-25T02:00:00.000Z');

function fixAt(i: number, dev: number): Fix {
  return { timeMs: T0 + i * 1000, lat: 30.04 + i * 1e-5 + dev * 1e-3, lon: 121.15 + i * 2e-5, mode: 3, alt: 12.5 + i / 10, hdop: 0.9, sats: 11, speed: 1.4, course: 45 };
}

/** A real buffer file as the agent leaves it: 10 fixes of CAM-1, 5 of CAM-2, an event. */
function makeBuffer(dir: string): string {
  const path = join(dir, 'data', 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0 });
  b.append(Array.from({ length: 10 }, (_, i) => ({ deviceId: 'CAM-1', kind: 'fix' as const, timeMs: fixAt(i, 0).timeMs, payload: encodeFixPayload(fixAt(i, 0)) })));
  b.append(Array.from({ length: 5 }, (_, i) => ({ deviceId: 'CAM-2', kind: 'fix' as const, timeMs: fixAt(i, 1).timeMs, payload: encodeFixPayload(fixAt(i, 1)) })));
  b.append([{ deviceId: 'CAM-1', kind: 'event', timeMs: T0 + 3000, payload: Buffer.from([1, 2, 3]) }]);
  b.close();
  return path;
}

t.test('buffer stats: rows, bytes, oldest, per kind and device; drops say where they come from', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir);
  makeBuffer(dir);
  const r = await runCli(['buffer', 'stats', '--config', config, '--json']);
  t.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.match(s, { rows: 16, byKind: { fix: 15, event: 1, status: 0, reply: 0 }, oldest: '2026-11-25T02:00:00.000Z', newest: '2026-11-25T02:00:09.000Z', drops: null });
  t.ok(s.bytes > 15 * 50, 'payload bytes counted');
  t.ok(s.fileBytes >= s.bytes, 'file size');
  t.same(s.devices, [{ id: 'CAM-1', lastSeq: 11, rows: 11 }, { id: 'CAM-2', lastSeq: 5, rows: 5 }]);
  t.match(s.dropsSource, /enable http in the configuration/);
  const human = await runCli(['buffer', 'stats', '--config', config]);
  t.match(human.stdout, /16 messages, .* by kind: fix 15, event 1, status 0, reply 0/s);
});

t.test('buffer export: GPX and GeoJSON of a device and time range', async (t) => {
  const dir = tempDir(t);
  const db = makeBuffer(dir);
  const gpx = await runCli(['buffer', 'export', '--db', db, '--device', 'CAM-1', '--from', '2026-11-25T02:00:02Z', '--to', '2026-11-25T02:00:06Z', '--format', 'gpx']);
  t.equal(gpx.code, 0, gpx.stderr);
  const pts = [...gpx.stdout.matchAll(/<trkpt lat="([^"]+)" lon="([^"]+)"><ele>([^<]+)<\/ele><time>([^<]+)<\/time><fix>3d<\/fix><sat>11<\/sat><hdop>0.9<\/hdop><\/trkpt>/g)];
  t.equal(pts.length, 5, 'fixes 2..6 s inclusive');
  t.same(pts.map((m) => [Number(m[1]), Number(m[2]), m[4]]), [2, 3, 4, 5, 6].map((i) => [fixAt(i, 0).lat, fixAt(i, 0).lon, new Date(fixAt(i, 0).timeMs).toISOString()]));
  t.match(gpx.stdout, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<gpx version="1.1" creator="bwc-agent" xmlns="http:\/\/www.topografix.com\/GPX\/1\/1">/);
  t.match(gpx.stdout, /<name>CAM-1<\/name>/);

  const out = join(dir, 'all.geojson');
  const geo = await runCli(['buffer', 'export', '--db', db, '--format', 'geojson', '--out', out]);
  t.equal(geo.code, 0, geo.stderr);
  const { readFileSync } = await import('node:fs');
  const fc = JSON.parse(readFileSync(out, 'utf8'));
  t.equal(fc.type, 'FeatureCollection');
  t.same(fc.features.map((f: { properties: { device: string } }) => f.properties.device), ['CAM-1', 'CAM-2']);
  const cam2 = fc.features[1];
  t.equal(cam2.geometry.type, 'LineString');
  t.same(cam2.geometry.coordinates[0], [fixAt(0, 1).lon, fixAt(0, 1).lat, fixAt(0, 1).alt], 'RFC 7946 order: lon, lat, alt');
  t.equal(cam2.properties.coordTimes.length, 5);
  t.match(cam2.properties.fixes[4], { device: 'CAM-2', time: '2026-11-25T02:00:04.000Z', seq: 5, mode: 3 });

  const bad = await runCli(['buffer', 'export', '--db', db, '--format', 'kml']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--format must be gpx or geojson, got "kml"/);
  const badTime = await runCli(['buffer', 'export', '--db', db, '--format', 'gpx', '--from', 'yesterday']);
  t.equal(badTime.code, 2);
  t.match(badTime.stderr, /--from must be an ISO 8601 time/);
});

t.test('buffer prune: by age, device and kind; refused while the agent holds the file; seqs kept', async (t) => {
  const dir = tempDir(t);
  const db = makeBuffer(dir);
  const dry = await runCli(['buffer', 'prune', '--db', db, '--before', '2026-11-25T02:00:05Z', '--device', 'CAM-1', '--dry-run', '--json']);
  t.match(JSON.parse(dry.stdout), { dryRun: true, deleted: 5, kinds: ['fix'] });

  // A live agent has the file open: prune refuses.
  const holder = SqliteMessageBuffer.open({ path: db, syncIntervalMs: 0 });
  const busy = await runCli(['buffer', 'prune', '--db', db, '--before', '1h']);
  t.equal(busy.code, 1);
  t.match(busy.stderr, new RegExp(`open in process ${process.pid} \\(the agent\\?\\): stop it first`));
  holder.close();

  const r = await runCli(['buffer', 'prune', '--db', db, '--before', '2026-11-25T02:00:05Z', '--device', 'CAM-1', '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { deleted: 5 });
  const s = JSON.parse((await runCli(['buffer', 'stats', '--db', db, '--json'])).stdout);
  t.match(s, { rows: 11, byKind: { fix: 10, event: 1 } }, 'the event stays (kind fix only)');
  t.same(s.devices.find((d: { id: string }) => d.id === 'CAM-1'), { id: 'CAM-1', lastSeq: 11, rows: 6 }, 'sequence numbers are not reused');

  const b = SqliteMessageBuffer.open({ path: db, syncIntervalMs: 0 });
  const [next] = b.append([{ deviceId: 'CAM-1', kind: 'fix', timeMs: T0 + 20_000, payload: encodeFixPayload(fixAt(20, 0)) }]);
  b.close();
  t.equal(next!.seq, 12, 'the next seq follows on after a prune');
});

t.test('buffer: a missing or foreign file is refused with what it is', async (t) => {
  const dir = tempDir(t);
  const missing = await runCli(['buffer', 'stats', '--db', join(dir, 'nope.db')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no buffer at .*nope\.db: the agent has not run with this configuration yet/);
  const foreign = join(dir, 'foreign.db');
  writeFileSync(foreign, 'SQLite format 3\u0000 but not really');
  const r = await runCli(['buffer', 'stats', '--db', foreign]);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot read the buffer|is not a bwc-agent buffer/);
});
