import t from 'tap';
import { PassThrough } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { REDACTED, createLogger, redactSecrets } from '../../common/log.js';
import { isBwcError } from '../../common/errors.js';
import { outRoot } from '../helpers/paths.js';

/** A logger writing into memory; lines() parses what was written. */
function memoryLogger(level = 'info') {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const log = createLogger({ level, destination: stream, name: 'bwc-agent' });
  return {
    log,
    raw: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

// Every secret is a distinct string, so a leak anywhere in the output is found by a plain search.
const SECRETS = {
  mqttPassword: 's3cr3t-mqtt-pw',
  brokerPassword: 's3cr3t-broker2-pw',
  tlsKey: '-----BEGIN PRIVATE KEY-----MIIEvQIBADANBg',
  passphrase: 's3cr3t-key-passphrase',
  token: 's3cr3t-bearer-token',
  auth: 'Basic czNjcjN0LWF1dGg=',
  privateKey: 's3cr3t-ed25519-private',
  secret: 's3cr3t-shared',
  deep: 's3cr3t-at-depth-9',
};

function configWithSecrets() {
  return {
    agent: { id: 'gw-1', dataDir: '/var/lib/bwc' },
    mqtt: {
      brokers: [
        { url: 'mqtts://a.example:8883', username: 'agent', password: SECRETS.mqttPassword },
        { url: 'mqtts://b.example:8883', password: SECRETS.brokerPassword },
      ],
      username: 'agent',
      password: SECRETS.mqttPassword,
      passwordFile: '/etc/bwc/mqtt-password',
      tls: { caFile: '/etc/bwc/ca.pem', key: SECRETS.tlsKey, keyFile: '/etc/bwc/key.pem', passphrase: SECRETS.passphrase },
    },
    http: { headers: { authorization: SECRETS.auth }, token: SECRETS.token },
    commands: { signing: { privateKey: SECRETS.privateKey, secret: SECRETS.secret } },
    a: { b: { c: { d: { e: { f: { g: [{ password: SECRETS.deep }] } } } } } },
  };
}

t.test('a logged configuration prints no secret, at any depth we use, in the real output', async (t) => {
  const m = memoryLogger();
  const config = configWithSecrets();
  m.log.info({ config }, 'configuration loaded');
  m.log.child({ component: 'mqtt' }).warn({ options: config.mqtt }, 'connecting');
  m.log.info(config.mqtt.tls, 'tls at the top level');
  const raw = m.raw();
  for (const [name, value] of Object.entries(SECRETS)) t.notOk(raw.includes(value), `${name} does not appear in the output`);
  const [first, second, third] = m.lines() as any[];
  t.equal(first.config.mqtt.password, REDACTED);
  t.equal(first.config.mqtt.brokers[1].password, REDACTED, 'inside arrays');
  t.equal(first.config.mqtt.tls.key, REDACTED);
  t.equal(first.config.commands.signing.privateKey, REDACTED);
  t.equal(first.config.http.headers.authorization, REDACTED);
  t.equal(first.config.a.b.c.d.e.f.g[0].password, REDACTED, 'depth 9, inside an array');
  t.equal(second.options.tls.passphrase, REDACTED, 'child loggers redact too');
  t.equal(third.key, REDACTED);
  // what is not secret stays readable
  t.equal(first.config.mqtt.username, 'agent');
  t.equal(first.config.mqtt.passwordFile, '/etc/bwc/mqtt-password', 'a path to a secret file is not a secret');
  t.equal(first.config.mqtt.brokers[0].url, 'mqtts://a.example:8883');
  t.equal(config.mqtt.password, SECRETS.mqttPassword, 'the logged object itself is left untouched');
});

t.test('redactSecrets: copy on write, cycles, and what it leaves alone', async (t) => {
  const clean = { a: 1, b: { c: [1, 2, { d: 'x' }] } };
  t.equal(redactSecrets(clean), clean, 'an object without secrets comes back as it is (no copy)');
  const cyclic: Record<string, unknown> = { name: 'n', password: 'pw' };
  cyclic.self = cyclic;
  const r = redactSecrets(cyclic) as Record<string, unknown>;
  t.equal(r.password, REDACTED, 'a cycle does not hang or throw');
  t.equal(cyclic.password, 'pw');
  const buf = Buffer.from('key');
  const date = new Date(0);
  t.same(redactSecrets({ buf, date, key: undefined }), { buf, date, key: undefined }, 'Buffers, Dates and absent values pass as they are');
  t.same(redactSecrets([{ token: 't' }, 'token']), [{ token: REDACTED }, 'token'], 'arrays; a string that says "token" is not a key');
  const m = memoryLogger();
  m.log.info({ cyclic }, 'cycle');
  t.notOk(m.raw().includes('"pw"'), 'a cyclic object logs without its secret');
});

t.test('child loggers stamp component and device on every line', async (t) => {
  const m = memoryLogger();
  const mqtt = m.log.child({ component: 'mqtt' });
  const dev = m.log.child({ component: 'device', device: 'BWC-0001' });
  mqtt.info('connected');
  dev.warn({ port: '/dev/ttyUSB0' }, 'unplugged');
  const [a, b] = m.lines();
  t.match(a, { name: 'bwc-agent', component: 'mqtt', msg: 'connected', level: 30 });
  t.match(b, { name: 'bwc-agent', component: 'device', device: 'BWC-0001', port: '/dev/ttyUSB0', msg: 'unplugged', level: 40 });
  t.type(a!.time, 'number');
});

t.test('debug messages are built only when debug is on', async (t) => {
  let built = 0;
  const costly = { toString: () => { built++; return 'frame 7e 01 02'; } };
  const info = memoryLogger('info');
  info.log.debug('frame in: %s', costly);
  t.equal(built, 0, 'interpolation deferred: nothing built at info');
  t.equal(info.log.isLevelEnabled('debug'), false);
  t.equal(info.raw(), '', 'and nothing written');

  const debug = memoryLogger('debug');
  debug.log.debug('frame in: %s', costly);
  t.equal(built, 1);
  t.equal(debug.lines()[0]!.msg, 'frame in: frame 7e 01 02');
});

t.test('a file destination is created with its directory and appended to', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'logs', 'agent.log');
  createLogger({ destination: file }).info({ password: 'pw-in-file' }, 'one');
  createLogger({ destination: file }).info('two');
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; password?: string });
  t.same(lines.map((l) => l.msg), ['one', 'two'], 'written synchronously, nothing lost, appended');
  t.equal(lines[0]!.password, REDACTED);
});

t.test('logs go to stderr by default: stdout stays clean for command output', async (t) => {
  const logModule = pathToFileURL(join(outRoot, 'common', 'log.js')).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `const { createLogger } = await import(${JSON.stringify(logModule)}); createLogger({ name: 'x' }).info({ token: 'tok-123' }, 'hello');`]);
  let out = '', err = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (err += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0, err);
  t.equal(out, '');
  const line = JSON.parse(err.trim()) as Record<string, unknown>;
  t.match(line, { name: 'x', msg: 'hello', token: REDACTED });
});

t.test('an unknown level is refused with a clear error', async (t) => {
  try {
    createLogger({ level: 'verbose', destination: new PassThrough() });
    t.fail('accepted');
  } catch (err) {
    t.ok(isBwcError(err, 'BAD_LOG_LEVEL'));
    t.match((err as Error).message, /verbose/);
  }
});

t.test('a full disk costs log lines, counted, never the process; writing again says how many were lost', async (t) => {
  // /dev/full fails every write with ENOSPC, as a full file system does.
  const full = createLogger({ destination: '/dev/full', name: 'bwc-agent' });
  t.doesNotThrow(() => {
    for (let i = 0; i < 100; i++) full.warn({ i }, 'buffer: disk full');
  }, 'logging to a full disk never throws');

  // A real small file system: filled, then freed.
  const dir = mkdtempSync(join(tmpdir(), 'bwc-log-full-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  t.teardown(() => execFileSync('umount', ['-l', dir]));
  const file = join(dir, 'agent.log');
  const log = createLogger({ destination: file, name: 'bwc-agent' });
  const filler = join(dir, 'filler');
  try {
    writeFileSync(filler, Buffer.alloc(1024 * 1024));
  } catch {
    /* ENOSPC: the file system is full now */
  }
  for (let i = 0; i < 50; i++) log.info({ i }, 'while full');
  rmSync(filler);
  log.info('space is back');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const note = lines.find((l) => l.lostLines !== undefined);
  t.ok(note, 'a line says lines were lost');
  t.equal(note!.cause, 'ENOSPC');
  t.equal(Number(note!.lostLines) + lines.filter((l) => l.msg === 'while full').length, 50, 'lost + written = logged');
  t.equal(lines.at(-1)!.msg, 'space is back');
});
