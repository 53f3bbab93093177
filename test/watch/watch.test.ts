import t from 'tap';
import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { encodeMessage } from '../../protocol/codec.js';
import { encodeTrackBatch } from '../../protocol/track-codec.js';
import { Topics } from '../../protocol/topics.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { consoleCli } from '../helpers/paths.js';
import { SeqTracker } from '../../console/fleet/seq-tracker.js';

t.test('seq tracker: duplicates at once, gaps as missing ranges, out-of-order backlog closes them', async (t) => {
  const s = new SeqTracker();
  for (const seq of [1, 2, 5, 6]) t.ok(s.add('A', seq));
  t.notOk(s.add('A', 5), 'a duplicate is reported');
  t.same(s.report()[0]!.missing, [[3, 4]]);
  t.ok(s.add('A', 4));
  t.ok(s.add('A', 3));
  t.same(s.report()[0], { device: 'A', received: 7, duplicates: 1, missing: [], lowest: 1, highest: 6 });
});

t.test('watch --jsonl decodes every kind of message and reports duplicates and gaps', { timeout: 60_000 }, async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const child = spawn(process.execPath, [consoleCli, 'watch', '--broker', broker.url, '--jsonl', '--duration', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  // A retained agent state reaches watch whenever its subscription lands: then publish as an agent would.
  const topics = new Topics();
  const pub = await mqtt.connectAsync(broker.url);
  await pub.publishAsync(topics.agent('gw-0', 'state'), Buffer.from(encodeMessage('AgentState', { deviceId: 'gw-0', seq: 1, session: 1, sentMs: Date.UTC(2026, 10, 25, 3, 0, 0) }, { online: true, session: 1 })), { qos: 1, retain: true });
  for (const deadline = Date.now() + 30_000; !out.includes('"agent":"gw-0"'); ) {
    if (Date.now() > deadline) throw new Error(`watch never showed the retained agent state: ${out} ${err} (broker ${broker.url})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const header = (seq: number) => ({ deviceId: 'BWC-0007', seq, session: 3, sentMs: Date.UTC(2026, 10, 25, 3, 0, 10) });
  const fix = (s: number) => ({ timeMs: Date.UTC(2026, 10, 25, 3, 0, s), lat: 30.04 + s * 1e-5, lon: 121.15, mode: 3 as const, speed: 1.4 });
  await pub.publishAsync(topics.device('BWC-0007', 'track'), Buffer.from(encodeTrackBatch({ header: header(1), historical: false, fixes: [fix(1)], seqs: [1] })), { qos: 1 });
  await pub.publishAsync(topics.device('BWC-0007', 'track/hist'), Buffer.from(encodeTrackBatch({ header: header(2), historical: true, fixes: [fix(2), fix(3)], seqs: [2, 3] })), { qos: 1 });
  await pub.publishAsync(topics.device('BWC-0007', 'track/hist'), Buffer.from(encodeTrackBatch({ header: header(3), historical: true, fixes: [fix(3)], seqs: [3] })), { qos: 1 });
  await pub.publishAsync(topics.device('BWC-0007', 'event'), Buffer.from(encodeMessage('Event', header(6), { type: 'EVENT_TYPE_SOS', timeMs: Date.UTC(2026, 10, 25, 3, 0, 6) })), { qos: 1 });
  await pub.publishAsync(topics.device('BWC-0007', 'status'), Buffer.from(encodeMessage('Status', header(7), { recording: 'RECORDING_STATE_RECORDING', batteryPct: 80, hasBattery: true, online: true })), { qos: 1 });
  await pub.publishAsync(topics.agent('gw-1', 'state'), Buffer.from(encodeMessage('AgentState', { ...header(3), deviceId: 'gw-1' }, { online: false, session: 3 })), { qos: 1 });
  await pub.publishAsync(topics.device('BWC-0007', 'event'), Buffer.from('not protobuf at all'), { qos: 1 });
  await pub.endAsync();

  t.equal(await exited, 0, err);
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const fixes = lines.filter((l) => l.type === 'fix');
  t.same(fixes.map((f) => [f.seq, f.historical]), [[1, false], [2, true], [3, true]], 'fixes carry device, seq and historical');
  t.match(fixes[0], { device: 'BWC-0007', time: '2026-11-25T03:00:01.000Z', lat: 30.04001, lon: 121.15, mode: 3, speed: 1.4 });
  t.match(lines.find((l) => l.type === 'duplicate'), { device: 'BWC-0007', seq: 3 });
  t.match(lines.find((l) => l.type === 'event'), { device: 'BWC-0007', seq: 6, event: 'sos' });
  t.match(lines.find((l) => l.type === 'status'), { device: 'BWC-0007', recording: 'recording', battery: 80, online: true });
  t.match(lines.find((l) => l.type === 'agent' && l.agent === 'gw-1'), { agent: 'gw-1', online: false, session: 3 });
  t.match(lines.find((l) => l.type === 'error'), { topic: 'bwc/v1/dev/BWC-0007/event' }, 'an undecodable message is reported, not fatal');
  t.match(lines.find((l) => l.type === 'summary'), { device: 'BWC-0007', received: 6, duplicates: 1, missing: [[4, 5]], lowest: 1, highest: 7 });
});

t.test('watch says what is wrong when the broker cannot be reached', async (t) => {
  const child = spawn(process.execPath, [consoleCli, 'watch', '--broker', 'mqtt://127.0.0.1:1', '--jsonl'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.not(code, 0);
  t.match(err, /cannot connect to mqtt:\/\/127\.0\.0\.1:1/);
});
