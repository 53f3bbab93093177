import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { deriveChannelId, loadConfig, loadConfigText } from '../../config/load-config.js';

const BASE = `agent:\n  id: gw-1\n  dataDir: /var/lib/bwc\nmqtt:\n  brokers: [mqtt://127.0.0.1:1883]\n`;
const GB = (deviceId: string, extra = '') =>
  `gb28181:\n  server:\n    id: "34020000002000000001"\n    domain: "3402000000"\n    host: 127.0.0.1\n  deviceId: "${deviceId}"\n${extra}`;

t.test('a gb28181 section is validated and filled from defaults', async (t) => {
  const c = loadConfigText(BASE + GB('34020000001180000005'), '/etc/bwc/a.yaml', {}).config;
  t.equal(c.gb28181?.server.port, 5060);
  t.equal(c.gb28181?.server.transport, 'UDP');
  t.equal(c.gb28181?.registerExpiresS, 3600);
  t.equal(c.gb28181?.keepaliveS, 60);
  t.equal(c.gb28181?.keepaliveRetries, 3);
  t.equal(loadConfigText(BASE, '/etc/bwc/a.yaml', {}).config.gb28181, undefined, 'left out: off');
  t.throws(() => loadConfigText(BASE + GB('3402000000118000000'), '/etc/bwc/a.yaml', {}), { message: /gb28181\.deviceId: .*20 digits/ });
  t.throws(() => loadConfigText(BASE + GB('3402000000118000000A'), '/etc/bwc/a.yaml', {}), { message: /gb28181\.deviceId: .*20 digits/ });
  t.throws(() => loadConfigText(BASE + GB('34020000001180000005', '  keepaliveS: 0\n'), '/etc/bwc/a.yaml', {}), { message: /gb28181\.keepaliveS/ });
  t.throws(() => loadConfigText(BASE + GB('34020000002000000001'), '/etc/bwc/a.yaml', {}), { message: /gb28181\.deviceId: must differ from gb28181\.server\.id/ });
  const devs = 'devices:\n  - {id: A, gnss: /dev/ttyUSB0, channelId: "34020000001310000001"}\n  - {id: B, gnss: /dev/ttyUSB1, channelId: "34020000001310000001"}\n';
  t.throws(() => loadConfigText(BASE + devs + GB('34020000001180000005'), '/etc/bwc/a.yaml', {}), { message: /devices\[1\]\.channelId: 34020000001310000001 is already used by devices\[0\]\.channelId/ });
  const bad = 'devices:\n  - {id: A, gnss: /dev/ttyUSB0, channelId: "1234"}\n';
  t.throws(() => loadConfigText(BASE + bad + GB('34020000001180000005'), '/etc/bwc/a.yaml', {}), { message: /devices\[0\]\.channelId: .*20 digits/ });
});

t.test('derived channel ids skip the ones taken', async (t) => {
  t.equal(deriveChannelId('34020000001180000005', 0, new Set()), '34020000001310000001');
  t.equal(deriveChannelId('34020000001180000005', 0, new Set(['34020000001310000001'])), '34020000001310000002');
});

t.test('the password is read from its secret file', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'bwc-gb-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'gb-pw'), '12345678\n', { mode: 0o600 });
  writeFileSync(join(d, 'a.yaml'), BASE + GB('34020000001180000005', '  passwordFile: gb-pw\n'));
  const loaded = await loadConfig(join(d, 'a.yaml'), {});
  t.equal(loaded.secrets.gbPassword, '12345678');
  rmSync(join(d, 'gb-pw'));
  await t.rejects(loadConfig(join(d, 'a.yaml'), {}), { message: /gb28181\.passwordFile: cannot read the secret file/ });
});
