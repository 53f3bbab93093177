import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { baseConfig, CHAOS_PASSWORD, ChaosAgent, logDir, removeDir, secretFile, sleep, tempDir, waitFor, writeAgentConfig, writeResult, SEED } from './chaos-kit.js';
import { ChaosMosquitto } from './chaos-broker.js';
import { PersistentRecorder } from './persistent-recorder.js';
import { freePort } from '../helpers/mosquitto.js';
import { Simulator } from '../../sim/simulator.js';
import { signCommand } from '../../protocol/command-signing.js';
import { encodeBody } from '../../protocol/codec.js';
import { issue, makeCa } from './tls-material.js';

/**
 * Security end to end, with the agent as a process: TLS refuses a broker
 * certificate from an untrusted CA; mutual TLS with require_certificate
 * works with the client certificate and fails without it; the agent runs as
 * an unprivileged user (nobody) with its data folder owned by it; the command
 * matrix over MQTT (only a well-signed command of the right role runs);
 * footage paths cannot leave the footage folder; and no log line of the
 * whole chaos run holds the broker password or a private key.
 */
const NOBODY = { uid: 65534, gid: 65534 };

t.test('security: TLS, mTLS, unprivileged user, command matrix, footage paths, secrets in logs', { timeout: 900_000 }, async (t) => {
  const dir = tempDir('security');
  t.teardown(() => removeDir(dir));
  chmodSync(dir, 0o755);
  const checks: Array<{ check: string; result: string; ok: boolean }> = [];
  const record = (check: string, ok: boolean, result: string) => {
    checks.push({ check, ok, result });
    t.ok(ok, `${check}: ${result}`);
  };
  const pki = join(dir, 'pki');
  mkdirSync(pki);
  const ca = makeCa(pki, 'bwc-test-ca');
  const rogue = makeCa(pki, 'rogue-ca');
  const server = issue(pki, ca, 'broker', 'IP:127.0.0.1');
  const client = issue(pki, ca, 'gw-client');
  const tlsPort = await freePort();
  const mtlsPort = await freePort();
  const broker = await ChaosMosquitto.start(join(dir, 'broker'), {
    extra: [
      { port: tlsPort, lines: [`cafile ${ca.cert}`, `certfile ${server.cert}`, `keyfile ${server.key}`] },
      { port: mtlsPort, lines: [`cafile ${ca.cert}`, `certfile ${server.cert}`, `keyfile ${server.key}`, 'require_certificate true'] },
    ],
  });
  t.teardown(() => broker.stop());
  const recorder = await PersistentRecorder.start(broker.url);
  t.teardown(() => recorder.stop());

  // One simulated camera on a pty, its device nodes given to the agent's user (as a udev rule would).
  const sim = new Simulator({ cameras: 1, transport: 'pty', rateHz: 1, seed: 909, idPrefix: 'SEC-', footageDir: join(dir, 'footage'), portDir: join(dir, 'ports') });
  const ports = await sim.start();
  t.teardown(() => sim.stop());
  for (const p of [ports[0]!.port, ports[0]!.control]) chownSync(realpathSync(p), NOBODY.uid, NOBODY.gid);
  const device = ports[0]!.device;
  // A secret outside the footage folder, and a symlink to it inside.
  writeFileSync(join(dir, 'outside-secret.txt'), 'not footage');

  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const tech = generateKeyPairSync('ed25519');
  const stranger = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'sup.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'tech.pub'), tech.publicKey.export({ type: 'spki', format: 'pem' }));

  let n = 0;
  const runAgent = async (name: string, mqttSection: Record<string, unknown>, asUser?: typeof NOBODY) => {
    const adir = join(dir, `agent-${name}`);
    mkdirSync(adir);
    const keyCopy = join(adir, 'client.key');
    secretFile(keyCopy, readFileSync(client.key, 'utf8'));
    const pw = secretFile(join(adir, 'pw'), CHAOS_PASSWORD + '\n');
    const cfg = baseConfig({ id: `sec-${name}-${n++}`, dataDir: join(adir, 'data'), brokers: [broker.url], devices: [{ device, port: ports[0]!.port, control: ports[0]!.control }], passwordFile: pw });
    cfg.mqtt = { ...cfg.mqtt, ...mqttSection };
    if (cfg.mqtt.tls?.keyFile === 'CLIENT_KEY') cfg.mqtt.tls.keyFile = keyCopy;
    cfg.devices[0].footageDir = join(dir, 'footage', device);
    cfg.security = { trustedKeys: [{ id: 'sup', role: 'supervisor', publicKeyFile: join(dir, 'sup.pub') }, { id: 'tech', role: 'technician', publicKeyFile: join(dir, 'tech.pub') }], rateLimitPerIssuerPerMin: 600 };
    const file = writeAgentConfig(join(adir, 'agent.yaml'), cfg);
    if (asUser) for (const f of [adir, file, keyCopy, pw]) chownSync(f, asUser.uid, asUser.gid);
    const agent = new ChaosAgent(file, `security-${name}`, asUser);
    t.teardown(() => agent.kill('SIGKILL'));
    agent.start();
    return agent;
  };
  const birth = (id: string, since: number) => recorder.records.some((r) => r.type === 'agent' && r.agent === id && r.online === true && r.receivedMs > since);

  // TLS with an untrusted server certificate: the agent must refuse the broker.
  {
    const since = Date.now();
    const a = await runAgent('untrusted', { brokers: [`mqtts://127.0.0.1:${tlsPort}`], tls: { caFile: rogue.cert } });
    let tlsError = '';
    a.onLine((l) => {
      if (/certificate|self.signed|unable to verify/i.test(l)) tlsError ||= l;
    });
    await waitFor(() => tlsError !== '' || !a.running, 60_000, 'a certificate error in the agent log');
    await sleep(3000);
    const connected = recorder.records.some((r) => r.type === 'agent' && String(r.agent).startsWith('sec-untrusted') && r.receivedMs > since && r.online === true);
    record('TLS: broker certificate from an untrusted CA', !connected && tlsError !== '' && a.running, connected ? 'CONNECTED (defect)' : `refused, agent kept running and retrying (${/"err":"([^"]{0,80})/.exec(tlsError)?.[1] ?? 'certificate error'})`);
    await a.stop();
  }
  // mTLS: with the client certificate it works, as nobody.
  let agentId = '';
  const asNobody = await (async () => {
    const since = Date.now();
    const a = await runAgent('mtls', { brokers: [`mqtts://127.0.0.1:${mtlsPort}`], tls: { caFile: ca.cert, certFile: client.cert, keyFile: 'CLIENT_KEY' } }, NOBODY);
    agentId = `sec-mtls-${n - 1}`;
    await waitFor(() => birth(agentId, since) || !a.running, 60_000, 'the agent online over mTLS');
    record('mTLS with require_certificate, client certificate given', birth(agentId, since), birth(agentId, since) ? 'connected' : 'NOT CONNECTED');
    await waitFor(() => recorder.fixes(device).some((f) => f.receivedMs > since) || !a.running, 60_000, 'fixes from the agent run as nobody');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${a.pid}/status`, 'utf8'))?.[1]);
    const dataOwner = readdirSync(join(dir, 'agent-mtls', 'data')).length;
    record('runs as an unprivileged user', uid === NOBODY.uid && recorder.fixes(device).some((f) => f.receivedMs > since), `uid ${uid} (nobody), ${dataOwner} files in its data folder, fixes delivered`);
    return a;
  })();
  // mTLS without the client certificate: refused.
  {
    const since = Date.now();
    const a = await runAgent('nocert', { brokers: [`mqtts://127.0.0.1:${mtlsPort}`], tls: { caFile: ca.cert } });
    const id = `sec-nocert-${n - 1}`;
    let err = '';
    a.onLine((l) => {
      if (/"level":(40|50)/.test(l) && /mqtt|broker|connect|certificate|handshake|socket/i.test(l)) err ||= l;
    });
    await waitFor(() => err !== '' || birth(id, since), 60_000, 'a connection error');
    await sleep(3000);
    record('mTLS with require_certificate, no client certificate', !birth(id, since) && a.running, birth(id, since) ? 'CONNECTED (defect)' : 'refused by the broker, agent kept running');
    await a.stop();
  }

  // The command matrix over MQTT, against the agent running as nobody.
  const cmdClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.teardown(() => cmdClient.endAsync(true));
  const topic = `bwc/v1/dev/${device}/cmd`;
  const send = async (bytes: Uint8Array) => cmdClient.publishAsync(topic, Buffer.from(bytes), { qos: 1 });
  const replyTo = async (commandId: string) => {
    await waitFor(() => recorder.records.some((r) => r.type === 'reply' && r.command === commandId && r.status !== 'progress'), 30_000, `a reply to ${commandId}`);
    return recorder.records.find((r) => r.type === 'reply' && r.command === commandId)!;
  };
  const ok = signCommand({ deviceId: device, kind: 'positionQuery', keyId: 'sup', role: 'supervisor', privateKey });
  const matrix: Array<{ name: string; id: string; bytes: Uint8Array; want: string }> = [];
  const unsignedBody = encodeBody('CommandBody', { commandId: 'unsigned-1', deviceId: device, issuerKeyId: 'sup', role: 'ROLE_SUPERVISOR', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000, snapshot: {} });
  matrix.push({ name: 'unsigned', id: 'unsigned-1', bytes: encodeBody('CommandEnvelope', { body: unsignedBody, keyId: 'sup' }), want: 'unsigned' });
  const forged = signCommand({ deviceId: device, kind: 'snapshot', keyId: 'sup', role: 'supervisor', privateKey: stranger.privateKey, commandId: 'forged-1' });
  matrix.push({ name: 'signed by another key', id: 'forged-1', bytes: forged.envelope, want: 'bad_signature' });
  const unknown = signCommand({ deviceId: device, kind: 'snapshot', keyId: 'who', role: 'supervisor', privateKey: stranger.privateKey, commandId: 'unknown-1' });
  matrix.push({ name: 'unknown key', id: 'unknown-1', bytes: unknown.envelope, want: 'unknown_key' });
  const role = signCommand({ deviceId: device, kind: 'snapshot', keyId: 'tech', role: 'technician', privateKey: tech.privateKey, commandId: 'role-1' });
  matrix.push({ name: 'wrong role (technician asks for a snapshot)', id: 'role-1', bytes: role.envelope, want: 'wrong_role' });
  const expired = signCommand({ deviceId: device, kind: 'snapshot', keyId: 'sup', role: 'supervisor', privateKey, commandId: 'expired-1', issuedAtMs: Date.now() - 600_000, ttlMs: 60_000 });
  matrix.push({ name: 'expired', id: 'expired-1', bytes: expired.envelope, want: 'expired' });
  const other = signCommand({ deviceId: 'SEC-9999', kind: 'snapshot', keyId: 'sup', role: 'supervisor', privateKey, commandId: 'other-1' });
  matrix.push({ name: 'for another device', id: 'other-1', bytes: other.envelope, want: 'unknown_device' });
  const traversal = signCommand({ deviceId: device, kind: 'clipFetch', args: { recordingId: '../../outside-secret' }, keyId: 'sup', role: 'supervisor', privateKey, commandId: 'traversal-1' });
  matrix.push({ name: 'footage path escaping the folder (recording id "../../outside-secret")', id: 'traversal-1', bytes: traversal.envelope, want: 'bad_request' });
  const absolute = signCommand({ deviceId: device, kind: 'clipFetch', args: { recordingId: '/etc/passwd' }, keyId: 'sup', role: 'supervisor', privateKey, commandId: 'absolute-1' });
  matrix.push({ name: 'footage path absolute ("/etc/passwd")', id: 'absolute-1', bytes: absolute.envelope, want: 'bad_request' });
  await send(ok.envelope);
  const okReply = await replyTo(ok.commandId);
  record('command matrix: a well-signed supervisor position query', okReply.status === 'accepted', `status ${okReply.status}`);
  await send(ok.envelope);
  await sleep(2000);
  const replays = recorder.records.filter((r) => r.type === 'reply' && r.command === ok.commandId).map((r) => r.reasonCode);
  record('command matrix: the same command replayed', replays.includes('replayed'), `refused (${replays.filter((x) => x !== 'none').join(', ')})`);
  for (const m of matrix) {
    await send(m.bytes);
    const r = await replyTo(m.id).catch(() => undefined);
    record(`command matrix: ${m.name}`, r?.status === 'rejected' && String(r.reasonCode).includes(m.want), r ? `${r.status} (${r.reasonCode})` : 'no reply');
  }
  const audit = readFileSync(join(dir, 'agent-mtls', 'data', 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const acceptedIds = audit.filter((a) => a.outcome === 'accepted').map((a) => a.commandId);
  record('no unauthorized command executed (audit log)', acceptedIds.length === 1 && acceptedIds[0] === ok.commandId, `${acceptedIds.length} accepted (the valid one), ${audit.filter((a) => a.outcome === 'rejected').reduce((n, a) => n + (typeof a.count === 'number' ? a.count : 1), 0)} refused`);
  await asNobody.stop();

  // No secret in any log line of the whole run.
  const secrets = [CHAOS_PASSWORD, ...readFileSync(client.key, 'utf8').split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))];
  let lines = 0;
  const leaks: string[] = [];
  for (const f of readdirSync(logDir)) {
    for (const line of readFileSync(join(logDir, f), 'utf8').split('\n')) {
      lines++;
      if (secrets.some((s) => line.includes(s))) leaks.push(`${f}: ${line.slice(0, 120)}`);
    }
  }
  record('no secret in any log line of the run', leaks.length === 0 && lines > 0, `${lines.toLocaleString('en-US')} lines in ${readdirSync(logDir).length} logs scanned for the broker password and the client key: ${leaks.length} leaks`);
  writeResult('security', { checks, crashes: 0 });
  t.comment(`seed ${SEED}: ${JSON.stringify(checks)}`);
});
