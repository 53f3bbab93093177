import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { SerialPort } from 'serialport';
import { baseConfig, CHAOS_PASSWORD, ChaosAgent, removeDir, rng, scaled, secretFile, sleep, tempDir, waitFor, writeAgentConfig, writeResult, SEED } from './chaos-kit.js';
import { ChaosMosquitto } from './chaos-broker.js';
import { PersistentRecorder } from './persistent-recorder.js';
import { fuzzFrame, fuzzLine, mutateEnvelope } from './fuzz-input.js';
import { openPtyPair } from '../../sim/pty-pair.js';
import { NmeaWriter } from '../../sim/gnss/nmea-writer.js';
import { Patrol } from '../../sim/gnss/patrol.js';
import { signCommand } from '../../protocol/command-signing.js';
import { messageType } from '../../protocol/schema.js';
import type { Fix } from '../../protocol/fix.js';

/**
 * Fuzzing the running agent: 1,000,000 hostile NMEA lines through a real
 * pty (with a valid epoch every 100 lines), mutated camera frames into a
 * control port, and mutated signed commands over MQTT. No crash; every fix
 * delivered is one of the valid epochs, at its exact position; no mutated
 * command is accepted (a valid one sent at the end is, so the path works).
 */
const LINES = scaled(1_000_000, 20_000);
const EVERY = 100;
const FRAMES = scaled(20_000, 2000);
const COMMANDS = scaled(5_000, 500);

async function openCameraSide(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const p: SerialPort = new SerialPort({ path, baudRate: 115200, lock: false }, (err) => (err ? reject(err) : resolve(p)));
  });
}

async function write(port: SerialPort, data: string | Buffer): Promise<void> {
  if (!port.write(data)) await new Promise<void>((r) => port.once('drain', () => r()));
}

t.test(`fuzz: ${LINES} NMEA lines, ${FRAMES} camera frames, ${COMMANDS} commands`, { timeout: 1_200_000 }, async (t) => {
  const dir = tempDir('fuzz');
  t.teardown(() => removeDir(dir));
  const broker = await ChaosMosquitto.start(join(dir, 'broker'));
  t.teardown(() => broker.stop());
  const gnss = await openPtyPair({ hostSide: join(dir, 'gnss-host'), cameraSide: join(dir, 'gnss-cam') });
  t.teardown(() => gnss.close());
  const control = await openPtyPair({ hostSide: join(dir, 'ctl-host'), cameraSide: join(dir, 'ctl-cam') });
  t.teardown(() => control.close());
  const gnssPort = await openCameraSide(gnss.cameraSide);
  t.teardown(() => gnssPort.close());
  const ctlPort = await openCameraSide(control.cameraSide);
  t.teardown(() => ctlPort.close());
  gnssPort.on('error', () => {});
  ctlPort.on('error', () => {});
  ctlPort.on('data', () => {}); // the agent's requests are read and never answered properly

  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'sup.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const device = 'FUZZ-0001';
  const base = baseConfig({ id: 'chaos-fuzz', dataDir: join(dir, 'data'), brokers: [broker.url], devices: [{ device, port: gnss.hostSide, control: control.hostSide }], passwordFile: secretFile(join(dir, 'pw'), CHAOS_PASSWORD) });
  const configFile = writeAgentConfig(join(dir, 'agent.yaml'), { ...base, log: { level: 'warn' }, security: { trustedKeys: [{ id: 'sup', role: 'platform', publicKeyFile: join(dir, 'sup.pub') }], rateLimitPerIssuerPerMin: 10_000 } });
  const recorder = await PersistentRecorder.start(broker.url);
  t.teardown(() => recorder.stop());
  const agent = new ChaosAgent(configFile, 'fuzz');
  t.teardown(() => agent.kill('SIGKILL'));
  agent.start();
  await sleep(3000);

  // Valid epochs: a walking patrol at 1 Hz, ending about now.
  const epochs = Math.ceil(LINES / EVERY);
  const writer = new NmeaWriter({ rateHz: 1, seed: 7 });
  const patrol = new Patrol({ seed: 7, rateHz: 1, startMs: Math.floor(Date.now() / 1000) * 1000 - epochs * 1000 - 60_000 });
  const valid = new Map<number, Fix>();
  const real: string[] = [];
  {
    const p = new Patrol({ seed: 8, rateHz: 1 });
    for (let i = 0; i < 20; i++) {
      const f = p.next();
      real.push(...new NmeaWriter({ rateHz: 1, seed: 8 }).epochText(f.timeMs, f).split(/\r?\n/).filter(Boolean));
    }
  }
  const r = rng(0xf00);
  const sentAt = Date.now();
  let lines = 0;
  let frames = 0;
  const framesDone = (async () => {
    // Camera frames go in alongside the NMEA, at their own pace.
    while (frames < FRAMES) {
      const chunk: Buffer[] = [];
      for (let i = 0; i < 50 && frames < FRAMES; i++, frames++) chunk.push(fuzzFrame(r));
      await write(ctlPort, Buffer.concat(chunk));
      await sleep(5);
    }
  })();
  for (let e = 0; e < epochs; e++) {
    const f = patrol.next();
    valid.set(f.timeMs, f);
    let text = writer.epochText(f.timeMs, f);
    for (let i = 0; i < EVERY - 1 && lines < LINES; i++, lines++) text += fuzzLine(r, real) + '\r\n';
    await write(gnssPort, text);
  }
  await framesDone;
  // A closing valid epoch, so the last one is assembled.
  const last = patrol.next();
  valid.set(last.timeMs, last);
  await write(gnssPort, writer.epochText(last.timeMs, last) + writer.epochText(last.timeMs + 1000, undefined));
  const fedMs = Date.now() - sentAt;

  // Mutated commands over MQTT.
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.teardown(() => client.endAsync(true));
  const topic = `bwc/v1/dev/${device}/cmd`;
  for (let i = 0; i < COMMANDS; i++) {
    const kinds = ['positionQuery', 'statusQuery', 'snapshot', 'temporaryTracking'];
    const { envelope } = signCommand({ deviceId: device, kind: kinds[i % kinds.length]!, args: kinds[i % 4] === 'temporaryTracking' ? { intervalS: 1, durationS: 5 } : {}, keyId: 'sup', role: 'platform', privateKey });
    const env = messageType('CommandEnvelope').decode(envelope) as unknown as { body: Uint8Array; signature: Uint8Array };
    const bad = r.chance(0.1) ? Buffer.from(Array.from({ length: r.int(0, 300) }, () => r.int(0, 255))) : mutateEnvelope(r, envelope, env.body, env.signature);
    await client.publishAsync(topic, bad, { qos: 1 });
  }
  await sleep(3000);
  // The control: one valid command is accepted, so refusals above are not a dead path.
  const good = signCommand({ deviceId: device, kind: 'statusQuery', keyId: 'sup', role: 'platform', privateKey });
  await client.publishAsync(topic, Buffer.from(good.envelope), { qos: 1 });
  await waitFor(() => recorder.records.some((x) => x.type === 'reply' && x.command === good.commandId && x.status === 'accepted'), 60_000, 'the valid command accepted');
  await sleep(5000);

  const fixes = recorder.fixes(device);
  const bogus = fixes.filter((f) => {
    const v = valid.get(Date.parse(f.time as string));
    return !v || Math.abs(v.lat - (f.lat as number)) > 1e-6 || Math.abs(v.lon - (f.lon as number)) > 1e-6;
  });
  const deliveredValid = new Set(fixes.map((f) => f.time)).size;
  const alive = agent.running;
  await agent.stop();
  // Read after the stop: refusals are audited in aggregate, the last summaries are written at shutdown.
  const audit = readFileSync(join(dir, 'data', 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const accepted = audit.filter((a) => a.outcome === 'accepted' && a.commandId !== good.commandId);
  const refused = audit.filter((a) => a.outcome === 'rejected').reduce((n, a) => n + (typeof a.count === 'number' ? a.count : 1), 0);
  const result = {
    nmeaLines: lines,
    validEpochs: valid.size,
    nmeaFeedSeconds: Math.round(fedMs / 1000),
    cameraFrames: frames,
    commands: COMMANDS,
    crashes: agent.crashes.length,
    aliveAtEnd: alive,
    fixesDelivered: deliveredValid,
    bogusFixes: bogus.length,
    bogusExamples: bogus.slice(0, 3),
    commandsAccepted: accepted.length,
    commandsRefusedInAudit: refused,
    validControlAccepted: true,
  };
  writeResult('fuzz', result);
  t.comment(`seed ${SEED}: ${JSON.stringify(result)}`);
  t.equal(agent.crashes.length, 0, 'the agent never exited by itself');
  t.ok(alive, 'the agent was running at the end');
  t.equal(bogus.length, 0, `no bogus fix among ${fixes.length} delivered`);
  t.ok(deliveredValid > valid.size * 0.5, `valid epochs still came through (${deliveredValid} of ${valid.size})`);
  t.equal(accepted.length, 0, 'no mutated command accepted');
  t.ok(refused >= COMMANDS * 0.9, `the mutated commands were refused and audited (${refused})`);
});
