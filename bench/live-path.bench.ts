import { createServer, connect, type Server } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pino from 'pino';
import type { Fix } from '../protocol/fix.js';
import { encodeTrackBatch } from '../protocol/track-codec.js';
import { Topics } from '../protocol/topics.js';
import { timeSeqFloor } from '../agent/buffer/seq-floor.js';
import { MqttSession } from '../agent/mqtt/mqtt-session.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { TestMosquitto } from '../test/helpers/mosquitto.js';
import { type BenchRow, runIfMain } from './bench-kit.js';
import { encode0200 } from './peers/jt808.js';
import { encodeDdata } from './peers/sparkplug-b.js';

/**
 * What one live fix costs on the wire, in whole MQTT PUBLISH packets as they
 * leave the client (fixed header, topic or topic alias, packet id,
 * properties, payload), captured by a counting TCP proxy in front of a real
 * mosquitto and parsed with mqtt-packet. Ours goes through the agent's own
 * MqttSession (MQTT 5 with topic aliases switched on, which the agent does not
 * do yet, see MqttSessionOptions.topicAliases; and MQTT 3.1.1); beside it the same
 * fixes as Sparkplug B DDATA (by metric alias, after a DBIRTH) and JT/T 808
 * 0x0200 with its 0x7E framing (JT/T 808 runs on TCP, not MQTT: its figure is
 * the whole frame). TCP/IP and TLS overhead is left out of every figure.
 */
const FIXES = 300;
const DEVICE = 'BWC-0001';

interface Capture {
  publishes: Array<{ bytes: number; payload: number; topicCost: number }>;
}

/** A proxy that parses what the client sends: every PUBLISH's whole size, payload and topic bytes. */
async function countingProxy(targetPort: number, protocolVersion: 4 | 5): Promise<{ server: Server; port: number; capture: Capture }> {
  const capture: Capture = { publishes: [] };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (p) => {
      if (p.cmd !== 'publish') return;
      const payload = (p.payload as Buffer).length;
      const remaining = p.length ?? 0;
      const bytes = 1 + varintSize(remaining) + remaining;
      const alias = (p.properties as { topicAlias?: number } | undefined)?.topicAlias !== undefined;
      capture.publishes.push({ bytes, payload, topicCost: 2 + Buffer.byteLength(p.topic) + (alias ? 3 : 0) });
    });
    client.on('data', (d) => {
      parser.parse(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, capture };
}

function varintSize(n: number): number {
  let s = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

function fixes(): Fix[] {
  const p = new Patrol({ seed: 5, vehicle: false, speedMps: 1.4 });
  return Array.from({ length: FIXES }, () => p.next());
}

/** Live fixes through the agent's MqttSession, as the publisher sends them (one TrackBatch of one fix each). */
async function ours(brokerPort: number, version: 4 | 5, fs: Fix[]): Promise<Capture> {
  const proxy = await countingProxy(brokerPort, version);
  const topics = new Topics();
  const session = new MqttSession({
    brokers: [`mqtt://127.0.0.1:${proxy.port}`],
    clientId: `bench-live-${version}`,
    keepaliveS: 60,
    connectTimeoutMs: 5000,
    protocolVersion: version,
    topicAliases: true,
    reconnect: { minMs: 100, maxMs: 1000, factor: 2 },
    nextSession: () => 7,
    will: () => ({ topic: topics.agent('bench', 'state'), payload: Buffer.alloc(0) }),
    log: pino({ level: 'silent' }),
  });
  const up = new Promise((r) => session.once('up', r));
  session.start();
  await up;
  // A device of this version starts above the time floor: a realistic seq.
  let seq = timeSeqFloor(Date.now()) + 1;
  for (const fix of fs) {
    const payload = encodeTrackBatch({ header: { deviceId: DEVICE, seq, session: 7, sentMs: fix.timeMs + 180 }, historical: false, fixes: [fix], seqs: [seq] });
    seq += 1;
    await session.publish(topics.device(DEVICE, 'track'), payload, { qos: 1 });
  }
  await session.stop();
  await new Promise<void>((r) => proxy.server.close(() => r()));
  return proxy.capture;
}

async function sparkplug(brokerPort: number, fs: Fix[]): Promise<Capture> {
  const proxy = await countingProxy(brokerPort, 4);
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${proxy.port}`, { protocolVersion: 4, reconnectPeriod: 0 });
  let seq = 0;
  for (const fix of fs) await c.publishAsync('spBv1.0/bwc/DDATA/gw-0001/BWC-0001', Buffer.from(encodeDdata(fix, seq++)), { qos: 1 });
  await c.endAsync();
  await new Promise<void>((r) => proxy.server.close(() => r()));
  return proxy.capture;
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (metric: string, value: number, unit: string, goal?: string, met?: boolean) => rows.push({ bench: 'live-path', metric, value, unit, goal, met });
  const broker = await TestMosquitto.start();
  try {
    const fs = fixes();
    const v5 = await ours(broker.port, 5, fs);
    const v4 = await ours(broker.port, 4, fs);
    const sp = await sparkplug(broker.port, fs);
    const after = (c: Capture) => c.publishes.slice(1);
    const payload = avg(v5.publishes.map((p) => p.payload));
    row('ours: payload per live fix (header included)', payload, 'B', '<= 24', payload <= 24);
    row('ours: payload + 2 B/fix allowance for the authenticity chain', payload + 2, 'B', '<= 24', payload + 2 <= 24);
    const topic5 = avg(after(v5).map((p) => p.topicCost));
    row('ours MQTT 5, aliases on (off in the agent): topic bytes per message after the first', topic5, 'B', '<= 3', topic5 <= 3);
    row('ours MQTT 5, aliases on: whole PUBLISH per live fix', avg(after(v5).map((p) => p.bytes)), 'B');
    row('ours MQTT 5: first PUBLISH (topic + alias set)', v5.publishes[0]?.bytes ?? NaN, 'B');
    row('ours MQTT 3.1.1: topic bytes per message', avg(v4.publishes.map((p) => p.topicCost)), 'B');
    row('ours MQTT 3.1.1: whole PUBLISH per live fix', avg(v4.publishes.map((p) => p.bytes)), 'B');
    row('Sparkplug B DDATA (3.1.1, metric aliases): payload per fix', avg(sp.publishes.map((p) => p.payload)), 'B');
    row('Sparkplug B DDATA (3.1.1): whole PUBLISH per fix', avg(sp.publishes.map((p) => p.bytes)), 'B');
    row('JT/T 808 0x0200 with 0x7E framing (TCP, no MQTT): frame per fix', avg(fs.map((f, i) => encode0200(f, '013800138000', i).length)), 'B');
    row('PUBLISH packets counted (ours 5 / ours 3.1.1 / Sparkplug)', v5.publishes.length + v4.publishes.length + sp.publishes.length, 'packets', `= ${3 * FIXES}`, v5.publishes.length === FIXES && v4.publishes.length === FIXES && sp.publishes.length === FIXES);
  } finally {
    await broker.stop();
  }
  return rows;
}

await runIfMain(import.meta.url, run);
