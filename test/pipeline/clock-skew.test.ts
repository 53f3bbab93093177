import t from 'tap';
import { ClockSkew } from '../../agent/pipeline/clock-skew.js';
import { isBwcError } from '../../common/errors.js';
import { T0, seeded } from './track-helpers.js';

/**
 * A system clock `skewMs` ahead of GNSS time; each fix read `latency` ms
 * after its epoch. Returns the (gnssMs, systemMs) pairs.
 */
function gnssSamples(n: number, skewMs: number, latency: (i: number) => number, t0 = T0): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => {
    const gnss = t0 + i * 1000;
    return [gnss, gnss + skewMs + latency(i)];
  });
}

t.test('system minus GNSS is the least-delayed sample, whatever the other delays', async (t) => {
  const rnd = seeded(5);
  const skew = new ClockSkew();
  t.same(skew.snapshot(), { gnssValid: false }, 'nothing known before the first sample');
  for (const [g, s] of gnssSamples(20, 2000, (i) => (i === 7 ? 40 : 60 + Math.floor(rnd() * 400)))) skew.observeGnss(g, s);
  t.same(skew.snapshot(), { systemMinusGnssMs: 2040, gnssValid: true });
});

t.test('one late sample changes nothing, and is not a jump', async (t) => {
  const skew = new ClockSkew();
  for (const [g, s] of gnssSamples(10, -500, () => 80)) skew.observeGnss(g, s);
  skew.observeGnss(T0 + 10_000, T0 + 10_000 - 500 + 900); // 900 ms late: serial buffer hiccup
  skew.observeGnss(T0 + 11_000, T0 + 11_000 - 500 + 6000); // 6 s late: beyond the jump threshold
  for (const [g, s] of gnssSamples(5, -500, () => 80, T0 + 12_000)) skew.observeGnss(g, s);
  t.equal(skew.snapshot().systemMinusGnssMs, -420);
  t.same(skew.detectJump(), [], 'a single outlier is not a clock jump');
});

t.test('a single early sample (a bogus fix time) is not a jump either', async (t) => {
  const skew = new ClockSkew();
  for (const [g, s] of gnssSamples(10, 100, () => 50)) skew.observeGnss(g, s);
  skew.observeGnss(T0 + 10_000 + 3600_000, T0 + 10_000 + 150); // an hour ahead, once
  for (const [g, s] of gnssSamples(5, 100, () => 50, T0 + 11_000)) skew.observeGnss(g, s);
  t.equal(skew.snapshot().systemMinusGnssMs, 150);
  t.same(skew.detectJump(), []);
});

t.test('a system clock stepped forward is a jump once it persists, and the estimate follows at once', async (t) => {
  const skew = new ClockSkew();
  for (const [g, s] of gnssSamples(20, 0, () => 100)) skew.observeGnss(g, s);
  t.same(skew.detectJump(), []);
  // NTP steps the system clock 10 s forward
  const after = gnssSamples(5, 10_000, () => 100, T0 + 20_000);
  skew.observeGnss(...after[0]!);
  skew.observeGnss(...after[1]!);
  t.same(skew.detectJump(), [], 'two samples are not enough');
  t.equal(skew.snapshot().systemMinusGnssMs, 100, 'the estimate holds until the jump is confirmed');
  skew.observeGnss(...after[2]!);
  const jumps = skew.detectJump();
  t.same(jumps, [{ clock: 'system-gnss', fromMs: 100, toMs: 10_100, deltaMs: 10_000, atSystemMs: after[2]![1] }]);
  t.equal(skew.snapshot().systemMinusGnssMs, 10_100, 'no waiting for the old samples to leave the window');
  t.same(skew.detectJump(), [], 'a jump is reported once');
});

t.test('a system clock stepped backwards is detected the same way', async (t) => {
  const skew = new ClockSkew({ jumpThresholdMs: 500 });
  for (const [g, s] of gnssSamples(10, 3000, () => 20)) skew.observeGnss(g, s);
  for (const [g, s] of gnssSamples(4, 0, () => 20, T0 + 10_000)) skew.observeGnss(g, s);
  const [jump, ...more] = skew.detectJump();
  t.equal(more.length, 0);
  t.equal(jump?.deltaMs, -3000);
  t.equal(skew.snapshot().systemMinusGnssMs, 20);
});

t.test('a change below the threshold is drift, not a jump', async (t) => {
  const skew = new ClockSkew({ jumpThresholdMs: 1000, windowSize: 4 });
  for (const [g, s] of gnssSamples(10, 0, () => 10)) skew.observeGnss(g, s);
  for (const [g, s] of gnssSamples(10, 800, () => 10, T0 + 10_000)) skew.observeGnss(g, s);
  t.same(skew.detectJump(), []);
  t.equal(skew.snapshot().systemMinusGnssMs, 810, 'the window moved on to the new offset');
});

t.test('camera clock against system and GNSS', async (t) => {
  const skew = new ClockSkew();
  // camera runs 30 s behind the system clock; the reply reaches us 5–60 ms after the camera read its clock
  const rnd = seeded(9);
  for (let i = 0; i < 12; i++) {
    const arrive = T0 + i * 30_000;
    const latency = i === 4 ? 5 : 20 + Math.floor(rnd() * 40);
    skew.observeCamera(arrive - latency - 30_000, arrive);
  }
  t.same(skew.snapshot(), { gnssValid: false, cameraMinusSystemMs: -30_005 }, 'no GNSS yet: camera − GNSS unknown');
  for (const [g, s] of gnssSamples(5, 2000, () => 0)) skew.observeGnss(g, s);
  t.same(skew.snapshot(), { gnssValid: true, systemMinusGnssMs: 2000, cameraMinusSystemMs: -30_005, cameraMinusGnssMs: -28_005 });
  // the officer's camera is set to the right time: camera − GNSS becomes ~0
  for (let i = 0; i < 3; i++) {
    const arrive = T0 + 400_000 + i * 30_000;
    skew.observeCamera(arrive - 5 - 2000, arrive);
  }
  const jumps = skew.detectJump();
  t.equal(jumps.length, 1);
  t.equal(jumps[0]?.clock, 'system-camera');
  t.equal(jumps[0]?.deltaMs, -28_000);
  t.equal(skew.snapshot().cameraMinusGnssMs, -5);
});

t.test('GNSS validity goes stale without samples', async (t) => {
  const skew = new ClockSkew({ gnssStaleMs: 10_000 });
  skew.observeGnss(T0, T0 + 50);
  t.equal(skew.snapshot(T0 + 5000).gnssValid, true);
  t.equal(skew.snapshot(T0 + 60_000).gnssValid, false, 'a minute without a fix: GNSS time is not a reference');
  t.equal(skew.snapshot(T0 + 60_000).systemMinusGnssMs, 50, 'the last estimate is still reported');
});

t.test('samples with non-finite times are counted and ignored, never thrown', async (t) => {
  const skew = new ClockSkew();
  skew.observeGnss(NaN, T0);
  skew.observeGnss(T0, Infinity);
  skew.observeCamera(T0, NaN);
  t.equal(skew.rejectedSamples, 3);
  t.same(skew.snapshot(), { gnssValid: false });
});

t.test('bad options are refused with a clear error', async (t) => {
  try {
    new ClockSkew({ windowSize: 0 });
    t.fail('accepted');
  } catch (err) {
    t.ok(isBwcError(err, 'BAD_CLOCK_OPTIONS'));
    t.match((err as Error).message, /windowSize/);
  }
  t.throws(() => new ClockSkew({ jumpThresholdMs: -1 }), /jumpThresholdMs/);
});
