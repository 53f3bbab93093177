import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { SqliteMessageBuffer } from '../agent/buffer/sqlite-message-buffer.js';
import type { NewMessage } from '../agent/buffer/message-buffer.js';
import { encodeFixPayload } from '../agent/fix-payload.js';
import { MqttSession } from '../agent/mqtt/mqtt-session.js';
import { Publisher } from '../agent/publisher.js';
import { AgentMetrics } from '../agent/metrics/agent-metrics.js';
import { Topics } from '../protocol/topics.js';
import { decodeTrackBatch } from '../protocol/track-codec.js';
import { LiveReferences } from '../protocol/live-codec.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { TestMosquitto } from '../test/helpers/mosquitto.js';
import { loadAverage, round } from './agent-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';

/**
 * Drain a 24-hour backlog of one camera at 1 Hz (86,400 fixes) to a local
 * mosquitto. Goal from the agent core issue: <= 5 s.
 *
 * The buffer file is pre-filled with fix rows exactly as the device runtime
 * writes them (agent/fix-payload.ts, appended in batches, a simulated patrol),
 * then the agent's own publisher and MQTT session start against a test
 * mosquitto with the agent's defaults (60 fixes per historical batch, 8 in
 * flight, at most 500 historical messages a second), and the clock runs
 * until a subscriber (another MQTT client) has
 * decoded every fix, each sequence number once. Bytes on the wire are the
 * agent socket's bytes written and the subscriber socket's bytes read.
 */
export async function run(): Promise<BenchRow[]> {
  return [
    ...(await drain({ devices: 1, perDevice: 86_400, goalS: 5, name: 'agent-drain' })),
    // A gateway's backlog after a 15-minute outage: the fixes of 64 cameras
    // interleaved in the buffer must still go out in full batches per camera.
    ...(await drain({ devices: 64, perDevice: 900, name: 'agent-drain gateway 64 cameras × 15 min' })),
  ];
}

async function drain(c: { devices: number; perDevice: number; goalS?: number; name: string }): Promise<BenchRow[]> {
  const FIXES = c.devices * c.perDevice;
  const DEVICES = Array.from({ length: c.devices }, (_, i) => `BWC-${String(i + 1).padStart(4, '0')}`);
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-drain-'));
  const broker = await TestMosquitto.start();
  const rows: BenchRow[] = [];
  try {
    const path = join(dir, 'buffer.db');
    const fill = SqliteMessageBuffer.open({ path, syncIntervalMs: 1000 });
    // As the device runtimes write them: each second one fix of every camera.
    const patrols = DEVICES.map((_, i) => new Patrol({ seed: 11 + i, rateHz: 1 }));
    let payloadBytes = 0;
    let batch: NewMessage[] = [];
    for (let k = 0; k < c.perDevice; k++) {
      for (const [i, deviceId] of DEVICES.entries()) {
        const fix = patrols[i]!.next();
        const payload = encodeFixPayload(fix);
        payloadBytes += payload.byteLength;
        batch.push({ deviceId, kind: 'fix', timeMs: fix.timeMs, payload });
      }
      if (batch.length >= 1000) {
        fill.append(batch);
        batch = [];
      }
    }
    fill.append(batch);
    fill.close();

    // The subscriber: the platform's side, its own connection.
    const topics = new Topics();
    // Seqs start at the device's epoch floor (protocol/README.md "Sequence numbers"): counted by value.
    const seen = new Map(DEVICES.map((d) => [d, new Set<number>()]));
    const live = new LiveReferences();
    let received = 0;
    let duplicates = 0;
    let messages = 0;
    let historical = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    sub.on('message', (topic, payload) => {
      const where = topics.parse(topic);
      if (where?.kind !== 'device' || (where.channel !== 'live' && where.channel !== 'track' && where.channel !== 'track/hist')) return;
      messages++;
      let seqs: number[];
      if (where.channel === 'live') seqs = live.decode(where.deviceId, payload).map((l) => l.seq);
      else {
        const batch = decodeTrackBatch(payload);
        if (batch.historical) historical += batch.fixes.length;
        seqs = batch.seqs;
      }
      const got = seen.get(where.deviceId)!;
      for (const s of seqs) {
        if (got.has(s)) duplicates++;
        else {
          got.add(s);
          received++;
        }
      }
      if (received === FIXES) done();
    });
    await sub.subscribeAsync(`${topics.prefix}/#`, { qos: 1 });
    const subStream = (sub as unknown as { stream: { bytesRead: number } }).stream;
    const subBytes0 = subStream.bytesRead;

    const log = pino({ level: 'silent' });
    const buffer = SqliteMessageBuffer.open({ path, syncIntervalMs: 1000 });
    const metrics = new AgentMetrics({ bufferedRows: () => buffer.stats().rows });
    let sessionNo = 0;
    const session = new MqttSession({
      brokers: [broker.url],
      clientId: 'bwc-bench-drain',
      keepaliveS: 30,
      connectTimeoutMs: 5000,
      protocolVersion: 5,
      reconnect: { minMs: 100, maxMs: 1000, factor: 2 },
      nextSession: () => ++sessionNo,
      will: () => ({ topic: topics.agent('bench', 'state'), payload: Buffer.alloc(0) }),
      log,
    });
    new Publisher({ buffer, session, topics, log, metrics, historicalBatchSize: 60, historicalWindow: 8, historicalMaxPerS: 500, devices: () => DEVICES });
    const load = loadAverage();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    session.start();
    const timeout = setTimeout(() => done(), 60_000);
    await all;
    clearTimeout(timeout);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const agentBytes = (session as unknown as { client?: { stream?: { bytesWritten: number } } }).client?.stream?.bytesWritten ?? NaN;
    const subBytes = subStream.bytesRead - subBytes0;
    // Let the last PUBACKs land so the buffer is empty when closed.
    for (let i = 0; i < 50 && buffer.stats().rows > 0; i++) await new Promise((r) => setTimeout(r, 20));
    const left = buffer.stats().rows;
    await session.stop();
    buffer.close();
    await sub.endAsync(true);

    const complete = received === FIXES;
    const bench = c.name;
    const what = `${c.devices === 1 ? 'one camera' : `${c.devices} cameras`}, ${FIXES} fixes at 1 Hz`;
    rows.push(
      { bench, metric: `backlog (${what}) to subscriber`, value: complete ? round(seconds, 2) : NaN, unit: 's', ...(c.goalS ? { goal: `<= ${c.goalS}`, met: complete && seconds <= c.goalS } : {}) },
      { bench, metric: 'fixes received (each seq once)', value: received, unit: 'fixes', goal: `= ${FIXES}`, met: complete },
      { bench, metric: 'duplicates / rows left in buffer', value: duplicates + left, unit: 'rows' },
      { bench, metric: 'drain rate', value: Math.round(received / seconds), unit: 'fixes/s' },
      { bench, metric: 'messages (historical batches + newest fixes)', value: messages, unit: 'msgs' },
      { bench, metric: 'fixes per historical message', value: round(historical / Math.max(1, messages - c.devices), 1), unit: 'fixes' },
      { bench, metric: 'agent → broker bytes on the wire per fix', value: round(agentBytes / FIXES, 2), unit: 'B/fix' },
      { bench, metric: 'broker → subscriber bytes on the wire per fix', value: round(subBytes / FIXES, 2), unit: 'B/fix' },
      { bench, metric: 'buffered payload per fix (JSON row)', value: round(payloadBytes / FIXES, 1), unit: 'B/fix' },
      { bench, metric: 'CPU of publisher + subscriber process', value: round((cpu.user + cpu.system) / 1e6, 2), unit: 's' },
      { bench, metric: 'machine load average (2 cores) at start', value: load, unit: '' },
    );
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

void runIfMain(import.meta.url, run);
