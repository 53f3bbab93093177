import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../../config/load-config.js';
import { removeDevice, upsertDevice, writeMinimalConfig } from '../../config/write-config.js';
import type { TapTest } from '../helpers/tap-test.js';

function dir(t: TapTest): string {
  const d = mkdtempSync(join(tmpdir(), 'bwc-config-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('writeMinimalConfig writes a valid file and will not overwrite one', async (t) => {
  const d = dir(t);
  const out = join(d, 'agent.yaml');
  const r = writeMinimalConfig({ broker: 'mqtt://10.0.0.5:1883', dataDir: join(d, 'data'), out, agentId: 'gw-5' });
  t.equal(r.agentId, 'gw-5');
  const loaded = await loadConfig(out, {});
  t.same(loaded.config.mqtt.brokers, ['mqtt://10.0.0.5:1883']);
  t.equal(loaded.config.agent.dataDir, join(d, 'data'));
  t.throws(() => writeMinimalConfig({ broker: 'mqtt://h', dataDir: d, out }), { code: 'BAD_EXISTS', message: /already exists: .*--force/ });
  writeMinimalConfig({ broker: 'mqtt://other:1883', dataDir: d, out, agentId: 'gw-6', force: true });
  t.equal((await loadConfig(out, {})).config.agent.id, 'gw-6');
  t.throws(() => writeMinimalConfig({ broker: 'http://nope', dataDir: d, out: join(d, 'b.yaml') }), { code: 'BAD_CONFIG', message: /mqtt\.brokers\[0\]/ });
  t.notOk(existsSync(join(d, 'b.yaml')), 'nothing written when invalid');
  const id = writeMinimalConfig({ broker: 'mqtt://h', dataDir: d, out: join(d, 'c.yaml') }).agentId;
  t.match(id, /^[A-Za-z0-9._-]{1,64}$/, 'the host name, made topic-safe');
});

const WITH_COMMENTS = `# Station 3 gateway (edited by hand: keep these notes)
agent:
  id: gw-3 # the id on the dashboard
mqtt:
  brokers: [mqtt://127.0.0.1:1883]
devices:
  # the sergeant's camera
  - id: CAM-1
    gnss: /dev/ttyUSB0 # left dock
    baud: 9600
`;

t.test('upsertDevice adds and updates devices, keeping comments, atomically', async (t) => {
  const d = dir(t);
  const file = join(d, 'agent.yaml');
  writeFileSync(file, WITH_COMMENTS);
  t.same(upsertDevice(file, { id: 'CAM-2', gnss: '/dev/ttyUSB1', profile: 'vehicle' }), { added: true });
  t.same(upsertDevice(file, { id: 'CAM-1', baud: 115200 }), { added: false });
  const text = readFileSync(file, 'utf8');
  for (const note of ['# Station 3 gateway (edited by hand: keep these notes)', '# the id on the dashboard', "# the sergeant's camera", '# left dock']) {
    t.ok(text.includes(note), `keeps "${note}"`);
  }
  const c = (await loadConfig(file, {})).config;
  t.same(c.devices.map((x) => [x.id, x.gnss, x.baud, x.profile]), [
    ['CAM-1', '/dev/ttyUSB0', 115200, 'foot'],
    ['CAM-2', '/dev/ttyUSB1', 'auto', 'vehicle'],
  ]);
  t.throws(() => upsertDevice(file, { id: 'CAM-3', gnss: 'COM1' }), { code: 'BAD_CONFIG', message: /devices\[2\]\.gnss/ });
  t.equal(readFileSync(file, 'utf8'), text, 'an invalid edit leaves the file as it was');
  t.same(readdirSync(d), ['agent.yaml'], 'no temporary file left behind');
  t.equal(removeDevice(file, 'CAM-2'), true);
  t.equal(removeDevice(file, 'CAM-2'), false);
  t.same((await loadConfig(file, {})).config.devices.map((x) => x.id), ['CAM-1']);
});

t.test('upsertDevice on a file with no devices yet', async (t) => {
  const d = dir(t);
  const file = join(d, 'agent.yaml');
  writeMinimalConfig({ broker: 'mqtt://h:1883', dataDir: d, out: file, agentId: 'a' });
  upsertDevice(file, { id: 'CAM-7', gnss: 'tcp://127.0.0.1:4007' });
  const text = readFileSync(file, 'utf8');
  t.match(text, /# Cameras by port/, 'the comments of config init stay');
  t.match(text, /devices:\n {2}- id: CAM-7\n {4}gnss: tcp:\/\/127\.0\.0\.1:4007\n/, 'written as a block list');
  t.same((await loadConfig(file, {})).config.devices.map((x) => x.id), ['CAM-7']);
});
