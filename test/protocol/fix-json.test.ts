import t from 'tap';
import { fixFromJson, fixToJson } from '../../protocol/fix.js';

t.test('a fix record round-trips in the CLI contract format', async (t) => {
  const rec = { time: '2026-11-25T02:12:30.200Z', lat: 30.0597183, lon: 121.15751, mode: 3, alt: 12.3, speed: 1.39, course: 45, hdop: 0.8, sats: 12 };
  const fix = fixFromJson(rec, 'line 1');
  t.equal(fix.timeMs, Date.UTC(2026, 10, 25, 2, 12, 30, 200));
  t.same(fixToJson(fix), rec);
  t.same(Object.keys(fixToJson({ timeMs: 0, lat: 1, lon: 2, mode: 2 })), ['time', 'lat', 'lon', 'mode'], 'optional fields stay absent');
});

t.test('bad records are refused with the place named', async (t) => {
  const ok = { time: '2026-11-25T02:12:30.200Z', lat: 30, lon: 121, mode: 3 };
  t.throws(() => fixFromJson({ ...ok, lat: Number.NaN }, 'line 7'), /line 7: "lat"/);
  t.throws(() => fixFromJson({ ...ok, lat: 91 }, 'line 7'), /line 7: "lat"/);
  t.throws(() => fixFromJson({ ...ok, lon: -181 }, 'line 2'), /line 2: "lon"/);
  t.throws(() => fixFromJson({ ...ok, time: '2026-11-25 02:12:30' }, 'line 3'), /line 3: "time"/);
  t.throws(() => fixFromJson({ ...ok, time: '2026-13-45T02:12:30.200Z' }, 'line 3'), /line 3: "time"/);
  t.throws(() => fixFromJson({ ...ok, mode: 1 }, 'line 4'), /"mode"/);
  t.throws(() => fixFromJson([1, 2], 'line 5'), /not a JSON object/);
  t.throws(() => fixFromJson({ ...ok, speed: 'fast' }, 'line 6'), /"speed"/);
});
