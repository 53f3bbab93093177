import mqtt from 'mqtt';
import pino from 'pino';
import type { Fix } from '../protocol/fix.js';
import { generateKeyPairSync } from 'node:crypto';
import { encodeTrackBatch } from '../protocol/track-codec.js';
import { LiveFormChooser } from '../protocol/live-codec.js';
import { ChainBuilder, encodeCheckpoint, fixContent, leafOf } from '../protocol/device-auth.js';
import { Topics } from '../protocol/topics.js';
import { timeSeqFloor } from '../agent/buffer/seq-floor.js';
import { MqttSession } from '../agent/mqtt/mqtt-session.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { TestMosquitto } from '../test/helpers/mosquitto.js';
import { countingProxy, type Capture } from '../test/helpers/publish-counter.js';
import { type BenchRow, runIfMain } from './bench-kit.js';
import { encode0200 } from './peers/jt808.js';
import { encodeDdata } from './peers/sparkplug-b.js';

/**
 * What one live fix costs on the wire, in whole MQTT PUBLISH packets as they
 * leave the client (fixed header, topic or topic alias, packet id,
 * properties, payload), captured by a counting TCP proxy in front of a real
 * mosquitto and parsed with mqtt-packet. Ours goes through the agent's own
 * MqttSession and LiveFormChooser, as the publisher sends a live fix (compact
 * live form on `dev/{id}/live`, a full form every 60 s of fix time, topic
 * alias on MQTT 5), with the device's signed checkpoints (every 150 s, the
 * default) sent through the same session and counted in; MQTT 3.1.1 and the
 * older one-fix TrackBatch form beside it; and the same fixes as Sparkplug B
 * DDATA (by metric alias, after a DBIRTH) and JT/T 808 0x0200 with its 0x7E
 * framing (JT/T 808 runs on TCP, not MQTT: its figure is the whole frame).
 * TCP/IP and TLS overhead is left out of every figure.
 */
const FIXES = 300;
const DEVICE = 'BWC-0001';
/** The agent's defaults: publish.liveFullEveryS and security.checkpointIntervalS, at 1 Hz. */
const LIVE_FULL_EVERY_MS = 60_000;
const CHECKPOINT_EVERY = 150;
const KEY = generateKeyPairSync('ed25519').privateKey;

function fixes(): Fix[] {
  const p = new Patrol({ seed: 5, vehicle: false, speedMps: 1.4 });
  return Array.from({ length: FIXES }, () => p.next());
}

type Form = 'compact' | 'track';

/** Live fixes through the agent's MqttSession as the publisher sends them, then the checkpoints that cover them. */
async function ours(brokerPort: number, version: 4 | 5, form: Form, fs: Fix[]): Promise<Capture & { checkpoints: Capture }> {
  const proxy = await countingProxy(brokerPort, version);
  const topics = new Topics();
  const session = new MqttSession({
    brokers: [`mqtt://127.0.0.1:${proxy.port}`],
    clientId: `bench-live-${version}-${form}`,
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
  const chooser = new LiveFormChooser(LIVE_FULL_EVERY_MS);
  const chain = new ChainBuilder(DEVICE);
  const checkpoints: Uint8Array[] = [];
  const seal = () => {
    const c = chain.seal(KEY, { session: 7, sentMs: Date.now() });
    if (c) checkpoints.push(encodeCheckpoint(c));
  };
  // A device of this version starts above the time floor: a realistic seq.
  let seq = timeSeqFloor(Date.now()) + 1;
  for (const [i, fix] of fs.entries()) {
    const payload =
      form === 'compact'
        ? chooser.encode(DEVICE, seq, fix, fix.timeMs)
        : encodeTrackBatch({ header: { deviceId: DEVICE, seq, session: 7, sentMs: fix.timeMs + 180 }, historical: false, fixes: [fix], seqs: [seq] });
    chain.add(seq, leafOf('fix', fixContent(fix, seq)));
    seq += 1;
    await session.publish(topics.device(DEVICE, form === 'compact' ? 'live' : 'track'), payload, { qos: 1, alias: true });
    if ((i + 1) % CHECKPOINT_EVERY === 0) seal();
  }
  seal();
  const livePackets = proxy.capture.publishes.length;
  for (const c of checkpoints) await session.publish(topics.device(DEVICE, 'auth'), c, { qos: 1 });
  await session.stop();
  await new Promise<void>((r) => proxy.server.close(() => r()));
  const all = proxy.capture.publishes;
  return { publishes: all.slice(0, livePackets), checkpoints: { publishes: all.slice(livePackets) } };
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
  const row = (metric: string, value: number, unit: string, goal?: string, met?: boolean) => rows.push({ bench: 'live-path', metric, value: Number(value.toFixed(2)), unit, goal, met });
  const broker = await TestMosquitto.start();
  try {
    const fs = fixes();
    const v5 = await ours(broker.port, 5, 'compact', fs);
    const v4 = await ours(broker.port, 4, 'compact', fs);
    const track5 = await ours(broker.port, 5, 'track', fs);
    const sp = await sparkplug(broker.port, fs);
    const after = (c: Capture) => c.publishes.slice(1);
    const sum = (c: Capture, k: 'payload' | 'bytes') => c.publishes.reduce((a, p) => a + p[k], 0);
    const payload = avg(v5.publishes.map((p) => p.payload));
    const authPayload = sum(v5.checkpoints, 'payload') / FIXES;
    row('ours (compact live form): payload per live fix', payload, 'B');
    row('ours: payload per live fix with the signed checkpoints amortised (authenticity)', payload + authPayload, 'B', '<= 24', payload + authPayload <= 24);
    row('ours: full forms among the live fixes (first, then every 60 s)', v5.publishes.filter((p) => (p.firstByte & 1) === 1).length, 'of ' + FIXES);
    const aliasCost = avg(after(v5).map((p) => p.topicCost - 2));
    row('ours MQTT 5: topic alias per message after the first (plus the 2 B length of the empty topic name)', aliasCost, 'B', '<= 3', aliasCost <= 3);
    row('ours MQTT 5: whole PUBLISH per live fix after the first', avg(after(v5).map((p) => p.bytes)), 'B');
    row('ours MQTT 5: whole PUBLISH per live fix, checkpoints amortised', (sum(v5, 'bytes') + sum(v5.checkpoints, 'bytes')) / FIXES, 'B');
    row('ours MQTT 5: first PUBLISH (topic + alias set)', v5.publishes[0]?.bytes ?? NaN, 'B');
    row('ours MQTT 3.1.1: topic bytes per message', avg(v4.publishes.map((p) => p.topicCost)), 'B');
    row('ours MQTT 3.1.1: whole PUBLISH per live fix', avg(v4.publishes.map((p) => p.bytes)), 'B');
    row('ours, older one-fix TrackBatch form (liveForm: track): payload per live fix', avg(track5.publishes.map((p) => p.payload)), 'B');
    row('ours, older TrackBatch form, MQTT 5: whole PUBLISH per live fix after the first', avg(after(track5).map((p) => p.bytes)), 'B');
    row('Sparkplug B DDATA (3.1.1, metric aliases): payload per fix', avg(sp.publishes.map((p) => p.payload)), 'B');
    row('Sparkplug B DDATA (3.1.1): whole PUBLISH per fix', avg(sp.publishes.map((p) => p.bytes)), 'B');
    row('JT/T 808 0x0200 with 0x7E framing (TCP, no MQTT): frame per fix', avg(fs.map((f, i) => encode0200(f, '013800138000', i).length)), 'B');
    const counted = [v5, v4, track5, sp].map((c) => c.publishes.length);
    row('live PUBLISH packets counted (ours 5 / ours 3.1.1 / TrackBatch / Sparkplug)', counted.reduce((a, b) => a + b, 0), 'packets', `= ${4 * FIXES}`, counted.every((n) => n === FIXES));
  } finally {
    await broker.stop();
  }
  return rows;
}

await runIfMain(import.meta.url, run);
