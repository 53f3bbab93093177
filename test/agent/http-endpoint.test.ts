import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { Agent } from '../../agent/agent.js';
import { loadConfigText } from '../../config/load-config.js';
import { Simulator } from '../../sim/simulator.js';
import { TestMosquitto } from '../helpers/mosquitto.js';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : undefined;
}

t.test('/healthz follows the broker link and /metrics counts fixes, messages and last fix age', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-http-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const sim = new Simulator({ cameras: 1, transport: 'pty', rateHz: 1, seed: 5, footageDir: join(dir, 'footage'), portDir: join(dir, 'ports') });
  const [p] = await sim.start();
  t.teardown(() => sim.stop());
  const yaml = stringify({
    agent: { id: 'http-gw', dataDir: join(dir, 'data') },
    http: { enabled: true, port: 0 },
    mqtt: { brokers: [broker.url], reconnect: { minMs: 100, maxMs: 500 } },
    devices: [{ id: 'BWC-0001', gnss: p!.port, control: p!.control }],
    reporting: { movingIntervalS: 1, stationaryIntervalS: 1 },
  });
  const agent = await Agent.start(loadConfigText(yaml, join(dir, 'agent.yaml')), pino({ level: 'silent' }));
  t.teardown(() => agent.stop());
  const port = agent.httpPort!;

  const deadline = Date.now() + 30_000;
  let text = '';
  while (Date.now() < deadline) {
    text = (await get(port, '/metrics')).body;
    if ((metric(text, 'bwc_messages_out_total', 'kind="track"') ?? 0) >= 3) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.ok((metric(text, 'bwc_fixes_in_total', 'device="BWC-0001"') ?? 0) >= 3, 'fixes in are counted');
  t.ok((metric(text, 'bwc_messages_out_total', 'kind="track"') ?? 0) >= 3, 'acknowledged track messages are counted');
  t.ok(metric(text, 'bwc_last_fix_age_seconds', 'device="BWC-0001"')! < 10, 'the last fix is recent');
  t.equal(metric(text, 'bwc_fixes_dropped_total', 'device="BWC-0001",reason="jump"'), 0, 'drop reasons are exported before any drop');
  t.ok(metric(text, 'bwc_buffered_rows') !== undefined, 'buffered rows are exported');
  const healthy = await get(port, '/healthz');
  t.equal(healthy.status, 200);
  t.match(JSON.parse(healthy.body), { ok: true });

  await broker.stop();
  const down = Date.now() + 20_000;
  let status = 200;
  while (status === 200 && Date.now() < down) {
    status = (await get(port, '/healthz')).status;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(status, 503, '/healthz says unhealthy while the broker is gone');
  await broker.restart();
  const up = Date.now() + 20_000;
  while (status !== 200 && Date.now() < up) {
    status = (await get(port, '/healthz')).status;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(status, 200, 'and healthy again once it is back');
  t.ok((metric((await get(port, '/metrics')).body, 'bwc_mqtt_reconnects_total') ?? 0) >= 1, 'the reconnect is counted');
});
