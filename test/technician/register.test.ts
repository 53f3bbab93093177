import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { freePort, startConfiguredMosquitto } from '../helpers/mosquitto.js';
import { loadConfig } from '../../config/load-config.js';
import { runCli, tempDir, writeConfig } from './rig.js';
import type { TapTest } from '../helpers/tap-test.js';
import { makeTlsMaterial, startTlsMosquitto } from './tls-broker.js';

/**
 * mosquitto with authentication and an ACL as a fleet would run it: the claim
 * account may only publish its own registration request and read its own
 * reply (by client id); the platform account serves registrations.
 */
async function authBroker(t: TapTest, dir: string): Promise<{ url: string; addUser(user: string, pw: string): void }> {
  const port = await freePort();
  const pwFile = join(dir, 'passwd');
  const aclFile = join(dir, 'acl');
  execFileSync('mosquitto_passwd', ['-c', '-b', pwFile, 'claim', 'claim-secret']);
  execFileSync('mosquitto_passwd', ['-b', pwFile, 'platform', 'platform-secret']);
  writeFileSync(aclFile, [
    'user platform', 'topic readwrite bwc/v1/register/#', '',
    'user gw-reg', 'topic readwrite bwc/v1/#', '',
    'pattern write bwc/v1/register/%c/request', 'pattern read bwc/v1/register/%c/reply', '',
  ].join('\n'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${pwFile}`, `acl_file ${aclFile}`, ''].join('\n'));
  // mosquitto started by root runs as its own user: it must read these.
  for (const f of [pwFile, aclFile, conf]) chmodSync(f, 0o644);
  const child = await startConfiguredMosquitto(t, conf, port);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    addUser(user, pw) {
      execFileSync('mosquitto_passwd', ['-b', pwFile, user, pw]);
      chmodSync(pwFile, 0o644);
      child.kill('SIGHUP'); // mosquitto reloads its password file
    },
  };
}

/** The platform's registration service, as a test: answers each request with `answer`. */
async function platform(t: TapTest, url: string, answer: (req: Record<string, unknown>) => Record<string, unknown> | undefined) {
  const client = await mqtt.connectAsync(url, { username: 'platform', password: 'platform-secret', protocolVersion: 5 });
  t.teardown(() => client.endAsync(true));
  const requests: Record<string, unknown>[] = [];
  client.on('message', (topic, payload) => {
    const req = JSON.parse(payload.toString()) as Record<string, unknown>;
    requests.push({ ...req, topic });
    const a = answer(req);
    if (a) void client.publishAsync(`bwc/v1/register/${String(req.agentId)}/reply`, JSON.stringify({ nonce: req.nonce, ...a }), { qos: 1 });
  });
  await client.subscribeAsync('bwc/v1/register/+/request', { qos: 1 });
  return requests;
}

function claimFile(dir: string, pw = 'claim-secret'): string {
  const f = join(dir, 'claim-password');
  writeFileSync(f, pw + '\n', { mode: 0o600 });
  return f;
}

t.test('register by claim: the platform returns a credential; it is stored 0600 and the configuration uses it', async (t) => {
  const dir = tempDir(t);
  const broker = await authBroker(t, dir);
  const cfgDir = tempDir(t);
  const config = writeConfig(cfgDir, broker.url).replace(/$/, '');
  // writeConfig names the agent gw-test; this gateway is gw-reg.
  writeFileSync(config, readFileSync(config, 'utf8').replace('"gw-test"', '"gw-reg"'));
  const requests = await platform(t, broker.url, (req) => {
    broker.addUser(String(req.agentId), 'device-secret-123');
    return { status: 'accepted', credential: { type: 'password', username: req.agentId, password: 'device-secret-123' } };
  });

  const r = await runCli(['register', '--config', config, '--claim-user', 'claim', '--claim-password-file', claimFile(cfgDir), '--timeout', '20000', '--json']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.match(doc, { ok: true, agentId: 'gw-reg', credential: 'password' });
  t.equal(requests.length, 1);
  t.match(requests[0], { agentId: 'gw-reg', topic: 'bwc/v1/register/gw-reg/request', nonce: /^[0-9a-f]{32}$/, publicKey: /BEGIN PUBLIC KEY/ });

  const pwFile = join(cfgDir, 'data', 'credentials', 'mqtt-password');
  t.equal(statSync(pwFile).mode & 0o777, 0o600, 'the secret is readable by the agent only');
  t.equal(readFileSync(pwFile, 'utf8'), 'device-secret-123\n');
  const text = readFileSync(config, 'utf8');
  t.match(text, /# Tried in turn on every reconnect\./, 'comments kept');
  const loaded = await loadConfig(config);
  t.equal(loaded.config.mqtt.username, 'gw-reg');
  t.equal(loaded.secrets.mqttPassword, 'device-secret-123');

  // The stored credential works: the doctor's broker check connects with it.
  const d = await runCli(['doctor', '--json', '--config', config, '--listen', '500']);
  const broker_ = JSON.parse(d.stdout).checks.find((c: { check: string }) => c.check === 'broker');
  t.match(broker_, { level: 'pass' }, broker_.detail);
});

t.test('register by claim: timeout, refusal, a bad claim password, a reply of another request: nothing stored', async (t) => {
  const dir = tempDir(t);
  const broker = await authBroker(t, dir);
  const cfgDir = tempDir(t);
  const config = writeConfig(cfgDir, broker.url);
  const before = readFileSync(config, 'utf8');
  const stored = () => existsSync(join(cfgDir, 'data', 'credentials', 'mqtt-password'));
  const claim = claimFile(cfgDir);

  // Nobody serves registrations yet.
  const timeout = await runCli(['register', '--config', config, '--claim-user', 'claim', '--claim-password-file', claim, '--timeout', '2000']);
  t.equal(timeout.code, 1);
  t.match(timeout.stderr, /no reply from the platform within 2 s on bwc\/v1\/register\/gw-test\/reply: check that the platform's registration service runs/);

  const wrong = await runCli(['register', '--config', config, '--claim-user', 'claim', '--claim-password-file', claimFile(join(cfgDir), 'guess'), '--timeout', '5000']);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /refused the claim credential/);

  let mode: 'reject' | 'stale' = 'reject';
  let answered = 0;
  await platform(t, broker.url, () => {
    answered++;
    return mode === 'reject'
      ? { status: 'rejected', reason: 'gw-test is not in the fleet inventory' }
      : { nonce: 'not-yours', status: 'accepted', credential: { type: 'password', username: 'x', password: 'y' } };
  });
  const refused = await runCli(['register', '--config', config, '--claim-user', 'claim', '--claim-password-file', claimFile(cfgDir), '--timeout', '10000']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /the platform refused the registration of gw-test: gw-test is not in the fleet inventory; nothing was stored/);

  // A reply that is not for this request (another nonce, sent after the request arrived) is ignored: it ends in a timeout.
  mode = 'stale';
  const stale = await runCli(['register', '--config', config, '--claim-user', 'claim', '--claim-password-file', claim, '--timeout', '3000']);
  t.equal(stale.code, 1);
  t.match(stale.stderr, /no reply from the platform within 3 s/);
  t.equal(answered, 2, 'the platform saw the refused request and this one, and answered both');

  t.equal(readFileSync(config, 'utf8'), before, 'configuration untouched');
  t.notOk(stored(), 'no credential stored');

  const usage = await runCli(['register', '--config', config]);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /give the claim credential/);
});

t.test('register by claim: a certificate for the gateway\'s own key; mutual TLS works with it; a certificate for another key is refused', async (t) => {
  const dir = tempDir(t);
  const claimBroker = await authBroker(t, dir);
  const tls = makeTlsMaterial(dir);
  const mtls = await startTlsMosquitto(t, dir, tls, { requireCertificate: true });
  // The platform signs with the fleet CA; a placeholder request lends openssl a subject.
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'placeholder.key'), '-out', join(dir, 'placeholder.csr'), '-subj', '/CN=placeholder'], { stdio: 'ignore' });
  let honest = false;
  await platform(t, claimBroker.url, (req) => {
    if (!honest) return { status: 'accepted', credential: { type: 'certificate', certificatePem: readFileSync(tls.certFile, 'utf8') } };
    writeFileSync(join(dir, 'gw.pub'), String(req.publicKey));
    execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'placeholder.csr'), '-force_pubkey', join(dir, 'gw.pub'), '-CA', tls.caFile, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'gw.crt'), '-days', '400'], { stdio: 'ignore' });
    return { status: 'accepted', brokers: [mtls.url], credential: { type: 'certificate', certificatePem: readFileSync(join(dir, 'gw.crt'), 'utf8'), caPem: readFileSync(tls.caFile, 'utf8') } };
  });
  const cfgDir = tempDir(t);
  const config = writeConfig(cfgDir, claimBroker.url);
  const before = readFileSync(config, 'utf8');
  const args = ['register', '--config', config, '--claim-user', 'claim', '--claim-password-file', claimFile(cfgDir), '--timeout', '20000'];

  const foreign = await runCli(args);
  t.equal(foreign.code, 1);
  t.match(foreign.stderr, /the platform's certificate is not for the key this gateway sent; nothing was stored/);
  t.equal(readFileSync(config, 'utf8'), before);
  t.notOk(existsSync(join(cfgDir, 'data', 'credentials', 'device.key')));

  honest = true;
  const r = await runCli([...args, '--json']);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { ok: true, credential: 'certificate', brokers: [mtls.url] });
  const key = join(cfgDir, 'data', 'credentials', 'device.key');
  t.equal(statSync(key).mode & 0o777, 0o600);
  const loaded = await loadConfig(config);
  t.same(loaded.config.mqtt.brokers, [mtls.url]);
  t.match(loaded.config.mqtt.tls, { certFile: join(cfgDir, 'data', 'credentials', 'device.crt'), keyFile: key, caFile: join(cfgDir, 'data', 'credentials', 'ca.pem') });

  // The broker demands a client certificate: the doctor connects with the stored one.
  const d = JSON.parse((await runCli(['doctor', '--json', '--config', config, '--listen', '500'])).stdout);
  const of = (check: string) => d.checks.filter((c: { check: string }) => c.check === check);
  t.match(of('broker'), [{ level: 'pass' }]);
  t.match(of('tls'), [{ level: 'pass', detail: /^verified/ }, { level: 'pass', detail: /client certificate .* valid until/ }]);
});
