import t from 'tap';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { DROP_REASONS } from '../../agent/pipeline/fix-filter.js';
import { startHttpServer } from '../../agent/metrics/http-server.js';
import { parseProm } from './prom-parse.js';

const samples = (text: string, name: string) => parseProm(text).get(name)?.samples ?? [];

t.test('the agent\'s metric families and their series', async (t) => {
  let now = 1_000_000;
  let rows = 7;
  const m = new AgentMetrics({ now: () => now, bufferedRows: () => rows });
  m.addDevice('BWC-0001');
  let text = m.render();
  const families = [...parseProm(text).keys()];
  t.same(families, [
    'bwc_fixes_in_total', 'bwc_fixes_dropped_total', 'bwc_messages_out_total', 'bwc_buffered_rows',
    'bwc_buffer_dropped_total', 'bwc_mqtt_reconnects_total', 'bwc_last_fix_age_seconds',
    'bwc_fix_fields_dropped_total', 'bwc_gnss_discontinuities_total',
  ]);
  t.same(samples(text, 'bwc_fixes_dropped_total').map((s) => [s.labels.reason, s.value]), DROP_REASONS.map((r) => [r, 0]),
    'every drop reason visible at 0 before the first drop');
  t.same(samples(text, 'bwc_buffered_rows'), [{ labels: {}, value: 7 }], 'read from the buffer at scrape time');
  t.same(samples(text, 'bwc_last_fix_age_seconds'), [], 'no age before the first fix');

  for (let i = 0; i < 5; i++) m.fixIn('BWC-0001');
  m.fixDropped('BWC-0001', 'hdop');
  m.fixDropped('BWC-0001', 'jump');
  m.fixDropped('BWC-0001', 'jump');
  m.fixAccepted('BWC-0001', now - 2500);
  m.fixFieldDropped('BWC-0001', 'speed');
  m.discontinuities.inc({ device: 'BWC-0001' });
  m.messagesOut.inc({ kind: 'track' }, 3);
  m.bufferDropped.inc({ reason: 'rows' }, 100);
  m.reconnects.inc();
  rows = 0;
  now += 1000;
  text = m.render();
  t.same(samples(text, 'bwc_fixes_in_total'), [{ labels: { device: 'BWC-0001' }, value: 5 }]);
  const dropped = Object.fromEntries(samples(text, 'bwc_fixes_dropped_total').map((s) => [s.labels.reason, s.value]));
  t.same(dropped, { mode: 0, hdop: 1, jump: 2, time: 0, invalid: 0 });
  t.same(samples(text, 'bwc_last_fix_age_seconds'), [{ labels: { device: 'BWC-0001' }, value: 3.5 }], 'age from the system clock at scrape');
  t.same(samples(text, 'bwc_messages_out_total'), [{ labels: { kind: 'track' }, value: 3 }]);
  t.same(samples(text, 'bwc_buffer_dropped_total'), [{ labels: { reason: 'rows' }, value: 100 }]);
  t.same(samples(text, 'bwc_mqtt_reconnects_total'), [{ labels: {}, value: 1 }]);
  t.same(samples(text, 'bwc_fix_fields_dropped_total'), [{ labels: { device: 'BWC-0001', field: 'speed' }, value: 1 }]);
  t.same(samples(text, 'bwc_gnss_discontinuities_total'), [{ labels: { device: 'BWC-0001' }, value: 1 }]);
  t.same(samples(text, 'bwc_buffered_rows'), [{ labels: {}, value: 0 }]);

  m.removeDevice('BWC-0001');
  text = m.render();
  t.same(samples(text, 'bwc_fixes_in_total'), [], 'a removed device is no longer exported');
  t.same(samples(text, 'bwc_last_fix_age_seconds'), []);
  t.same(samples(text, 'bwc_fixes_dropped_total'), []);
});

t.test('served over HTTP as the agent serves it', async (t) => {
  const m = new AgentMetrics();
  m.addDevice('BWC-0002');
  m.fixIn('BWC-0002');
  const srv = await startHttpServer({ host: '127.0.0.1', port: 0, metrics: m.registry, health: () => ({ ok: true, detail: {} }) });
  t.teardown(() => srv.close());
  const res = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
  t.equal(res.status, 200);
  t.same(samples(await res.text(), 'bwc_fixes_in_total'), [{ labels: { device: 'BWC-0002' }, value: 1 }]);
});
