import t from 'tap';
import mqtt from 'mqtt';
import pino from 'pino';
import { MqttSession, type SessionUp } from '../../agent/mqtt/mqtt-session.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { countingProxy } from '../helpers/publish-counter.js';
import { loadScaled } from '../helpers/deadline.js';

/**
 * Topic aliases through a real mosquitto that allows 4 per client: the first
 * 4 aliased topics go by alias after their first publish, the rest by name,
 * and a subscriber gets every message on its own topic, before and after a
 * reconnect (aliases start again on every connection).
 */
const MAX_ALIAS = 4;
const TOPICS = Array.from({ length: 7 }, (_, i) => `alias-test/dev/CAM-${i}/live`);
const OTHER = 'alias-test/dev/CAM-0/status';

function session(port: number, version: 4 | 5, aliases: boolean): MqttSession {
  return new MqttSession({
    brokers: [`mqtt://127.0.0.1:${port}`],
    clientId: `alias-${version}-${aliases}`,
    keepaliveS: 10,
    connectTimeoutMs: 5000,
    protocolVersion: version,
    topicAliases: aliases,
    reconnect: { minMs: 50, maxMs: 400, factor: 2 },
    nextSession: () => 1,
    will: () => ({ topic: 'alias-will/state', payload: Buffer.from('gone') }),
    log: pino({ level: 'silent' }),
  });
}

const up = (s: MqttSession) => new Promise<SessionUp>((r) => s.once('up', r));

async function subscriber(url: string, expected: number) {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  const got: string[] = [];
  let done: () => void;
  const all = new Promise<void>((r) => (done = r));
  c.on('message', (topic, payload) => {
    got.push(`${topic} ${payload.toString()}`);
    if (got.length === expected) done();
  });
  await c.subscribeAsync('alias-test/#', { qos: 1 });
  return { client: c, got, all };
}

/** Round r: every aliased topic once, then the other topic once; payloads say where they belong. */
async function publishRound(s: MqttSession, r: number): Promise<string[]> {
  const sent: string[] = [];
  for (const topic of TOPICS) {
    await s.publish(topic, Buffer.from(`${topic}#${r}`), { qos: 1, alias: true });
    sent.push(`${topic} ${topic}#${r}`);
  }
  await s.publish(OTHER, Buffer.from(`${OTHER}#${r}`), { qos: 1 });
  sent.push(`${OTHER} ${OTHER}#${r}`);
  return sent;
}

t.test('MQTT 5: aliases up to the broker maximum, names past it, every message on its own topic across a reconnect', async (t) => {
  const broker = await TestMosquitto.start(undefined, { conf: [`max_topic_alias ${MAX_ALIAS}`] });
  t.teardown(() => broker.stop());
  const proxy = await countingProxy(broker.port, 5);
  t.teardown(() => new Promise<void>((r) => proxy.server.close(() => r())));
  const ROUNDS = 10;
  const sub = await subscriber(broker.url, 2 * ROUNDS * (TOPICS.length + 1));
  t.teardown(() => sub.client.endAsync(true));

  const s = session(proxy.port, 5, true);
  t.teardown(() => s.stop());
  const first = up(s);
  s.start();
  await first;
  const sent: string[] = [];
  for (let r = 0; r < ROUNDS; r++) sent.push(...(await publishRound(s, r)));
  t.equal(s.aliasedTopics, MAX_ALIAS, 'as many aliases as the broker allows');
  const firstConnection = proxy.capture.publishes.length;

  const again = up(s);
  s.forceDisconnect();
  await again;
  for (let r = ROUNDS; r < 2 * ROUNDS; r++) sent.push(...(await publishRound(s, r)));
  await Promise.race([sub.all, new Promise((_, rej) => setTimeout(() => rej(new Error(`subscriber got ${sub.got.length} of ${sent.length}`)), loadScaled(15_000)).unref())]);
  t.same(sub.got, sent, 'every message arrived, in order, on the topic it was published to');

  for (const [label, packets] of [
    ['first connection', proxy.capture.publishes.slice(0, firstConnection)],
    ['after the reconnect', proxy.capture.publishes.slice(firstConnection)],
  ] as const) {
    const byTopic = (topic: string) => packets.filter((p) => p.topic === topic || (p.topic === '' && p.alias === TOPICS.indexOf(topic) + 1));
    for (const [i, topic] of TOPICS.entries()) {
      const ps = byTopic(topic);
      if (i < MAX_ALIAS) {
        t.same(ps.map((p) => [p.topic === '' ? '' : 'name', p.alias]), [['name', i + 1], ...Array(ROUNDS - 1).fill(['', i + 1])], `${label}: ${topic} named once with alias ${i + 1}, then by alias alone`);
        t.ok(ps.slice(1).every((p) => p.topicCost === 5), `${label}: ${topic}: 3-byte alias plus the empty name's 2-byte length`);
      } else {
        t.ok(ps.length === ROUNDS && ps.every((p) => p.topic === topic && p.alias === undefined), `${label}: ${topic}, past the maximum, goes by name`);
      }
    }
    t.ok(packets.filter((p) => p.topic === OTHER).length === ROUNDS && packets.every((p) => p.topic !== OTHER || p.alias === undefined), `${label}: a topic published without alias: by name`);
  }
});

t.test('MQTT 3.1.1 and aliases switched off: every topic by name', async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  for (const [version, aliases] of [[4, true], [5, false]] as const) {
    const proxy = await countingProxy(broker.port, version);
    const s = session(proxy.port, version, aliases);
    const u = up(s);
    s.start();
    await u;
    await publishRound(s, 0);
    await publishRound(s, 1);
    await s.stop();
    await new Promise<void>((r) => proxy.server.close(() => r()));
    t.equal(s.aliasedTopics, 0, `MQTT ${version === 5 ? '5' : '3.1.1'}, aliases ${aliases ? 'on' : 'off'}: no alias given`);
    t.ok(proxy.capture.publishes.length === 16 && proxy.capture.publishes.every((p) => p.topic !== '' && p.alias === undefined), 'every publish carries its topic name');
  }
});
