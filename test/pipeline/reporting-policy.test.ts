import t from 'tap';
import type { Fix } from '../../protocol/fix.js';
import { DEFAULT_REPORTING, ReportingPolicy, type ReportReason, type ReportingOptions } from '../../agent/pipeline/reporting-policy.js';
import { isBwcError } from '../../common/errors.js';
import { ORIGIN, T0, fixAt, offset, seeded, straight } from './track-helpers.js';

const OPTS: ReportingOptions = {
  recordingIntervalS: 1, movingIntervalS: 5, stationaryIntervalS: 60,
  distanceM: 50, headingChangeDeg: 30, stationarySpeedMps: 0.5,
};

/** Offers every fix; returns the offsets (s from T0) of the reported ones. */
function reportedAt(p: ReportingPolicy, fixes: Fix[], recording = false): number[] {
  return fixes.filter((f) => p.offer(f, { recording })).map((f) => (f.timeMs - T0) / 1000);
}

/** A standing officer: ±2 m of position noise, Doppler speed below 0.3 m/s, a course that means nothing. */
function standing(n: number, stepMs = 1000, t0 = T0, seed = 3): Fix[] {
  const rnd = seeded(seed);
  return Array.from({ length: n }, (_, i) =>
    fixAt(t0 + i * stepMs, offset(ORIGIN, (rnd() - 0.5) * 4, (rnd() - 0.5) * 4), { speed: rnd() * 0.3, course: rnd() * 360 }));
}

const range = (from: number, to: number, step: number) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => from + i * step);

t.test('the documented defaults', async (t) => {
  t.same({ ...DEFAULT_REPORTING }, { ...OPTS, minIntervalS: 1 });
  t.ok(Object.isFrozen(DEFAULT_REPORTING));
});

t.test('recording: every second, at 1 Hz and at 5 Hz', async (t) => {
  const walk1 = straight({ n: 30, stepMs: 1000, speed: 1.4, courseDeg: 10 });
  t.same(reportedAt(new ReportingPolicy(OPTS), walk1, true), range(0, 29, 1));
  const walk5 = straight({ n: 150, stepMs: 200, speed: 1.4, courseDeg: 10 });
  t.same(reportedAt(new ReportingPolicy(OPTS), walk5, true), range(0, 29, 1), 'every fifth 5 Hz fix');
  // epoch stamps a millisecond short of the interval still count
  const jitter = walk1.map((f, i) => ({ ...f, timeMs: f.timeMs - (i % 2) }));
  t.equal(reportedAt(new ReportingPolicy(OPTS), jitter, true).length, 30, '999 ms apart does not halve the rate');
});

t.test('walking, not recording: every 5 s', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const walk = straight({ n: 61, stepMs: 1000, speed: 1.4, courseDeg: 80 });
  t.same(reportedAt(p, walk), range(0, 60, 5));
  t.equal(p.lastReason, 'interval');
  t.equal(p.isStationary, false);
});

t.test('stationary: a 60 s heartbeat that still reports the current position', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const fixes = standing(301);
  const reasons: Array<ReportReason | null> = [];
  const reported = fixes.filter((f) => {
    const r = p.offer(f, { recording: false });
    reasons.push(p.lastReason);
    return r;
  });
  t.same(reported.map((f) => (f.timeMs - T0) / 1000), [0, 60, 120, 180, 240, 300]);
  t.same(reported[3], fixes[180], 'the heartbeat carries the fix of that moment');
  t.same(reasons.filter((r) => r !== null), ['first', 'interval', 'interval', 'interval', 'interval', 'interval'], 'course noise at a standstill never counts as a turn');
  t.equal(p.isStationary, true);
});

t.test('stationary judged from positions when the receiver gives no speed', async (t) => {
  // A GGA-only receiver: neither speed nor course. Until 15 s of positions
  // are in, the policy assumes movement (5 s); at second 15 the average
  // speed of the noise (< 0.4 m/s) says stationary: 60 s from the last report.
  const noSpeed = standing(200).map(({ speed: _s, course: _c, ...f }) => f);
  t.same(reportedAt(new ReportingPolicy(OPTS), noSpeed), [0, 5, 10, 70, 130, 190]);
  const walk = straight({ n: 21, stepMs: 1000, speed: 1.4, courseDeg: 80, withSpeed: false });
  t.same(reportedAt(new ReportingPolicy(OPTS), walk), [0, 5, 10, 15, 20], 'moving when positions move');
});

t.test('distance: a patrol car is reported every 50 m between intervals', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const drive = straight({ n: 13, stepMs: 1000, speed: 20, courseDeg: 0 });
  t.same(reportedAt(p, drive), [0, 3, 6, 9, 12], '60 m ≥ 50 m after every third second');
  t.equal(p.lastReason, 'distance');
});

t.test('heading: 359° ↔ 1° is no turn, a real corner is, across the wrap too', async (t) => {
  // walking north with the course wobbling across 0°
  const wobble = straight({ n: 21, stepMs: 1000, speed: 1.4, courseDeg: 0, course: (i) => [359, 1, 358, 2][i % 4] });
  t.same(reportedAt(new ReportingPolicy(OPTS), wobble), [0, 5, 10, 15, 20], 'no heading reports from a ±2° wobble');

  // 350° then a turn to 20° (30° across the wrap) at second 2
  const p = new ReportingPolicy(OPTS);
  const turn = straight({ n: 5, stepMs: 1000, speed: 1.4, courseDeg: 0, course: (i) => (i < 2 ? 350 : 20) });
  const why = turn.map((f) => (p.offer(f, { recording: false }), p.lastReason));
  t.same(why, ['first', null, 'heading', null, null]);

  // 25° across the wrap stays below the 30° threshold
  const slight = straight({ n: 5, stepMs: 1000, speed: 1.4, courseDeg: 0, course: (i) => (i < 2 ? 350 : 15) });
  t.same(reportedAt(new ReportingPolicy(OPTS), slight), [0]);
});

t.test('distance and heading never report faster than minIntervalS (10 Hz course noise)', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const zigzag = straight({ n: 50, stepMs: 100, speed: 3, courseDeg: 45, course: (i) => (i % 2 === 0 ? 0 : 90) });
  // course flips 0°/90° every epoch; at 1.0 s it is back at the reported 0°,
  // so each turn report comes at 1.1 s, never sooner than 1 s
  const at = reportedAt(p, zigzag);
  t.same(at, [0, 1.1, 2.2, 3.3, 4.4]);
});

t.test('recording start and stop report at once, then the rate follows', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const walk = straight({ n: 40, stepMs: 1000, speed: 1.4, courseDeg: 80 });
  const out: Array<[number, ReportReason | null]> = [];
  walk.forEach((f, i) => {
    const recording = i >= 7 && i < 12;
    if (p.offer(f, { recording })) out.push([i, p.lastReason]);
  });
  t.same(out, [
    [0, 'first'], [5, 'interval'],
    [7, 'recording-change'], [8, 'interval'], [9, 'interval'], [10, 'interval'], [11, 'interval'],
    [12, 'recording-change'], [17, 'interval'], [22, 'interval'], [27, 'interval'], [32, 'interval'], [37, 'interval'],
  ]);
});

t.test('an immediate request reports the next fix and hands back the last known one', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const fixes = standing(100);
  t.equal(p.requestImmediate('query'), undefined, 'nothing known yet');
  t.same(reportedAt(p, fixes.slice(0, 20)), [0]);
  t.same(p.requestImmediate('sos'), fixes[19], 'the last known fix, to send right away');
  t.equal(p.requestImmediate('recording'), undefined, 'not handed out twice');
  t.same(p.lastKnown, fixes[19]);
  t.same(reportedAt(p, fixes.slice(20, 90)), [20, 80], 'the next fix at once, then the heartbeat counts from it');
  t.equal(p.offer(fixes[90]!, { recording: false }), false);
  t.same(p.requestImmediate('recording'), fixes[90], 'an unreported last fix is handed out');
  t.equal(p.offer(fixes[91]!, { recording: false }), true);
  t.equal(p.lastReason, 'immediate');
  t.equal(p.requestImmediate('recording'), undefined, 'a last fix that was reported is not handed out again (one fix, one seq)');
  t.equal(p.offer(fixes[92]!, { recording: false }), true, 'the next fix still goes at once');
  t.equal(p.lastReason, 'immediate');
});

t.test('temporary tracking overrides the rate and ends by itself', async (t) => {
  const p = new ReportingPolicy(OPTS);
  const fixes = standing(200);
  t.same(reportedAt(p, fixes.slice(0, 11)), [0]);
  p.setTemporary(2, 30, T0 + 10_000); // from second 10, for 30 s
  t.equal(p.intervalMsAt(T0 + 10_000, false), 2000);
  t.same(reportedAt(p, fixes.slice(11, 200)), [...range(11, 39, 2), 99, 159],
    'every 2 s until second 40, then the 60 s heartbeat again, counted from the last report');
  t.equal(p.temporaryActiveAt(T0 + 39_999), false, 'expired (and forgotten)');
  t.equal(p.intervalMsAt(T0 + 39_000, false), 60_000);
});

t.test('temporary tracking starts at its own time, only ever speeds reporting up, and 0 cancels it', async (t) => {
  const p = new ReportingPolicy(OPTS);
  p.setTemporary(3, 60, T0 + 20_000);
  t.equal(p.temporaryActiveAt(T0 + 19_999), false);
  t.equal(p.temporaryActiveAt(T0 + 20_000), true);
  t.equal(p.temporaryActiveAt(T0 + 80_000), false, 'the end is exclusive');

  const slow = new ReportingPolicy(OPTS);
  slow.setTemporary(10, 60, T0);
  const walk = straight({ n: 10, stepMs: 1000, speed: 1.4, courseDeg: 80 });
  t.same(reportedAt(slow, walk, true), range(0, 9, 1), 'a 10 s override does not slow a recording camera');

  const cancel = new ReportingPolicy(OPTS);
  cancel.setTemporary(1, 600, T0);
  const fixes = standing(130);
  t.same(reportedAt(cancel, fixes.slice(0, 5)), [0, 1, 2, 3, 4]);
  cancel.setTemporary(0, 0, T0 + 5000);
  t.same(reportedAt(cancel, fixes.slice(5, 130)), [64, 124]);
});

t.test('the policy is a pure function of its inputs', async (t) => {
  const rnd = seeded(11);
  const fixes: Fix[] = [];
  let pos = ORIGIN;
  for (let i = 0; i < 2000; i++) {
    const moving = Math.floor(i / 200) % 2 === 0;
    if (moving) pos = offset(pos, rnd() * 3, rnd() * 3);
    fixes.push(fixAt(T0 + i * 1000, pos, { speed: moving ? 1.5 : 0.1, course: rnd() * 360 }));
  }
  const runOnce = () => {
    const p = new ReportingPolicy(OPTS);
    return fixes.map((f, i) => {
      if (i === 500) p.requestImmediate('sos');
      if (i === 800) p.setTemporary(2, 60, f.timeMs);
      return p.offer(f, { recording: i > 1200 && i < 1300 }) ? p.lastReason : null;
    });
  };
  const a = runOnce();
  t.same(runOnce(), a, 'same fixes and events, same reports');
  t.ok(a.filter(Boolean).length > 100, 'and it did report');
});

t.test('bad options and overrides are refused with a clear error', async (t) => {
  t.throws(() => new ReportingPolicy({ ...OPTS, movingIntervalS: 0 }), /movingIntervalS must be a positive number/);
  t.throws(() => new ReportingPolicy({ ...OPTS, stationarySpeedMps: -1 }), /stationarySpeedMps/);
  const p = new ReportingPolicy(OPTS);
  try {
    p.setTemporary(NaN, 10, T0);
    t.fail('NaN interval accepted');
  } catch (err) {
    t.ok(isBwcError(err, 'BAD_TRACKING_OVERRIDE'));
    t.match((err as Error).message, /intervalS/);
  }
  t.throws(() => p.setTemporary(5, -1, T0), /durationS/);
});
