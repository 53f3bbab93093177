import t from 'tap';
import mqtt from 'mqtt';
import pino from 'pino';
import { MemoryMessageBuffer } from '../../agent/buffer/memory-message-buffer.js';
import { MqttSession } from '../../agent/mqtt/mqtt-session.js';
import { Publisher } from '../../agent/publisher.js';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { encodeBody, decodeHeader } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';
import { TestMosquitto } from '../helpers/mosquitto.js';

const DEV = 'CAM-7';
const status = (online: boolean) => encodeBody('Status', { recording: 'RECORDING_STATE_OFF', online, timeMs: Date.now(), agentId: 'gw-t' });

t.test('backlog statuses go to status/hist unretained; the retained status is the live one', { timeout: 60_000 }, async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const topics = new Topics();
  const buffer = new MemoryMessageBuffer({ seqFloor: () => 0 });
  // Written while no broker was there: a backlog of two statuses.
  buffer.append([{ deviceId: DEV, kind: 'status', timeMs: Date.now(), payload: status(true) }]);
  buffer.append([{ deviceId: DEV, kind: 'status', timeMs: Date.now(), payload: status(false) }]);

  const seen: Array<{ topic: string; seq: number; retain: boolean }> = [];
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, payload, packet) => seen.push({ topic, seq: decodeHeader(payload)!.seq, retain: packet.retain }));
  await sub.subscribeAsync('bwc/v1/#', { qos: 1 });

  const session = new MqttSession({
    brokers: [broker.url], clientId: 'pub-status-test', keepaliveS: 10, connectTimeoutMs: 3000, protocolVersion: 5,
    reconnect: { minMs: 100, maxMs: 500, factor: 2 }, nextSession: () => 1,
    will: () => ({ topic: topics.agent('gw-t', 'state'), payload: Buffer.alloc(0) }), log: pino({ level: 'silent' }),
  });
  const publisher = new Publisher({
    buffer, session, topics, log: pino({ level: 'silent' }), metrics: new AgentMetrics({ bufferedRows: () => buffer.stats().rows }),
    historicalBatchSize: 60, historicalWindow: 2, devices: () => [DEV],
  });
  // As the agent does: a fresh status on every connection (after the publisher marked the backlog).
  session.on('up', () => {
    buffer.append([{ deviceId: DEV, kind: 'status', timeMs: Date.now(), payload: status(true) }]);
    publisher.kick();
  });
  session.start();
  t.teardown(() => session.stop());
  for (const deadline = Date.now() + 30_000; seen.length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));

  t.same(seen.filter((m) => m.topic.endsWith('/status/hist')).map((m) => [m.seq, m.retain]), [[1, false], [2, false]], 'the backlog statuses, oldest first, not retained');
  t.same(seen.filter((m) => m.topic.endsWith('/status')).map((m) => m.seq), [3], 'only the live status on the retained topic');

  // A new subscriber gets the live status from the broker's retained store.
  const late = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.teardown(() => late.endAsync(true));
  const retained = new Promise<number>((resolve) => late.on('message', (_t, p, packet) => packet.retain && resolve(decodeHeader(p)!.seq)));
  await late.subscribeAsync(topics.device(DEV, 'status'), { qos: 1 });
  t.equal(await retained, 3, 'the retained status is seq 3, never a backlog one');
});
