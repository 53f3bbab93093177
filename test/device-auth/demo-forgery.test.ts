import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { agentCli, consoleCli } from '../helpers/paths.js';
import { encodeTrackBatch } from '../../protocol/track-codec.js';
import { decodeLiveFix, isFullLiveForm } from '../../protocol/live-codec.js';
import { Topics } from '../../protocol/topics.js';

/**
 * The attack of the issue, end to end: the demo's cameras sign their data
 * with their device keys while a forger publishes fixes 1,200 km away under
 * seqs the genuine camera is about to use. `bwc-console watch
 * --device-keys` names the forged messages, keeps every genuine one (no
 * duplicates, no gaps) and verifies every checkpoint.
 */
t.test('demo + watch: forged fixes sent first are named; the genuine ones are all kept and verified', { timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-auth-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const dataDir = join(dir, 'data');
  const topics = new Topics();

  const watch = spawn(process.execPath, [consoleCli, 'watch', '--broker', broker.url, '--jsonl', '--duration', '30', '--device-keys', join(dataDir, 'devices')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let werr = '';
  watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
  watch.stderr.on('data', (d: Buffer) => (werr += d.toString()));
  const watchExited = new Promise<number | null>((r) => watch.once('exit', (c) => r(c)));
  await new Promise((r) => setTimeout(r, 1500));

  // The forger: on the first genuine fix of BWC-0001 (seq s), six fixes with seqs s+3..s+8, far away.
  const forger = await mqtt.connectAsync(broker.url);
  t.teardown(() => forger.endAsync(true));
  const forgedSeqs: number[] = [];
  forger.on('message', (_topic, payload) => {
    // The first live fix of a session is a full form: readable without a reference.
    if (forgedSeqs.length > 0 || !isFullLiveForm(payload)) return;
    const s = decodeLiveFix(payload).seq;
    for (let k = 3; k <= 8; k++) forgedSeqs.push(s + k);
    const fixes = forgedSeqs.map((_, i) => ({ timeMs: Date.now() + i * 1000, lat: 40.0, lon: 116.4 + i * 1e-4, mode: 3 as const }));
    void forger.publishAsync(topics.device('BWC-0001', 'track'), Buffer.from(encodeTrackBatch({ header: { deviceId: 'BWC-0001', seq: forgedSeqs[0]!, session: 1, sentMs: Date.now() }, historical: false, fixes, seqs: forgedSeqs })), { qos: 1 });
  });
  await forger.subscribeAsync(topics.device('BWC-0001', 'live'), { qos: 1 });

  const demo = spawn(process.execPath, [agentCli, 'demo', '--broker', broker.url, '--cameras', '2', '--duration', '14', '--data-dir', dataDir, '--checkpoint-interval', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let dout = '';
  demo.stdout.on('data', (d: Buffer) => (dout += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (dout += d.toString()));
  t.equal(await new Promise<number | null>((r) => demo.once('exit', (c) => r(c))), 0, dout);
  t.match(dout, /--device-keys .*devices/, 'the demo says how to watch with its device keys');
  t.equal(await watchExited, 0, werr);

  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  t.equal(forgedSeqs.length, 6, 'the forger published');
  const auth = lines.filter((l) => l.type === 'auth');
  const verified = auth.filter((a) => a.outcome === 'verified');
  t.same(auth.filter((a) => a.outcome !== 'verified' && a.outcome !== 'forged'), [], 'no checkpoint failed');
  t.ok(verified.some((a) => a.device === 'BWC-0002') && verified.some((a) => a.device === 'BWC-0001'), `checkpoints verified for both cameras (${verified.length})`);
  t.same(verified.flatMap((a) => a.forged).sort((a, b) => a - b), forgedSeqs, 'the forged seqs are named');
  const summary = Object.fromEntries(lines.filter((l) => l.type === 'summary').map((s) => [s.device, s]));
  for (const device of ['BWC-0001', 'BWC-0002']) {
    const s = summary[device];
    t.match(s, { duplicates: 0, missing: [], unsigned: 0, brokenCheckpoints: 0 }, `${device}: nothing dropped, nothing unsigned`);
    t.equal(s.authentic, s.highest - s.lowest + 1, `${device}: every seq ${s.lowest}..${s.highest} authentic`);
  }
  t.equal(summary['BWC-0001'].forged, 6);
  t.equal(summary['BWC-0002'].forged, 0);
  // Every genuine message of the forged seqs (fix or status: one seq counter) was printed, none as a duplicate.
  const genuine = lines.filter((l) => ['fix', 'status', 'event'].includes(l.type) && l.device === 'BWC-0001' && forgedSeqs.includes(l.seq) && !(l.type === 'fix' && l.lat > 35));
  t.same(genuine.map((l) => l.seq).sort((a, b) => a - b), forgedSeqs, 'the genuine messages with the forged seqs are all printed');
  t.ok(genuine.every((l) => l.auth === 'new' || l.auth === 'conflict'), `printed as new, or as a conflict when after the forged one: ${genuine.map((l) => l.auth).join(',')}`);
});
