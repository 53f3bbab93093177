import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { signCommand } from '../../protocol/command-signing.js';
import { decodeMessage } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';
import { contentVersion } from '../../agent/commands/config-update.js';
import { TestMosquitto, freePort } from '../helpers/mosquitto.js';
import { outRoot } from '../helpers/paths.js';
import { tempDir } from './rig.js';
import type { TapTest } from '../helpers/tap-test.js';

const topics = new Topics();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function configText(dir: string, broker: string, gnssPort: number, extra = ''): string {
  return [
    '# gateway under test (comments are part of what is sent)',
    'agent:',
    '  id: gw-cu',
    `  dataDir: ${JSON.stringify(join(dir, 'data'))}`,
    'mqtt:',
    '  brokers:',
    `    - ${JSON.stringify(broker)}`,
    '  keepaliveS: 5',
    '  connectTimeoutMs: 2000',
    '  reconnect: { minMs: 200, maxMs: 1000 }',
    'devices:',
    `  - { id: CAM-1, gnss: "tcp://127.0.0.1:${gnssPort}" }`,
    'security:',
    '  trustedKeys:',
    `    - { id: tech, role: technician, publicKeyFile: ${JSON.stringify(join(dir, 'tech.pub'))} }`,
    `    - { id: sup, role: supervisor, publicKeyFile: ${JSON.stringify(join(dir, 'sup.pub'))} }`,
    extra,
    '',
  ].join('\n');
}

class SupervisedAgent {
  private child: ChildProcess | undefined;
  output = '';
  constructor(private readonly file: string, private readonly upTimeoutMs: number) {}
  start(): void {
    const child = spawn(process.execPath, [join(outRoot, 'test', 'technician', 'fixtures', 'supervised-agent.js'), this.file, String(this.upTimeoutMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
  }
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => c.kill('SIGKILL'))]);
    await exited;
  }
}

interface Seen {
  states: { online: boolean; configVersion: string; session: number; reason?: string }[];
  replies: { commandId: string; status: string; reasonCode: string; reason: string }[];
}

async function watch(t: TapTest, url: string): Promise<Seen> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 500 });
  t.teardown(() => client.endAsync(true));
  const seen: Seen = { states: [], replies: [] };
  client.on('message', (topic, payload) => {
    if (topic === topics.agent('gw-cu', 'state')) {
      const s = decodeMessage<Record<string, any>>('AgentState', payload);
      seen.states.push({ online: !!s.online, configVersion: String(s.configVersion ?? ''), session: Number(s.session), ...(s.reason ? { reason: String(s.reason) } : {}) });
    } else {
      const m = decodeMessage<Record<string, any>>('Reply', payload);
      seen.replies.push({ commandId: m.commandId, status: String(m.status).replace('REPLY_STATUS_', ''), reasonCode: String(m.reasonCode), reason: String(m.reason) });
    }
  });
  await client.subscribeAsync([topics.agent('gw-cu', 'state'), topics.device('CAM-1', 'reply')], { qos: 1 });
  (seen as Seen & { client: typeof client }).client = client;
  return seen;
}

async function until<T>(what: string, find: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

t.test('remote configuration update: applied with its version, refused when invalid, rolled back when the agent cannot come up', { timeout: 300_000 }, async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const dir = tempDir(t);
  const keys: Record<string, KeyObject> = {};
  for (const who of ['tech', 'sup']) {
    const pair = generateKeyPairSync('ed25519');
    keys[who] = pair.privateKey;
    writeFileSync(join(dir, `${who}.pub`), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const gnssPort = await freePort();
  const file = join(dir, 'agent.yaml');
  const v1 = configText(dir, broker.url, gnssPort);
  writeFileSync(file, v1);
  const seen = await watch(t, broker.url);
  const client = (seen as Seen & { client: mqtt.MqttClient }).client;
  const agent = new SupervisedAgent(file, 4000);
  t.teardown(() => agent.stop());
  agent.start();

  await until('the first birth', () => seen.states.find((s) => s.online && s.configVersion === contentVersion(v1)));

  const send = async (who: 'tech' | 'sup', yaml: string, version: string) => {
    const { commandId, envelope } = signCommand({ deviceId: 'CAM-1', kind: 'configUpdate', args: { yaml, version }, keyId: who, role: who === 'tech' ? 'technician' : 'supervisor', privateKey: keys[who]! });
    await client.publishAsync(topics.device('CAM-1', 'cmd'), Buffer.from(envelope), { qos: 1 });
    return commandId;
  };
  const final = (id: string) => until(`the outcome of ${id}`, () => seen.replies.find((r) => r.commandId === id && ['DONE', 'FAILED', 'REJECTED'].includes(r.status)));

  await t.test('a valid update is applied and its version reported in the agent state', async (t) => {
    const v2 = v1.replace('keepaliveS: 5', 'keepaliveS: 6');
    const id = await send('tech', v2, 'cfg-2');
    const r = await final(id);
    t.match(r, { status: 'DONE', reason: /configuration cfg-2 applied/ }, r.reason);
    t.ok(seen.replies.some((x) => x.commandId === id && x.status === 'ACCEPTED'), 'accepted first');
    t.equal(readFileSync(file, 'utf8'), v2, 'the file holds the new configuration, comments included');
    await until('a birth with cfg-2', () => seen.states.find((s) => s.online && s.configVersion === 'cfg-2'));
    t.ok(seen.states.some((s) => !s.online && s.reason === 'configuration update'), 'the old agent said why it went offline');
  });

  await t.test('an invalid configuration is refused with the path and reason; nothing changes', async (t) => {
    const before = readFileSync(file, 'utf8');
    const statesBefore = seen.states.length;
    const id = await send('tech', before.replace('keepaliveS: 6', 'keepaliveS: 2'), 'cfg-bad');
    const r = await final(id);
    t.match(r, { status: 'FAILED', reasonCode: 'REASON_INVALID_CONFIG', reason: /configuration cfg-bad refused, nothing changed: .*mqtt\.keepaliveS: must be >= 5, got 2/ });
    const other = await final(await send('tech', before.replace('id: gw-cu', 'id: gw-other'), 'cfg-move'));
    t.match(other, { status: 'FAILED', reasonCode: 'REASON_INVALID_CONFIG', reason: /agent\.id cannot change remotely/ });
    const notYaml = await final(await send('tech', 'agent: [unclosed', 'cfg-junk'));
    t.match(notYaml, { status: 'FAILED', reasonCode: 'REASON_INVALID_CONFIG', reason: /not valid YAML/ });
    t.equal(readFileSync(file, 'utf8'), before, 'file untouched');
    t.equal(seen.states.length, statesBefore, 'the agent was not restarted');
  });

  await t.test('only a technician (or platform) key may update the configuration', async (t) => {
    const r = await final(await send('sup', readFileSync(file, 'utf8'), 'cfg-sup'));
    t.match(r, { status: 'REJECTED', reasonCode: 'REASON_WRONG_ROLE' });
  });

  await t.test('a configuration the agent cannot come up with is rolled back', async (t) => {
    const before = readFileSync(file, 'utf8');
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const id = await send('tech', before.replace(JSON.stringify(broker.url), JSON.stringify(dead)), 'cfg-3');
    const r = await final(id);
    t.match(r, { status: 'FAILED', reasonCode: 'REASON_INVALID_CONFIG', reason: /could not come up with configuration cfg-3 \(no broker connection within 4 s\): rolled back to cfg-2/ });
    t.equal(readFileSync(file, 'utf8'), before, 'the previous file is back, byte for byte');
    const back = seen.states.filter((s) => s.online && s.configVersion === 'cfg-2');
    t.ok(back.length >= 2, 'the agent came back on cfg-2');
    t.notOk(seen.states.some((s) => s.configVersion === 'cfg-3'), 'cfg-3 was never reported');
  });

  await t.test('the declared version survives a restart of the agent', async (t) => {
    await agent.stop();
    const n = seen.states.length;
    agent.start();
    const s = await until('a birth after restart', () => seen.states.slice(n).find((x) => x.online));
    t.equal(s.configVersion, 'cfg-2');
  });
});
