import t from 'tap';
import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from '../../agent/metrics/registry.js';
import { isBwcError } from '../../common/errors.js';
import { parseProm } from './prom-parse.js';

t.test('the exposition text, exactly', async (t) => {
  const reg = new MetricsRegistry();
  const fixes = reg.counter({ name: 'bwc_fixes_in_total', help: 'Fixes decoded.', labelNames: ['device'] });
  const rows = reg.gauge({ name: 'bwc_buffered_rows', help: 'Rows waiting.' });
  fixes.inc({ device: 'BWC-0001' });
  fixes.inc({ device: 'BWC-0001' }, 2);
  fixes.inc({ device: 'BWC-0002' });
  rows.set({}, 17);
  t.equal(reg.render(), [
    '# HELP bwc_fixes_in_total Fixes decoded.',
    '# TYPE bwc_fixes_in_total counter',
    'bwc_fixes_in_total{device="BWC-0001"} 3',
    'bwc_fixes_in_total{device="BWC-0002"} 1',
    '# HELP bwc_buffered_rows Rows waiting.',
    '# TYPE bwc_buffered_rows gauge',
    'bwc_buffered_rows 17',
    '',
  ].join('\n'));
  t.equal(reg.contentType, PROMETHEUS_CONTENT_TYPE);
  t.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
});

t.test('label values and help text are escaped and parse back', async (t) => {
  const reg = new MetricsRegistry();
  const nasty = ['back\\slash', 'quote"d', 'new\nline', 'all \\"\n', '余姚 BWC-01', '{a="b"}', ''];
  const c = reg.counter({ name: 'x_total', help: 'Help with \\ backslash,\nnewline and "quotes".', labelNames: ['device', 'reason'] });
  nasty.forEach((v, i) => c.inc({ device: v, reason: `r${i}` }, i + 1));
  const text = reg.render();
  t.match(text, /x_total\{device="back\\\\slash",reason="r0"\} 1\n/);
  t.match(text, /x_total\{device="quote\\"d",reason="r1"\} 2\n/);
  t.match(text, /x_total\{device="new\\nline",reason="r2"\} 3\n/);
  t.equal(text.split('\n').length, 2 + nasty.length + 1, 'one line per sample: no raw newline leaked');
  const parsed = parseProm(text).get('x_total')!;
  t.equal(parsed.help, 'Help with \\ backslash,\nnewline and "quotes".');
  t.equal(parsed.type, 'counter');
  t.same(parsed.samples, nasty.map((v, i) => ({ labels: { device: v, reason: `r${i}` }, value: i + 1 })));
});

t.test('values: integers, fractions, negative gauges, infinities and NaN', async (t) => {
  const reg = new MetricsRegistry();
  const g = reg.gauge({ name: 'g', help: 'h', labelNames: ['k'] });
  const cases: Array<[string, number]> = [['a', 0], ['b', 1.5], ['c', -3], ['d', Infinity], ['e', -Infinity], ['f', NaN], ['g', 1e21], ['h', 0.000001]];
  for (const [k, v] of cases) g.set({ k }, v);
  t.match(reg.render(), /g\{k="d"\} \+Inf\n/);
  const samples = parseProm(reg.render()).get('g')!.samples;
  t.same(samples.map((s) => s.labels.k), cases.map(([k]) => k));
  samples.forEach((s, i) => t.ok(Object.is(s.value, cases[i]![1]), `${cases[i]![0]}: ${s.value}`));
  g.inc({ k: 'a' }, 5);
  g.dec({ k: 'a' });
  t.equal(g.get({ k: 'a' }), 4);
});

t.test('collect hooks set computed values at scrape time; series can be removed', async (t) => {
  const reg = new MetricsRegistry();
  const lastFix = new Map([['BWC-0001', 1000], ['BWC-0002', 4000]]);
  let now = 10_000;
  const age = reg.gauge({
    name: 'bwc_last_fix_age_seconds', help: 'Seconds since the last fix.', labelNames: ['device'],
    collect: () => { for (const [device, ms] of lastFix) age.set({ device }, (now - ms) / 1000); },
  });
  t.same(parseProm(reg.render()).get('bwc_last_fix_age_seconds')!.samples, [
    { labels: { device: 'BWC-0001' }, value: 9 }, { labels: { device: 'BWC-0002' }, value: 6 },
  ]);
  now = 12_500;
  lastFix.delete('BWC-0002');
  age.remove({ device: 'BWC-0002' });
  t.same(parseProm(reg.render()).get('bwc_last_fix_age_seconds')!.samples, [{ labels: { device: 'BWC-0001' }, value: 11.5 }]);
  age.reset();
  lastFix.clear();
  t.same(parseProm(reg.render()).get('bwc_last_fix_age_seconds')!.samples, [], 'a family with no series keeps its HELP and TYPE');
});

t.test('misuse is refused with stable codes and messages that name the metric', async (t) => {
  const reg = new MetricsRegistry();
  const c = reg.counter({ name: 'drops_total', help: 'Drops.', labelNames: ['reason'] });
  const cases: Array<[() => unknown, string, RegExp]> = [
    [() => c.inc({ reason: 'hdop' }, -1), 'BAD_METRIC_VALUE', /counter drops_total: increment must be a finite number ≥ 0/],
    [() => c.inc({ reason: 'hdop' }, NaN), 'BAD_METRIC_VALUE', /drops_total/],
    [() => c.inc({}), 'BAD_METRIC_LABELS', /labels must be exactly \{reason\}/],
    [() => c.inc({ reason: 'x', extra: 'y' }), 'BAD_METRIC_LABELS', /drops_total/],
    [() => c.inc({ reason: 5 as never }), 'BAD_METRIC_LABELS', /string values/],
    [() => reg.counter({ name: 'drops_total', help: 'again' }), 'BAD_METRIC_NAME', /already registered/],
    [() => reg.counter({ name: 'bad-name', help: 'h' }), 'BAD_METRIC_NAME', /must match/],
    [() => reg.gauge({ name: 'ok_name', help: '' }), 'BAD_METRIC_HELP', /help text is required/],
    [() => reg.gauge({ name: 'g1', help: 'h', labelNames: ['__reserved'] }), 'BAD_METRIC_LABELS', /not start with __/],
    [() => reg.gauge({ name: 'g2', help: 'h', labelNames: ['a', 'a'] }), 'BAD_METRIC_LABELS', /declared twice/],
    [() => reg.gauge({ name: 'g3', help: 'h', labelNames: ['1a'] }), 'BAD_METRIC_LABELS', /label name/],
  ];
  for (const [f, code, re] of cases) {
    try {
      f();
      t.fail(`accepted: ${f.toString()}`);
    } catch (err) {
      t.ok(isBwcError(err, code), `${code}: ${(err as Error).message}`);
      t.match((err as Error).message, re);
    }
  }
  t.equal(c.get({ reason: 'hdop' }), 0, 'a refused increment changed nothing');
  t.doesNotThrow(() => parseProm(reg.render()), 'the registry still renders valid text');
});
