import t from 'tap';
import type { Fix } from '../../protocol/fix.js';
import { FIELD_BOUNDS, FixFilter, SPEED_PROFILES, type FixFilterOptions } from '../../agent/pipeline/fix-filter.js';
import { isBwcError } from '../../common/errors.js';
import { ORIGIN, T0, fixAt, offset, seeded, straight } from './track-helpers.js';

const FOOT: FixFilterOptions = { minMode: 2, maxHdop: 5, maxSpeedMps: SPEED_PROFILES.foot };

function run(filter: FixFilter, fixes: Fix[]): Array<string> {
  return fixes.map((f) => {
    const r = filter.check(f);
    return r.ok ? 'ok' : r.reason;
  });
}

t.test('each reason is given and counted', async (t) => {
  const f = new FixFilter({ ...FOOT, minMode: 3 });
  t.match(f.check(fixAt(T0, ORIGIN)), { ok: true });
  t.same(f.check(fixAt(T0 + 1000, ORIGIN, { mode: 2 })), { ok: false, reason: 'mode' }, '2D fix under minMode 3');
  t.same(f.check(fixAt(T0 + 1000, ORIGIN, { mode: 1 as never })), { ok: false, reason: 'mode' }, 'no fix at all');
  t.same(f.check(fixAt(T0 + 1000, ORIGIN, { hdop: 12.5 })), { ok: false, reason: 'hdop' });
  t.match(f.check(fixAt(T0 + 1000, ORIGIN, { hdop: 5 })), { ok: true }, 'HDOP at the threshold passes');
  t.same(f.check(fixAt(T0 + 1000, ORIGIN)), { ok: false, reason: 'time' }, 'duplicate epoch');
  t.same(f.check(fixAt(T0 + 500, ORIGIN)), { ok: false, reason: 'time' }, 'time going backwards');
  t.same(f.check(fixAt(T0 + 2000, offset(ORIGIN, 1000, 0))), { ok: false, reason: 'jump' }, '1 km in one second on foot');
  t.same(f.check(fixAt(T0 + 2000, { lat: NaN, lon: 121 })), { ok: false, reason: 'invalid' });
  t.same(f.check(fixAt(T0 + 2000, { lat: 30, lon: 181 })), { ok: false, reason: 'invalid' });
  t.same(f.check(fixAt(T0 + 2000, { lat: 0, lon: 0 })), { ok: false, reason: 'invalid' }, '(0, 0) is an empty field, not a place');
  t.same(f.check(fixAt(NaN, ORIGIN)), { ok: false, reason: 'invalid' });
  t.same(f.check(fixAt(T0 + 2000, ORIGIN, { hdop: -1 })), { ok: false, reason: 'invalid' });
  t.same(f.check(fixAt(T0 + 2000, ORIGIN, { mode: 7 as never })), { ok: false, reason: 'invalid' });
  t.same(f.drops, { mode: 2, hdop: 1, jump: 1, time: 2, invalid: 6 });
  t.equal(f.accepted, 2);
  const copy = f.drops;
  copy.jump = 99;
  t.equal(f.drops.jump, 1, 'drops is a copy: callers cannot change the counts');
});

t.test('a fix without HDOP is not judged on HDOP; minMode 2 accepts 2D', async (t) => {
  const f = new FixFilter(FOOT);
  const { hdop: _h, ...noHdop } = fixAt(T0, ORIGIN, { mode: 2 });
  t.match(f.check(noHdop), { ok: true });
});

t.test('GNSS noise of a standing officer is not a jump, at 1 Hz and at 10 Hz', async (t) => {
  const rnd = seeded(7);
  for (const stepMs of [1000, 100]) {
    const f = new FixFilter(FOOT);
    const fixes: Fix[] = [];
    for (let i = 0; i < 600; i++) {
      // ±7 m of independent noise per axis: two fixes 0.1 s apart can be 20 m apart
      fixes.push(fixAt(T0 + i * stepMs, offset(ORIGIN, (rnd() - 0.5) * 14, (rnd() - 0.5) * 14)));
    }
    const res = run(f, fixes);
    t.equal(res.filter((r) => r !== 'ok').length, 0, `no drops at ${stepMs} ms`);
  }
});

t.test('speed profiles: a car is a jump for the foot profile, not for the vehicle one', async (t) => {
  // 40 m/s: beyond a runner even with the 20 m noise allowance of one 1 s step
  const drive = straight({ n: 30, stepMs: 1000, speed: 40, courseDeg: 45 });
  const foot = new FixFilter(FOOT);
  const car = new FixFilter({ ...FOOT, maxSpeedMps: SPEED_PROFILES.vehicle });
  t.equal(run(car, drive).filter((r) => r === 'ok').length, 30, 'vehicle profile keeps every fix');
  const footRes = run(foot, drive);
  t.equal(footRes[0], 'ok');
  t.equal(footRes[1], 'jump', '40 m/s exceeds a runner');
  t.equal(footRes.filter((r) => r === 'ok').length, 1, 'and the fixes do not agree with each other at a runner\'s speed either');
  const walk = straight({ n: 60, stepMs: 1000, speed: 1.4, courseDeg: 90 });
  t.equal(run(new FixFilter(FOOT), walk).filter((r) => r === 'ok').length, 60, 'walking passes');
  const sprint = straight({ n: 20, stepMs: 1000, speed: 9, courseDeg: 90 });
  t.equal(run(new FixFilter(FOOT), sprint).filter((r) => r === 'ok').length, 20, 'a 9 m/s sprint passes');
});

t.test('a single outlier is dropped and the track goes on from the last good fix', async (t) => {
  const walk = straight({ n: 20, stepMs: 1000, speed: 1.4, courseDeg: 0 });
  const outlier = { ...walk[10]!, ...offset(walk[10]!, 800, -300) };
  walk[10] = outlier;
  const f = new FixFilter(FOOT);
  const res = run(f, walk);
  t.same(res.map((r, i) => (r === 'ok' ? '' : `${i}:${r}`)).filter(Boolean), ['10:jump']);
  t.equal(f.lastAccepted?.timeMs, walk[19]!.timeMs);
});

t.test('outliers that do not agree with each other never move the track', async (t) => {
  // multipath flip-flop: every other fix 600 m away, alternately north and south
  const f = new FixFilter(FOOT);
  const res: string[] = [];
  for (let i = 0; i < 40; i++) {
    const p = i % 2 === 0 ? ORIGIN : offset(ORIGIN, i % 4 === 1 ? 600 : -600, 0);
    res.push(run(f, [fixAt(T0 + i * 1000, p)])[0]!);
  }
  t.equal(res.filter((r, i) => i % 2 === 0 && r !== 'ok').length, 0, 'the real position is always kept');
  t.equal(res.filter((r, i) => i % 2 === 1 && r === 'jump').length, 20, 'every outlier dropped');
});

t.test('a jump that persists is accepted after a few consistent fixes (leaving a tunnel)', async (t) => {
  const f = new FixFilter(FOOT);
  const before = straight({ n: 10, stepMs: 1000, speed: 1.4, courseDeg: 90 });
  t.equal(run(f, before).filter((r) => r === 'ok').length, 10);
  // The receiver comes back 3 km away 20 s later: a vehicle carried the officer.
  const after = straight({ n: 10, stepMs: 1000, speed: 1.4, courseDeg: 90, start: offset(ORIGIN, 3000, 0), t0: T0 + 30_000 });
  const res = run(f, after);
  t.same(res, ['jump', 'jump', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok'], 'two dropped, the third agrees and is accepted');
  t.equal(f.drops.jump, 2);
  t.equal(f.lastAccepted?.timeMs, after[9]!.timeMs, 'the track continues from the new place');
});

t.test('confirmFixes sets how many agreeing fixes it takes', async (t) => {
  const f = new FixFilter({ ...FOOT, confirmFixes: 5 });
  run(f, [fixAt(T0, ORIGIN)]);
  const far = straight({ n: 6, stepMs: 1000, speed: 1, courseDeg: 0, start: offset(ORIGIN, 5000, 0), t0: T0 + 1000 });
  t.same(run(f, far), ['jump', 'jump', 'jump', 'jump', 'ok', 'ok']);
});

t.test('a wrong first fix does not lock the real track out', async (t) => {
  const f = new FixFilter(FOOT);
  t.match(f.check(fixAt(T0, offset(ORIGIN, -20_000, 5000))), { ok: true }, 'nothing to compare the first fix with');
  const real = straight({ n: 8, stepMs: 1000, speed: 1.4, courseDeg: 180, t0: T0 + 1000 });
  t.same(run(f, real), ['jump', 'jump', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
});

t.test('a wrong future time does not lock later fixes out', async (t) => {
  const f = new FixFilter(FOOT);
  run(f, [fixAt(T0, ORIGIN)]);
  // A receiver briefly reports a date 19.6 years ahead (GPS week rollover in reverse).
  t.match(f.check(fixAt(T0 + 1024 * 7 * 86_400_000, ORIGIN)), { ok: true }, 'a standing receiver far in the future is plausible');
  const real = straight({ n: 6, stepMs: 1000, speed: 1.2, courseDeg: 0, t0: T0 + 1000 });
  t.same(run(f, real), ['time', 'time', 'ok', 'ok', 'ok', 'ok']);
  t.equal(f.drops.time, 2);
});

t.test('a repeated epoch is never a candidate: a stuck receiver stays dropped', async (t) => {
  const f = new FixFilter(FOOT);
  run(f, [fixAt(T0, ORIGIN)]);
  const res = run(f, Array.from({ length: 10 }, () => fixAt(T0, ORIGIN)));
  t.same(new Set(res), new Set(['time']));
  const stale = Array.from({ length: 10 }, () => fixAt(T0 - 5000, ORIGIN));
  t.same(new Set(run(f, stale)), new Set(['time']), 'the same old epoch repeated is not "a run that agrees"');
});

t.test('bad options are refused with a clear error', async (t) => {
  const bad: Array<[Partial<FixFilterOptions>, RegExp]> = [
    [{ minMode: 1 as never }, /minMode must be 2 or 3/],
    [{ maxHdop: 0 }, /maxHdop must be a positive number/],
    [{ maxSpeedMps: NaN }, /maxSpeedMps/],
    [{ noiseM: -3 }, /noiseM/],
    [{ confirmFixes: 1.5 }, /confirmFixes must be a positive integer/],
  ];
  for (const [o, re] of bad) {
    t.throws(() => new FixFilter({ ...FOOT, ...o }), re);
    try {
      new FixFilter({ ...FOOT, ...o });
    } catch (err) {
      t.ok(isBwcError(err, 'BAD_FILTER_OPTIONS'));
    }
  }
});

t.test('a fix whose time runs away from real time is held back, and one bogus time cannot lock the track', async (t) => {
  const f = new FixFilter(FOOT);
  const rx0 = 1_000_000;
  // A walk at 1 Hz, received once a second.
  const walk = straight({ n: 20, stepMs: 1000, speed: 1.4, courseDeg: 0 });
  for (let i = 0; i < 5; i++) t.match(f.check(walk[i]!, rx0 + i * 1000), { ok: true });
  // A corrupted sentence claims a time 22 hours ahead, one second after the last.
  const bogus = { ...walk[5]!, timeMs: walk[5]!.timeMs + 22 * 3_600_000 };
  t.same(f.check(bogus, rx0 + 5000), { ok: false, reason: 'time' }, 'the runaway time is dropped');
  for (let i = 6; i < 20; i++) t.match(f.check(walk[i]!, rx0 + i * 1000), { ok: true }, `the walk goes on at fix ${i}`);
  t.equal(f.drops.time, 1);
  // Without reception times the filter judges fix times alone, as before.
  const plain = new FixFilter(FOOT);
  t.match(plain.check(walk[0]!), { ok: true });
  t.match(plain.check(bogus), { ok: true }, 'nothing to compare a lone fix time with');
});

t.test('a receiver whose clock really jumped is followed after confirmation', async (t) => {
  const f = new FixFilter(FOOT);
  const rx0 = 5_000_000;
  const walk = straight({ n: 10, stepMs: 1000, speed: 1.4, courseDeg: 0 });
  for (let i = 0; i < 4; i++) t.match(f.check(walk[i]!, rx0 + i * 1000), { ok: true });
  const shifted = walk.slice(4).map((x) => ({ ...x, timeMs: x.timeMs + 3_600_000 }));
  const verdicts = shifted.map((x, i) => f.check(x, rx0 + (4 + i) * 1000).ok);
  t.same(verdicts.slice(0, 2), [false, false], 'the first fixes after the jump wait for confirmation');
  t.ok(verdicts.slice(2).every(Boolean), 'then the track follows the receiver');
});

t.test('fields out of the profile bounds are dropped from the fix and counted; the position stays', async (t) => {
  const f = new FixFilter({ ...FOOT, bounds: FIELD_BOUNDS.foot });
  const ok = fixAt(T0, ORIGIN, { speed: 1.4, alt: 12, sats: 9, hdop: 0.9, course: 90 });
  t.same(f.check(ok), { ok: true, fix: ok }, 'plausible: passed as it is');
  // The hostile values seen on the wire: 10,000 knots, -99,999 m, 99 satellites, HDOP 0.
  const hostile = fixAt(T0 + 1000, ORIGIN, { speed: 5144.4, alt: -99_999, sats: 99, hdop: 0, course: 400 });
  const r = f.check(hostile);
  t.match(r, { ok: true, dropped: ['speed', 'alt', 'sats', 'hdop', 'course'] });
  t.same(r.ok && r.fix, { timeMs: T0 + 1000, lat: ORIGIN.lat, lon: ORIGIN.lon, mode: 3 }, 'only the position is left');
  t.equal(hostile.speed, 5144.4, 'the caller\'s fix is not changed');
  t.match(f.check(fixAt(T0 + 2000, ORIGIN, { speed: Number.NaN, alt: 9001 })), { ok: true, dropped: ['speed', 'alt'] });
  t.match(f.check(fixAt(T0 + 3000, ORIGIN, { sats: 4.5 })), { ok: true, dropped: ['sats'] });
  t.same(f.implausibleFields, { speed: 2, alt: 2, sats: 2, hdop: 1, course: 1 });
  t.equal(f.fixesWithImplausibleFields, 3);
  t.equal(f.accepted, 4);
  // The vehicle profile takes a motorway speed the foot profile refuses.
  const v = new FixFilter({ ...FOOT, maxSpeedMps: SPEED_PROFILES.vehicle, bounds: FIELD_BOUNDS.vehicle });
  t.same(v.check(fixAt(T0, ORIGIN, { speed: 33 })), { ok: true, fix: fixAt(T0, ORIGIN, { speed: 33 }) });
  t.match(new FixFilter({ ...FOOT, bounds: FIELD_BOUNDS.foot }).check(fixAt(T0, ORIGIN, { speed: 33 })), { ok: true, dropped: ['speed'] });
});

t.test('a confirmed jump is reported as a discontinuity with both positions, once', async (t) => {
  const f = new FixFilter(FOOT);
  const walk = straight({ n: 5, stepMs: 1000, speed: 1.4, courseDeg: 90, t0: T0 });
  const results = walk.map((x) => f.check(x));
  t.ok(results.every((r) => r.ok && r.discontinuity === undefined), 'a walk has none');
  // Beijing, 1,100 km away, and staying there.
  const beijing = straight({ n: 6, stepMs: 1000, speed: 1.4, courseDeg: 0, start: { lat: 39.9042, lon: 116.4074 }, t0: T0 + 5000 });
  const after = beijing.map((x) => f.check(x));
  t.same(after.map((r) => (r.ok ? 'ok' : r.reason)), ['jump', 'jump', 'ok', 'ok', 'ok', 'ok']);
  const d = after[2]!.ok ? after[2]!.discontinuity : undefined;
  t.ok(d, 'the fix that confirms the jump carries it');
  t.same(d!.from, walk[4], 'from: the last fix of the track');
  t.same(d!.to, beijing[2], 'to: the fix that confirmed the new place');
  t.ok(d!.distanceM > 1_000_000 && d!.distanceM < 1_200_000, `${Math.round(d!.distanceM)} m`);
  t.equal(d!.dtMs, beijing[2]!.timeMs - walk[4]!.timeMs);
  t.ok(after.slice(3).every((r) => r.ok && r.discontinuity === undefined), 'reported once');
  t.equal(f.discontinuities, 1);
});
