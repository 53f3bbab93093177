import t from 'tap';
import { spawn } from 'node:child_process';
import mqtt from 'mqtt';
import { encodeMessage } from '../../protocol/codec.js';
import { encodeTrackBatch } from '../../protocol/track-codec.js';
import { Topics } from '../../protocol/topics.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { consoleCli } from '../helpers/paths.js';
import { TcpProxy } from '../chaos/tcp-proxy.js';

const DEV = 'BWC-0042';
const topics = new Topics();
const header = (seq: number) => ({ deviceId: DEV, seq, session: 4, sentMs: Date.UTC(2026, 10, 25, 3, 0, 10) });
const track = (seq: number) =>
  Buffer.from(encodeTrackBatch({ header: header(seq), historical: false, fixes: [{ timeMs: Date.UTC(2026, 10, 25, 3, 0, seq), lat: 30.04, lon: 121.15, mode: 3 }], seqs: [seq] }));
const status = (seq: number) => Buffer.from(encodeMessage('Status', header(seq), { recording: 'RECORDING_STATE_OFF', online: true, agentId: 'gw-9' }));

async function publish(url: string, items: Array<[string, Buffer, boolean]>): Promise<void> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
  for (const [topic, payload, retain] of items) await c.publishAsync(topic, payload, { qos: 1, retain });
  await c.endAsync();
}

t.test('watch reconnects after a broker restart and counts what it missed while cut off', { timeout: 120_000 }, async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  // The console reaches the broker through a proxy, so the test can cut the console alone off.
  const proxy = new TcpProxy(broker.port);
  await proxy.start();
  t.teardown(() => proxy.stop());
  const child = spawn(process.execPath, [consoleCli, 'watch', '--broker', proxy.url, '--jsonl'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const waitLine = async (what: string, pred: (l: Record<string, unknown>) => boolean, count = 1) => {
    const deadline = Date.now() + 60_000;
    while (lines().filter(pred).length < count) {
      if (Date.now() > deadline) throw new Error(`watch never printed ${what}; output:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  // A retained status is delivered whenever the subscription lands: no timing guess.
  await publish(broker.url, [[topics.device(DEV, 'status'), status(1), true]]);
  await waitLine('the retained status', (l) => l.type === 'status' && l.seq === 1);
  await publish(broker.url, [[topics.device(DEV, 'track'), track(2), false]]);
  await waitLine('fix 2', (l) => l.type === 'fix' && l.seq === 2);

  // 1. The broker restarts: watch reconnects and subscribes again.
  await broker.stop('SIGKILL');
  await waitLine('the disconnection', (l) => l.type === 'link' && l.state === 'disconnected');
  await broker.restart();
  await waitLine('the reconnection', (l) => l.type === 'link' && l.state === 'reconnected');
  // Published until it arrives: the subscription may land just after the CONNACK.
  const deadline = Date.now() + 30_000;
  while (!lines().some((l) => l.type === 'fix' && l.seq === 3) && Date.now() < deadline) {
    await publish(broker.url, [[topics.device(DEV, 'track'), track(3), false]]);
    await new Promise((r) => setTimeout(r, 500));
  }
  t.ok(lines().some((l) => l.type === 'fix' && l.seq === 3), 'a fix published after the restart reaches watch');

  // 2. Watch alone is cut off while the fleet goes on: seqs 4-6 pass it by, then a retained status 7.
  proxy.stall();
  proxy.reset();
  await waitLine('the second disconnection', (l) => l.type === 'link' && l.state === 'disconnected', 2);
  await publish(broker.url, [
    [topics.device(DEV, 'track'), track(4), false],
    [topics.device(DEV, 'track'), track(5), false],
    [topics.device(DEV, 'event'), Buffer.from(encodeMessage('Event', header(6), { type: 'EVENT_TYPE_SOS', timeMs: Date.UTC(2026, 10, 25, 3, 0, 6) })), false],
    [topics.device(DEV, 'status'), status(7), true],
  ]);
  proxy.resume();
  await waitLine('the retained status 7 after reconnecting', (l) => l.type === 'status' && l.seq === 7);
  child.kill('SIGINT');
  t.equal(await exited, 0, err);

  const summary = lines().find((l) => l.type === 'summary');
  t.match(summary, { device: DEV, missing: [[4, 6]], missed: 3, highest: 7 }, 'the summary counts the 3 messages missed while cut off');
  const link = lines().find((l) => l.type === 'link-summary');
  t.match(link, { disconnections: 2, disconnectedAtEnd: false });
  t.ok((link!.disconnectedMs as number) > 0, `time without the broker is counted (${link!.disconnectedMs} ms)`);
});
