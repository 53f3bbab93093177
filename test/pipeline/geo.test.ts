import t from 'tap';
import { EARTH_RADIUS_M, bearingDeg, haversineM, headingDiffDeg, normalizeDeg } from '../../agent/pipeline/geo.js';

const ONE_DEG_M = (EARTH_RADIUS_M * Math.PI) / 180; // 111 195 m

t.test('haversine: degrees of latitude and longitude', async (t) => {
  t.ok(Math.abs(haversineM({ lat: 0, lon: 0 }, { lat: 1, lon: 0 }) - ONE_DEG_M) < 1e-6);
  t.ok(Math.abs(ONE_DEG_M - 111_195) < 1, 'one degree is about 111.2 km');
  // a degree of longitude shrinks with cos(latitude)
  const at60 = haversineM({ lat: 60, lon: 10 }, { lat: 60, lon: 11 });
  t.ok(Math.abs(at60 - ONE_DEG_M * 0.5) < 10, `1° of longitude at 60°N is ~55.6 km, got ${at60}`);
  t.equal(haversineM({ lat: 30.04, lon: 121.15 }, { lat: 30.04, lon: 121.15 }), 0);
  // Yuyao to Ningbo, a known distance of about 45 km
  const d = haversineM({ lat: 30.04, lon: 121.15 }, { lat: 29.87, lon: 121.55 });
  t.ok(d > 40_000 && d < 45_000, `Yuyao–Ningbo ~43 km, got ${d}`);
});

t.test('haversine across the antimeridian and over the poles', async (t) => {
  const across = haversineM({ lat: 0, lon: 179.9999 }, { lat: 0, lon: -179.9999 });
  t.ok(Math.abs(across - 0.0002 * ONE_DEG_M) < 0.01, `two fixes 22 m apart across ±180°, got ${across}`);
  const overPole = haversineM({ lat: 89.9999, lon: 0 }, { lat: 89.9999, lon: 180 });
  t.ok(Math.abs(overPole - 0.0002 * ONE_DEG_M) < 0.01, `two fixes 22 m apart across the pole, got ${overPole}`);
  t.ok(haversineM({ lat: 90, lon: 0 }, { lat: 90, lon: 123 }) < 1e-6, 'every longitude is the same point at the pole');
  t.ok(haversineM({ lat: -90, lon: 45 }, { lat: -90, lon: -135 }) < 1e-6, 'south pole too');
  const antipodal = haversineM({ lat: 0, lon: 0 }, { lat: 0, lon: 180 });
  t.ok(Math.abs(antipodal - Math.PI * EARTH_RADIUS_M) < 1e-3, 'antipodes: half the circumference, no NaN');
});

t.test('bearing', async (t) => {
  t.ok(Math.abs(bearingDeg({ lat: 0, lon: 0 }, { lat: 1, lon: 0 }) - 0) < 1e-9, 'north');
  t.ok(Math.abs(bearingDeg({ lat: 0, lon: 0 }, { lat: 0, lon: 1 }) - 90) < 1e-9, 'east');
  t.ok(Math.abs(bearingDeg({ lat: 0, lon: 0 }, { lat: -1, lon: 0 }) - 180) < 1e-9, 'south');
  t.ok(Math.abs(bearingDeg({ lat: 0, lon: 0 }, { lat: 0, lon: -1 }) - 270) < 1e-9, 'west');
  t.ok(Math.abs(bearingDeg({ lat: 0, lon: 179.9 }, { lat: 0, lon: -179.9 }) - 90) < 1e-9, 'eastward across the antimeridian is still east');
  t.ok(Math.abs(bearingDeg({ lat: 0, lon: -179.9 }, { lat: 0, lon: 179.9 }) - 270) < 1e-9, 'westward across it is west');
});

t.test('heading difference wraps at 0°/360°', async (t) => {
  t.equal(headingDiffDeg(359, 1), 2);
  t.equal(headingDiffDeg(1, 359), 2);
  t.equal(headingDiffDeg(350, 10), 20);
  t.equal(headingDiffDeg(0, 180), 180);
  t.equal(headingDiffDeg(90, 270), 180);
  t.equal(headingDiffDeg(90, 90), 0);
  t.equal(headingDiffDeg(0, 360), 0);
  t.equal(headingDiffDeg(725, -5), 10, 'any angle is normalised first');
  t.equal(headingDiffDeg(10, 200), 170);
  for (let a = 0; a < 360; a += 7) {
    for (let b = 0; b < 360; b += 11) {
      const d = headingDiffDeg(a, b);
      if (d < 0 || d > 180 || d !== headingDiffDeg(b, a)) t.fail(`headingDiffDeg(${a}, ${b}) = ${d}`);
    }
  }
});

t.test('normalizeDeg lands in [0, 360)', async (t) => {
  t.equal(normalizeDeg(360), 0);
  t.equal(normalizeDeg(-90), 270);
  t.equal(normalizeDeg(-1e-15), 0, 'a tiny negative angle does not round up to 360');
  t.equal(normalizeDeg(1080.5), 0.5);
});
