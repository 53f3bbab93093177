import mqtt from 'mqtt';
import { decodeTrackBatch } from '../protocol/track-codec.js';
import { Topics } from '../protocol/topics.js';

/**
 * A subscriber of live fixes in a process of its own (as the platform is),
 * so that what the benchmark itself does (receiving and hashing clips) does
 * not delay the moment a fix is seen. Prints one line per live fix:
 * `{"r":<received ms>,"l":<received − fix time, ms>,"d":"<device>"}`.
 * Usage: node fix-latency-probe.js mqtt://host:port
 */
const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: fix-latency-probe BROKER_URL\n');
  process.exit(2);
}
const topics = new Topics();
const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 500 });
client.on('message', (topic, payload) => {
  const r = Date.now();
  const where = topics.parse(topic);
  if (where?.kind !== 'device' || where.channel !== 'track') return;
  const b = decodeTrackBatch(payload);
  if (b.historical) return;
  for (const f of b.fixes) process.stdout.write(`{"r":${r},"l":${r - f.timeMs},"d":"${where.deviceId}"}\n`);
});
await client.subscribeAsync(topics.allDevices('track'), { qos: 1 });
process.stdout.write('{"ready":true}\n');
process.on('SIGTERM', () => void client.endAsync(true).then(() => process.exit(0)));
