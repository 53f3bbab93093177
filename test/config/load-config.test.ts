import { chmodSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig, loadConfigText, maskSecrets, SECRET_FIELDS, type LoadedConfig } from '../../config/load-config.js';
import { ConfigSchema } from '../../config/schema.js';
import { schemaFields, formatPath } from '../../config/schema-walk.js';
import { envFields } from '../../config/env-overrides.js';
import { repoRoot } from '../helpers/paths.js';
import type { TapTest } from '../helpers/tap-test.js';

function dir(t: TapTest): string {
  const d = mkdtempSync(join(tmpdir(), 'bwc-config-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const MINIMAL = 'agent:\n  id: gw-1\n  dataDir: /var/lib/bwc\nmqtt:\n  brokers: [mqtt://127.0.0.1:1883]\n';

function load(text: string, env: NodeJS.ProcessEnv = {}, file = '/etc/bwc/agent.yaml'): LoadedConfig {
  return loadConfigText(text, file, env);
}

t.test('every example validates', async (t) => {
  const examples = readdirSync(join(repoRoot, 'config', 'examples')).filter((f) => f.endsWith('.yaml'));
  t.same(examples.sort(), ['demo.yaml', 'gateway.yaml', 'handheld.yaml', 'wvp-gb28181.yaml']);
  for (const f of examples) {
    // Their secret files live on the machines they are for, not here.
    const loaded = await loadConfig(join(repoRoot, 'config', 'examples', f), {}, { readSecrets: false });
    t.ok(loaded.config.agent.id, `${f}: valid (agent ${loaded.config.agent.id})`);
  }
  const gw = await loadConfig(join(repoRoot, 'config', 'examples', 'gateway.yaml'), {}, { readSecrets: false });
  t.ok(gw.config.devices.length >= 3 && gw.config.discovery.enabled && gw.config.discovery.usb.length > 0, 'gateway: several cameras and USB discovery');
});

t.test('defaults fill what is left out, derived ones included', async (t) => {
  const c = load(MINIMAL).config;
  t.equal(c.mqtt.topicPrefix, 'bwc/v1');
  t.equal(c.mqtt.protocolVersion, 5);
  t.equal(c.mqtt.keepaliveS, 30);
  t.same(c.mqtt.reconnect, { minMs: 1000, maxMs: 60000, factor: 2 });
  t.equal(c.mqtt.clientId, 'bwc-agent-gw-1');
  t.equal(c.mqtt.tls, undefined);
  t.equal(c.buffer.path, '/var/lib/bwc/buffer.db');
  t.equal(c.buffer.syncIntervalMs, 1000);
  t.equal(c.publish.historicalBatchSize, 60);
  t.same(c.devices, []);
  t.equal(c.http.enabled, false, 'no HTTP endpoint unless asked');
  t.same(c.reporting, { recordingIntervalS: 1, movingIntervalS: 5, stationaryIntervalS: 60, distanceM: 25, headingChangeDeg: 30, stationarySpeedMps: 0.5 });
  t.equal(c.liveFeed.onlyWhileRecording, true);
  t.equal(c.audit.path, '/var/lib/bwc/audit.log');
  const d = load(MINIMAL + 'devices:\n  - id: CAM-1\n    gnss: /dev/ttyUSB0\n').config.devices[0]!;
  t.same(d, { id: 'CAM-1', gnss: '/dev/ttyUSB0', baud: 'auto', driver: 'reference', profile: 'foot' });
});

t.test('a TLS section keeps verification on unless turned off in writing', async (t) => {
  const text = 'agent: {id: a}\nmqtt:\n  brokers: [mqtts://h:8883]\n  tls:\n    caFile: ca.pem\n';
  const c = load(text).config;
  t.equal(c.mqtt.tls?.rejectUnauthorized, true);
  t.equal(c.mqtt.tls?.caFile, '/etc/bwc/ca.pem', 'relative paths resolve against the file');
  t.equal(load(text + '    rejectUnauthorized: false\n').config.mqtt.tls?.rejectUnauthorized, false);
});

t.test('problems are refused with their path and reason', async (t) => {
  const bad = (text: string, re: RegExp, env: NodeJS.ProcessEnv = {}) => t.throws(() => load(text, env), { code: 'BAD_CONFIG', message: re }, String(re));
  bad(MINIMAL.replace('brokers', 'keepaliveS: 2\n  brokers'), /mqtt\.keepaliveS: must be >= 5, got 2/);
  bad(MINIMAL + 'buffer:\n  maxRowz: 10\n', /buffer\.maxRowz: unknown key/);
  bad(MINIMAL + 'colour: blue\n', /colour: unknown key/);
  bad(MINIMAL.replace('gw-1', 'gw/1'), /agent\.id: must be 1-64 characters/);
  // Ids are topic levels and file names: dot names and hidden names are refused too.
  bad(MINIMAL.replace('gw-1', '".."'), /agent\.id: must be 1-64 characters of .*not starting with a dot.*got "\.\."/);
  bad(MINIMAL + 'devices:\n  - id: ".."\n    gnss: /dev/ttyUSB0\n', /devices\[0\]\.id: must be .*not starting with a dot/);
  bad(MINIMAL + 'devices:\n  - id: .cam\n    gnss: /dev/ttyUSB0\n', /devices\[0\]\.id: must be .*not starting with a dot/);
  bad(MINIMAL + 'devices:\n  - id: "."\n    gnss: /dev/ttyUSB0\n', /devices\[0\]\.id: must be/);
  bad(MINIMAL + 'devices:\n  - id: "a+b"\n    gnss: /dev/ttyUSB0\n', /devices\[0\]\.id: must be/);
  bad(MINIMAL + 'devices:\n  - id: "a\\0b"\n    gnss: /dev/ttyUSB0\n', /devices\[0\]\.id: must be/);
  bad(MINIMAL + 'devices:\n  - id: "a\\x85b"\n    gnss: /dev/ttyUSB0\n', /devices\[0\]\.id: must be/);
  bad('mqtt:\n  brokers: [mqtt://h]\n', /agent\.id: required/);
  bad('agent: {id: a}\n', /mqtt\.brokers: required/);
  bad('agent: {id: a}\nmqtt: {brokers: []}\n', /mqtt\.brokers: must list at least 1/);
  bad('agent: {id: a}\nmqtt: {brokers: [http://h]}\n', /mqtt\.brokers\[0\]: must be a broker URL/);
  bad(MINIMAL + 'devices:\n  - id: A\n    gnss: COM3\n', /devices\[0\]\.gnss: must be a device path/);
  bad(MINIMAL + 'devices:\n  - id: A\n    gnss: /dev/ttyUSB0\n    baud: fast\n', /devices\[0\]\.baud: must be a baud rate/);
  bad(MINIMAL + 'devices:\n  - id: A\n    gnss: /dev/ttyUSB0\n  - id: A\n    gnss: /dev/ttyUSB1\n', /devices\[1\]\.id: "A" is already used by devices\[0\]/);
  bad(MINIMAL + 'devices:\n  - id: A\n', /devices\[0\]: needs a gnss port/);
  bad('agent: {id: a}\nmqtt:\n  brokers: [mqtt://h]\n  tls: {caFile: ca.pem}\n', /mqtt\.tls: is set but no broker URL uses mqtts/);
  bad('agent: {id: a}\nmqtt:\n  brokers: [mqtt://h]\n  passwordFile: p\n', /mqtt\.passwordFile: needs mqtt\.username/);
  bad('agent: {id: a}\nmqtt:\n  brokers: [mqtt://h]\n  reconnect: {minMs: 9000, maxMs: 1000}\n', /mqtt\.reconnect\.minMs: must be <= mqtt\.reconnect\.maxMs \(1000\), got 9000/);
  bad(MINIMAL + 'security:\n  trustedKeys:\n    - {id: k, role: admin, publicKeyFile: k.pub}\n', /security\.trustedKeys\[0\]\.role: must be supervisor, technician or platform, got "admin"/);
  bad('- just\n- a list\n', /must be a mapping of sections/);
});

t.test('YAML errors name the line and column', async (t) => {
  t.throws(() => load('agent:\n  id: a\n  id: b\n'), { code: 'BAD_CONFIG', message: /agent\.yaml:3:3: not valid YAML: Map keys must be unique/ });
  t.throws(() => load('agent:\n  id: [a\nmqtt: x\n'), { code: 'BAD_CONFIG', message: /agent\.yaml:\d+:\d+: not valid YAML/ });
});

t.test('environment overrides follow the rule derived from the schema', async (t) => {
  const c = load(MINIMAL, {
    BWC_MQTT__KEEPALIVE_S: '10',
    BWC_AGENT__ID: 'gw-9',
    BWC_MQTT__BROKERS: 'mqtts://a:8883, mqtt://b:1883',
    BWC_HTTP__ENABLED: 'true',
    BWC_MQTT__TLS__REJECT_UNAUTHORIZED: '0',
    BWC_PIPELINE__MAX_SPEED_MPS__FOOT: '9.5',
    BWC_DEVICES: '[{"id":"CAM-9","gnss":"tcp://127.0.0.1:4001","baud":9600}]',
    BWC_CONFIG: '/etc/bwc-agent/other.yaml',
  }).config;
  t.equal(c.mqtt.keepaliveS, 10);
  t.equal(c.agent.id, 'gw-9');
  t.equal(c.mqtt.clientId, 'bwc-agent-gw-9', 'derived values follow the override');
  t.same(c.mqtt.brokers, ['mqtts://a:8883', 'mqtt://b:1883']);
  t.equal(c.mqtt.tls?.rejectUnauthorized, false);
  t.equal(c.http.enabled, true);
  t.equal(c.pipeline.maxSpeedMps.foot, 9.5);
  t.same(c.devices, [{ id: 'CAM-9', gnss: 'tcp://127.0.0.1:4001', baud: 9600, driver: 'reference', profile: 'foot' }]);
  t.throws(() => load(MINIMAL, { BWC_MQTT__KEEPALIVE: '10' }), { code: 'BAD_CONFIG', message: /BWC_MQTT__KEEPALIVE matches no configuration field/ });
  t.throws(() => load(MINIMAL, { BWC_MQTT__KEEPALIVE_S: 'ten' }), { message: /BWC_MQTT__KEEPALIVE_S="ten" \(mqtt\.keepaliveS\): must be a number/ });
  t.throws(() => load(MINIMAL, { BWC_MQTT__KEEPALIVE_S: '1' }), { message: /mqtt\.keepaliveS: must be >= 5, got 1 \(set by BWC_MQTT__KEEPALIVE_S\)/ });
  t.throws(() => load(MINIMAL, { BWC_HTTP__ENABLED: 'perhaps' }), { message: /must be true or false/ });
  t.equal(load(MINIMAL, { BWC_MQTT__PROTOCOL_VERSION: '4' }).config.mqtt.protocolVersion, 4);
  t.same(load(MINIMAL, { BWC_MQTT__KEEPALIVE_S: '10' }).envOverrides, ['BWC_MQTT__KEEPALIVE_S']);
  const names = envFields().map((f) => f.name);
  t.equal(new Set(names).size, names.length, 'every field has its own variable');
  t.ok(names.includes('BWC_MQTT__KEEPALIVE_S') && names.includes('BWC_BUFFER__MAX_AGE_HOURS'));
});

t.test('secrets come from files, kept apart, with clear errors', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'password'), 's3cret\n', { mode: 0o600 });
  writeFileSync(join(d, 'client.key'), '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
  const text = 'agent: {id: a}\nmqtt:\n  brokers: [mqtts://u:pw@h:8883]\n  username: u\n  passwordFile: password\n  tls:\n    certFile: client.crt\n    keyFile: client.key\n';
  writeFileSync(join(d, 'agent.yaml'), text);
  const loaded = await loadConfig(join(d, 'agent.yaml'), {});
  t.equal(loaded.secrets.mqttPassword, 's3cret', 'the trailing newline is not part of it');
  t.match(loaded.secrets.tlsKey?.toString(), /BEGIN PRIVATE KEY/);
  t.notMatch(JSON.stringify(loaded.config), /s3cret|BEGIN PRIVATE/, 'the configuration holds only the file names');
  t.equal(loaded.config.mqtt.passwordFile, join(d, 'password'));
  t.same(maskSecrets(loaded.config).mqtt.brokers, ['mqtts://u:***@h:8883']);
  t.same(loaded.config.mqtt.brokers, ['mqtts://u:pw@h:8883'], 'masking is on a copy');

  chmodSync(join(d, 'password'), 0o644);
  await t.rejects(loadConfig(join(d, 'agent.yaml'), {}), { code: 'BAD_SECRET_FILE', message: /mqtt\.passwordFile: the secret file .*password is readable by every user \(mode 0644\): run chmod 600/ });
  rmSync(join(d, 'password'));
  await t.rejects(loadConfig(join(d, 'agent.yaml'), {}), { code: 'BAD_SECRET_FILE', message: /mqtt\.passwordFile: cannot read the secret file .*password: no such file/ });
  writeFileSync(join(d, 'password'), 'x', { mode: 0o600 });
  writeFileSync(join(d, 'client.key'), 'not a key', { mode: 0o600 });
  await t.rejects(loadConfig(join(d, 'agent.yaml'), {}), { code: 'BAD_SECRET_FILE', message: /mqtt\.tls\.keyFile: .* holds no PEM private key/ });
  const secretFields = schemaFields(ConfigSchema).filter((f) => f.schema.secret).map((f) => formatPath(f.path));
  t.same(secretFields, [...SECRET_FIELDS], 'every secret field of the schema is read by the loader');
});

t.test('the result is frozen, versioned by content, and a missing file is a clear error', async (t) => {
  const a = load(MINIMAL);
  t.ok(Object.isFrozen(a.config) && Object.isFrozen(a.config.mqtt.brokers) && Object.isFrozen(a.config.mqtt.reconnect));
  t.throws(() => {
    (a.config.mqtt as { keepaliveS: number }).keepaliveS = 1;
  }, TypeError);
  t.match(a.version, /^[0-9a-f]{16}$/);
  t.equal(load(MINIMAL).version, a.version);
  t.not(load(MINIMAL + '# a comment\n').version, a.version);
  await t.rejects(loadConfig('/nonexistent/agent.yaml'), { code: 'BAD_CONFIG', message: /agent\.yaml: cannot read the configuration: no such file/ });
});

t.test('config/README.md is rendered from the current schema', async (t) => {
  const { renderConfigReadme } = await import('../../config/render-readme.js');
  const current = readFileSync(join(repoRoot, 'config', 'README.md'), 'utf8');
  t.equal(current, renderConfigReadme(), 'stale: run `node <out>/config/render-readme.js --write`');
  for (const f of schemaFields(ConfigSchema)) {
    t.ok(f.schema.description, `${formatPath(f.path)} has a description`);
    if (f.path.length > 1 && !f.path.includes('[]')) t.ok(current.includes(`\`${formatPath(f.path)}\``) || f.schema.type === 'object', `${formatPath(f.path)} is documented`);
  }
});
