import t from 'tap';
import { Backoff } from '../../drivers/transport/backoff.js';

t.test('the ceiling grows by the factor up to max, delays are drawn under it, reset starts again', async (t) => {
  const b = new Backoff({ minMs: 100, maxMs: 1000, factor: 2, random: () => 0.999999 });
  const delays = Array.from({ length: 7 }, () => b.next());
  t.same(delays, [100, 199, 399, 799, 999, 999, 999]);
  b.reset();
  t.equal(b.next(), 100, 'after reset the first delay again');
});

t.test('full jitter: random 0 gives the minimum, random 0.5 half the ceiling', async (t) => {
  const zero = new Backoff({ minMs: 50, maxMs: 10_000, random: () => 0 });
  t.same([zero.next(), zero.next(), zero.next()], [50, 50, 50]);
  const half = new Backoff({ minMs: 100, maxMs: 10_000, factor: 3, random: () => 0.5 });
  t.same([half.next(), half.next(), half.next(), half.next()], [100, 150, 450, 1350]);
});

t.test('with a real random source every delay stays within [min, max] and they spread out', async (t) => {
  const b = new Backoff({ minMs: 200, maxMs: 5000 });
  const delays = Array.from({ length: 2000 }, () => b.next());
  t.ok(delays.every((d) => d >= 200 && d <= 5000), 'all within bounds');
  const late = delays.slice(100);
  t.ok(new Set(late).size > 500, 'jittered: many distinct delays');
  const mean = late.reduce((a, c) => a + c, 0) / late.length;
  t.ok(mean > 1800 && mean < 3200, `mean of full jitter under a 5000 ms ceiling is about 2500, got ${mean}`);
});

t.test('never overflows after very many attempts', async (t) => {
  const b = new Backoff({ minMs: 1, maxMs: 60_000, factor: 10, random: () => 0.5 });
  for (let i = 0; i < 10_000; i++) b.next();
  t.equal(b.next(), 30_000);
});

t.test('refuses nonsense options', async (t) => {
  t.throws(() => new Backoff({ minMs: 10, maxMs: 5 }), RangeError);
  t.throws(() => new Backoff({ factor: 0.5 }), RangeError);
  t.throws(() => new Backoff({ minMs: -1 }), RangeError);
});
