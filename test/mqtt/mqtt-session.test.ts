import t from 'tap';
import mqtt from 'mqtt';
import pino from 'pino';
import { MqttSession, type SessionUp } from '../../agent/mqtt/mqtt-session.js';
import { startEmbeddedBroker } from '../../agent/embedded-broker.js';
import { TestMosquitto, freePort } from '../helpers/mosquitto.js';
import { join } from 'node:path';
import { SessionCounter } from '../../agent/session-counter.js';
import { tempDir } from '../buffer/temp-buffer.js';
import type { TapTest } from '../helpers/tap-test.js';

const quiet = pino({ level: 'silent' });

/** A session numbered by the agent's real counter file, in a fresh folder. */
function makeSession(brokers: string[], clientId: string, t: TapTest) {
  const counter = new SessionCounter(join(tempDir(t, 'bwc-session-'), 'session'));
  const session = new MqttSession({
    brokers,
    clientId,
    keepaliveS: 5,
    connectTimeoutMs: 3000,
    protocolVersion: 5,
    reconnect: { minMs: 50, maxMs: 400, factor: 2 },
    nextSession: () => counter.upcoming,
    sessionEstablished: (n) => counter.established(n),
    will: (s) => ({ topic: `test/${clientId}/state`, payload: Buffer.from(`offline ${s}`) }),
    log: quiet,
  });
  return session;
}

function nextUp(session: MqttSession): Promise<SessionUp> {
  return new Promise((resolve) => session.once('up', resolve));
}

async function retainedOf(url: string, topic: string, want: string): Promise<string> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no retained ${want} on ${topic}`)), 15_000);
      c.on('message', (_t, p) => {
        if (p.toString() === want) {
          clearTimeout(timer);
          resolve(p.toString());
        }
      });
      void c.subscribeAsync(topic, { qos: 1 });
    });
  } finally {
    await c.endAsync();
  }
}

t.test('each connection gets a new session number; the will carries it when the link breaks', async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const session = makeSession([broker.url], 'will-test', t);
  t.teardown(() => session.stop());
  const up1 = nextUp(session);
  session.start();
  t.equal((await up1).session, 1);
  t.equal((await up1).protocolVersion, 5, 'mosquitto speaks MQTT 5');
  await session.publish('test/will-test/state', Buffer.from('online 1'), { qos: 1, retain: true });

  const up2 = nextUp(session);
  session.forceDisconnect();
  t.equal(await retainedOf(broker.url, 'test/will-test/state', 'offline 1'), 'offline 1', 'the broker published the retained will of session 1');
  t.equal((await up2).session, 2, 'the reconnect is session 2');
  t.equal(session.reconnects, 1);
});

t.test('falls back to MQTT 3.1.1 when the broker refuses 5 (embedded aedes)', async (t) => {
  const broker = await startEmbeddedBroker();
  t.teardown(() => broker.close());
  const session = makeSession([broker.url], 'fallback-test', t);
  t.teardown(() => session.stop());
  const up = nextUp(session);
  session.start();
  const info = await up;
  t.equal(info.protocolVersion, 4);
  t.equal(info.session, 1, 'the refused MQTT 5 attempt did not use a session number up');
  await session.publish('test/x', Buffer.from('hello'), { qos: 1 });
  t.pass('a QoS 1 publish is acknowledged over 3.1.1');
});

t.test('tries the next broker of the list when one is down, and comes back after a broker restart', async (t) => {
  const deadPort = await freePort();
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const session = makeSession([`mqtt://127.0.0.1:${deadPort}`, broker.url], 'list-test', t);
  t.teardown(() => session.stop());
  const up = nextUp(session);
  session.start();
  t.equal((await up).broker, broker.url, 'connected to the second broker');
  t.equal((await up).session, 1, 'the failed attempt on the dead broker did not count');

  const down = new Promise<string>((resolve) => session.once('down', resolve));
  await broker.stop();
  await down;
  t.notOk(session.connected);
  await t.rejects(session.publish('test/y', Buffer.from('x'), { qos: 1 }), /not connected/);
  const again = nextUp(session);
  // Several attempts fail (both brokers down) before the restart.
  await new Promise((r) => setTimeout(r, 1500));
  await broker.restart();
  const info = await again;
  t.equal(info.broker, broker.url);
  t.equal(info.session, 2, 'one outage with many failed attempts: the next established session is 2');
});
