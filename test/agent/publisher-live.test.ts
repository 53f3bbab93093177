import t from 'tap';
import mqtt from 'mqtt';
import pino from 'pino';
import { MemoryMessageBuffer } from '../../agent/buffer/memory-message-buffer.js';
import { MqttSession } from '../../agent/mqtt/mqtt-session.js';
import { Publisher } from '../../agent/publisher.js';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { encodeFixPayload } from '../../agent/fix-payload.js';
import { FleetDecoder } from '../../console/fleet/fleet-decoder.js';
import { fixToJson, type Fix } from '../../protocol/fix.js';
import { Topics } from '../../protocol/topics.js';
import { Patrol } from '../../sim/gnss/patrol.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { countingProxy } from '../helpers/publish-counter.js';
import { loadScaled } from '../helpers/deadline.js';

const DEVICES = ['CAM-1', 'CAM-2'];
const PER_DEVICE = 40;

/**
 * The publisher's live fixes, through a real mosquitto: in the compact live
 * form on `live` by topic alias (the default), or as one-fix TrackBatches on
 * `track` (`liveForm: 'track'`). Either way a subscriber decodes every fix,
 * with its seq, exactly as it was written; the compact form starts each
 * device's stream with a full form and starts again after a reconnect.
 */
for (const liveForm of ['compact', 'track'] as const) {
  t.test(`live fixes, liveForm ${liveForm}`, { timeout: 120_000 }, async (t) => {
    const broker = await TestMosquitto.start();
    t.teardown(() => broker.stop());
    const proxy = await countingProxy(broker.port, 5);
    t.teardown(() => new Promise<void>((r) => proxy.server.close(() => r())));
    const topics = new Topics();
    const buffer = new MemoryMessageBuffer({ seqFloor: () => 3_000_000_000 });

    const decoder = new FleetDecoder(topics);
    const got: Record<string, unknown>[] = [];
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    t.teardown(() => sub.endAsync(true));
    sub.on('message', (topic, payload) => got.push(...decoder.decode(topic, payload).map((r) => ({ ...r, topic: topic.split('/').pop() }))));
    await sub.subscribeAsync('bwc/v1/#', { qos: 1 });

    const session = new MqttSession({
      brokers: [`mqtt://127.0.0.1:${proxy.port}`], clientId: `pub-live-${liveForm}`, keepaliveS: 10, connectTimeoutMs: 3000, protocolVersion: 5, topicAliases: true,
      reconnect: { minMs: 50, maxMs: 300, factor: 2 }, nextSession: () => 1,
      will: () => ({ topic: topics.agent('gw-t', 'state'), payload: Buffer.alloc(0) }), log: pino({ level: 'silent' }),
    });
    const publisher = new Publisher({
      buffer, session, topics, log: pino({ level: 'silent' }), metrics: new AgentMetrics({ bufferedRows: () => buffer.stats().rows }),
      historicalBatchSize: 60, historicalWindow: 2, devices: () => DEVICES, liveForm, liveFullEveryMs: 60_000,
    });
    const up = () => new Promise((r) => session.once('up', r));
    const first = up();
    session.start();
    t.teardown(() => session.stop());
    await first;

    const patrols = DEVICES.map((d, i) => new Patrol({ seed: 40 + i, vehicle: i === 1, speedMps: i === 1 ? 12 : 1.4 }));
    const written: Array<{ device: string; fix: Fix }> = [];
    const write = async (n: number) => {
      for (let k = 0; k < n; k++) {
        for (const [i, device] of DEVICES.entries()) {
          const fix = patrols[i]!.next();
          written.push({ device, fix });
          buffer.append([{ deviceId: device, kind: 'fix', timeMs: fix.timeMs, payload: encodeFixPayload(fix) }]);
        }
        publisher.kick();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await write(PER_DEVICE / 2);
    for (const deadline = Date.now() + loadScaled(20_000); got.length < written.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    // A new connection: the compact stream starts again with a full form.
    const again = up();
    session.forceDisconnect();
    await again;
    await write(PER_DEVICE / 2);
    for (const deadline = Date.now() + loadScaled(20_000); buffer.stats().rows > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));

    const fixes = got.filter((r) => r.type === 'fix' && r.historical === false);
    const key = (r: Record<string, unknown>) => `${r.device} ${r.time}`;
    const received = new Map(fixes.map((r) => [key(r), r]));
    const missing = written.filter((w) => !received.has(`${w.device} ${new Date(w.fix.timeMs).toISOString()}`));
    t.same(missing.map((w) => w.device), [], 'every fix written arrived live');
    const wrong = written.filter((w) => {
      const r = received.get(`${w.device} ${new Date(w.fix.timeMs).toISOString()}`);
      const want = fixToJson(w.fix, { device: w.device });
      return r && (['lat', 'lon', 'alt', 'speed', 'course', 'hdop', 'sats', 'mode'] as const).some((k) => typeof want[k] === 'number' && Math.abs(Number(r[k]) - Number(want[k])) > (k === 'lat' || k === 'lon' ? 2.5e-7 : 0.05));
    });
    t.same(wrong.length, 0, 'each within its quantum of what was written');
    for (const d of DEVICES) {
      // A fix whose PUBACK the reconnect cut off comes again under its seq (a duplicate), never under another.
      const mine = fixes.filter((r) => r.device === d);
      const seqOfTime = new Map<string, Set<number>>();
      for (const r of mine) seqOfTime.set(String(r.time), (seqOfTime.get(String(r.time)) ?? new Set()).add(Number(r.seq)));
      t.ok([...seqOfTime.values()].every((s) => s.size === 1), `${d}: one seq per fix`);
      const firsts = [...new Set(mine.map((r) => Number(r.seq)))];
      t.ok(firsts.every((s, i) => i === 0 || s > firsts[i - 1]!), `${d}: new seqs arrive in increasing order (${mine.length - firsts.length} duplicates)`);
    }
    t.same([...new Set(fixes.map((r) => r.topic))], [liveForm === 'compact' ? 'live' : 'track'], `on the ${liveForm === 'compact' ? 'live' : 'track'} topic`);
    const livePublishes = proxy.capture.publishes.filter((p) => p.topic.endsWith('/live') || p.topic === '');
    if (liveForm === 'compact') {
      const full = livePublishes.filter((p) => (p.firstByte & 1) === 1).length;
      t.equal(full, 2 * DEVICES.length, 'a full form per device and connection, compact otherwise');
      t.equal(livePublishes.filter((p) => p.topic === '').length, livePublishes.length - 2 * DEVICES.length, 'after the first of a connection, by topic alias');
      t.ok(livePublishes.every((p) => ((p.firstByte & 1) === 1 ? p.payload <= 32 : p.payload <= 22)), `every live payload ≤ 22 bytes compact, ≤ 32 full (largest ${Math.max(...livePublishes.map((p) => p.payload))})`);
    } else {
      t.equal(livePublishes.length, 0, 'nothing on live');
    }
  });
}
