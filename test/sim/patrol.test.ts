import t from 'tap';
import { Patrol, YUYAO } from '../../sim/gnss/patrol.js';
import type { Fix } from '../../protocol/fix.js';

const M_PER_DEG = 111_195;
function offsetM(f: Fix, c: { lat: number; lon: number }): [number, number] {
  return [(f.lon - c.lon) * M_PER_DEG * Math.cos((c.lat * Math.PI) / 180), (f.lat - c.lat) * M_PER_DEG];
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

t.test('an officer on foot stays on the grid around Yuyao at walking speed, with pauses', async (t) => {
  for (const seed of [1, 2, 3]) {
    const p = new Patrol({ seed });
    const fixes = Array.from({ length: 7200 }, () => p.next());
    const far = Math.max(...fixes.map((f) => Math.max(...offsetM(f, YUYAO).map(Math.abs))));
    t.ok(far <= p.extentM + 15, `seed ${seed}: within ${p.extentM} m of the centre plus noise (max ${far.toFixed(1)} m)`);
    t.ok(far > p.extentM / 3, `seed ${seed}: it does walk around (max ${far.toFixed(1)} m)`);
    const speeds = fixes.map((f) => f.speed!);
    const median = pct(speeds, 0.5);
    t.ok(median > 1.1 && median < 1.7, `seed ${seed}: median speed ${median} m/s is a walk`);
    t.ok(pct(speeds, 0.99) < 2.2, `seed ${seed}: nobody runs (p99 ${pct(speeds, 0.99)})`);
    const stopped = speeds.filter((s) => s < 0.2).length / speeds.length;
    t.ok(stopped > 0.03 && stopped < 0.4, `seed ${seed}: pauses now and then (${(stopped * 100).toFixed(0)}% of the time)`);
    // Step lengths between fixes: walking plus correlated noise, no jumps.
    const steps = fixes.slice(1).map((f, i) => Math.hypot(...offsetM(f, YUYAO).map((v, k) => v - offsetM(fixes[i]!, YUYAO)[k]!)));
    t.ok(Math.max(...steps) < 5, `seed ${seed}: no jump above 5 m in a second (max ${Math.max(...steps).toFixed(2)})`);
    t.ok(fixes.every((f) => f.mode === 3 && f.hdop! > 0.4 && f.hdop! < 3 && f.sats! >= 9 && f.sats! <= 24 && f.course! >= 0 && f.course! < 360));
  }
});

t.test('the reported position carries a few metres of correlated noise', async (t) => {
  const p = new Patrol({ seed: 11 });
  const fixes = Array.from({ length: 3600 }, () => p.next());
  // Stopped stretches show the noise alone: it wanders slowly rather than jumping.
  const still = fixes.filter((f) => f.speed! < 0.2);
  t.ok(still.length > 50);
  const jitter = still.slice(1).map((f, i) => Math.hypot(...offsetM(f, YUYAO).map((v, k) => v - offsetM(still[i]!, YUYAO)[k]!)));
  t.ok(pct(jitter, 0.5) < 1.5, `consecutive still fixes differ by well under the noise (median ${pct(jitter, 0.5).toFixed(2)} m)`);
  t.ok(pct(jitter, 0.5) > 0.05, 'but they do differ');
});

t.test('same seed, same patrol; another seed, another; times step by the period', async (t) => {
  const a = new Patrol({ seed: 5, rateHz: 5, startMs: 1_000_000 });
  const b = new Patrol({ seed: 5, rateHz: 5, startMs: 1_000_000 });
  const c = new Patrol({ seed: 6, rateHz: 5, startMs: 1_000_000 });
  const fa = Array.from({ length: 500 }, () => a.next());
  t.same(Array.from({ length: 500 }, () => b.next()), fa);
  t.notSame(Array.from({ length: 500 }, () => c.next()), fa);
  t.ok(fa.every((f, i) => f.timeMs === 1_000_000 + i * 200), '5 Hz: every 200 ms exactly');
  const ten = new Patrol({ rateHz: 10, startMs: 0 });
  t.same([ten.next().timeMs, ten.next().timeMs, ten.next().timeMs], [0, 100, 200]);
});

t.test('a patrol car drives faster on the same grid; another centre moves the grid', async (t) => {
  const centre = { lat: 29.87, lon: 121.54 };
  const p = new Patrol({ seed: 3, vehicle: true, centreLat: centre.lat, centreLon: centre.lon });
  const fixes = Array.from({ length: 3600 }, () => p.next());
  const moving = fixes.map((f) => f.speed!).filter((s) => s > 1);
  t.ok(pct(moving, 0.5) > 5 && pct(moving, 0.5) < 11, `median moving speed ${pct(moving, 0.5)} m/s`);
  t.ok(Math.max(...fixes.map((f) => Math.max(...offsetM(f, centre).map(Math.abs)))) <= p.extentM + 15);
});
