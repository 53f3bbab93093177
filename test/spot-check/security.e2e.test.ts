import t from 'tap';
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { readPrivateKey } from '../../common/command-keys.js';
import { signCommand, newCommandId } from '../../protocol/command-signing.js';
import { decodeMessage, encodeBody } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';
import { freePort } from '../helpers/mosquitto.js';
import { SpotRig } from './spot-rig.js';
import type { TapTest } from '../helpers/tap-test.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const topics = new Topics();

interface Seen {
  replies: Array<{ commandId: string; status: string; reasonCode: string; reason: string }>;
  chunks: Map<string, number>;
}

async function listen(t: TapTest, url: string, device: string): Promise<{ client: MqttClient; seen: Seen }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 500 });
  t.teardown(() => client.endAsync(true));
  const seen: Seen = { replies: [], chunks: new Map() };
  client.on('message', (topic, payload) => {
    const where = topics.parse(topic);
    if (where?.kind !== 'device') return;
    if (where.channel === 'reply') {
      const m = decodeMessage<Record<string, any>>('Reply', payload);
      seen.replies.push({ commandId: m.commandId, status: String(m.status).replace('REPLY_STATUS_', '').toLowerCase(), reasonCode: String(m.reasonCode), reason: String(m.reason) });
    } else if (where.channel === 'media') {
      seen.chunks.set(where.requestId!, (seen.chunks.get(where.requestId!) ?? 0) + 1);
    }
  });
  await client.subscribeAsync([topics.device(device, 'reply'), `${topics.prefix}/dev/${device}/media/+`], { qos: 1 });
  return { client, seen };
}

async function replyTo(seen: Seen, commandId: string, statuses: string[], timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = seen.replies.find((x) => x.commandId === commandId && statuses.includes(x.status));
    if (r) return r;
    if (Date.now() > deadline) throw new Error(`no ${statuses.join('/')} reply to ${commandId} in ${timeoutMs} ms; replies: ${JSON.stringify(seen.replies.slice(-5))}`);
    await sleep(50);
  }
}

/**
 * Forged, replayed and hostile commands over a real broker to the agent as a
 * process: each is refused with its reason code in the reply, nothing runs
 * (no media, the camera is not asked), and the audit log records the refusal.
 */
const UNAUTHENTICATED = new Set(['REASON_OVERSIZED', 'REASON_MALFORMED', 'REASON_UNSIGNED', 'REASON_UNKNOWN_KEY', 'REASON_BAD_SIGNATURE']);

t.test('forged, replayed and hostile commands over MQTT are refused and nothing runs', { timeout: 300_000 }, async (t) => {
  const rig = await SpotRig.start(t, { cameras: 2, clipBytes: 300_000, mountFootage: true });
  const device = rig.devices[0]!;
  const { client, seen } = await listen(t, rig.broker.url, device);
  const key = readPrivateKey(rig.keyFile);
  const stranger = generateKeyPairSync('ed25519');
  const cmdTopic = topics.device(device, 'cmd');
  const send = (envelope: Uint8Array) => client.publishAsync(cmdTopic, Buffer.from(envelope), { qos: 1 });
  const snapshots = () => rig.camera(device).counters.snapshots ?? 0;

  async function refused(t: TapTest, what: string, commandId: string, envelope: Uint8Array, reasonCode: string) {
    const before = snapshots();
    await send(envelope);
    const r = await replyTo(seen, commandId, ['rejected', 'accepted']);
    t.equal(r.status, 'rejected', `${what}: rejected`);
    t.equal(r.reasonCode, reasonCode, `${what}: reason ${reasonCode} (${r.reason})`);
    await sleep(1500);
    t.notOk(seen.replies.some((x) => x.commandId === commandId && x.status !== 'rejected'), `${what}: no other reply`);
    t.equal(seen.chunks.get(commandId) ?? 0, 0, `${what}: no media`);
    t.equal(snapshots(), before, `${what}: the camera was not asked`);
    if (UNAUTHENTICATED.has(reasonCode)) {
      // Anyone can send these: never audited singly, only counted in a summary entry per reason.
      t.equal(rig.auditEntries().filter((e) => e.commandId === commandId).length, 0, `${what}: no single audit entry`);
      const summary = rig.auditEntries().filter((e) => e.outcome === 'rejected' && e.reason === reasonCode && typeof e.count === 'number' && e.commandId === undefined);
      t.ok(summary.length >= 1, `${what}: counted in a summary entry for ${reasonCode} (${summary.map((e) => e.detail).join('; ')})`);
    } else {
      const audit = rig.auditEntries().filter((e) => e.commandId === commandId);
      t.ok(audit.length >= 1 && audit.every((e) => e.outcome === 'rejected' && e.reason === reasonCode), `${what}: audited as rejected with ${reasonCode}`);
    }
  }

  await t.test('a command signed by another key under the trusted key id', async (t) => {
    const commandId = newCommandId();
    const { envelope } = signCommand({ deviceId: device, kind: 'snapshot', keyId: rig.keyId, role: 'supervisor', privateKey: stranger.privateKey, commandId });
    await refused(t, 'forged signature', commandId, envelope, 'REASON_BAD_SIGNATURE');
  });

  await t.test('a validly signed command with a byte of its body changed', async (t) => {
    const commandId = newCommandId();
    const body = encodeBody('CommandBody', { commandId, deviceId: device, issuerKeyId: rig.keyId, role: 'ROLE_SUPERVISOR', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000, liveFeed: { fps: 2, durationS: 5 } });
    const signature = sign(null, body, key);
    const tampered = Buffer.from(body);
    tampered[tampered.length - 1]! ^= 0x01; // duration 5 s becomes 4 s
    await refused(t, 'tampered body', commandId, encodeBody('CommandEnvelope', { body: tampered, signature, keyId: rig.keyId }), 'REASON_BAD_SIGNATURE');
  });

  await t.test('an unsigned command', async (t) => {
    const commandId = newCommandId();
    const body = encodeBody('CommandBody', { commandId, deviceId: device, issuerKeyId: rig.keyId, role: 'ROLE_SUPERVISOR', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000, snapshot: {} });
    await refused(t, 'unsigned', commandId, encodeBody('CommandEnvelope', { body, keyId: rig.keyId }), 'REASON_UNSIGNED');
  });

  await t.test('a supervisor key claiming the platform role', async (t) => {
    const commandId = newCommandId();
    const { envelope } = signCommand({ deviceId: device, kind: 'snapshot', keyId: rig.keyId, role: 'platform', privateKey: key, commandId });
    await refused(t, 'wrong role', commandId, envelope, 'REASON_WRONG_ROLE');
  });

  await t.test('an expired command', async (t) => {
    const commandId = newCommandId();
    const { envelope } = signCommand({ deviceId: device, kind: 'snapshot', keyId: rig.keyId, role: 'supervisor', privateKey: key, commandId, issuedAtMs: Date.now() - 3_600_000, ttlMs: 60_000 });
    await refused(t, 'expired', commandId, envelope, 'REASON_EXPIRED');
  });

  await t.test('a replayed command: the first runs, the copy is refused and runs nothing', async (t) => {
    const commandId = newCommandId();
    const { envelope } = signCommand({ deviceId: device, kind: 'snapshot', keyId: rig.keyId, role: 'supervisor', privateKey: key, commandId });
    const before = snapshots();
    await send(envelope);
    const first = await replyTo(seen, commandId, ['done', 'failed', 'rejected']);
    t.equal(first.status, 'done', `the original runs (${first.reasonCode}: ${first.reason})`);
    await sleep(500);
    const chunks = seen.chunks.get(commandId) ?? 0;
    t.ok(chunks >= 1, `the original sent its snapshot (${chunks} chunks)`);
    t.equal(snapshots(), before + 1, 'the camera took one snapshot');
    await send(envelope);
    const r = await replyTo(seen, commandId, ['rejected']);
    t.equal(r.reasonCode, 'REASON_REPLAYED', `the copy: ${r.reason}`);
    await sleep(1500);
    t.equal(seen.chunks.get(commandId) ?? 0, chunks, 'no media for the copy');
    t.equal(snapshots(), before + 1, 'the camera was not asked again');
    const audit = rig.auditEntries().filter((e) => e.commandId === commandId).map((e) => `${e.outcome}${e.reason ? ':' + e.reason : ''}`);
    t.same(audit, ['accepted', 'done', 'rejected:REASON_REPLAYED'], 'audit: accepted, done, then the replay rejected');
  });

  await t.test('clip ids that try to leave the footage folder are refused', async (t) => {
    for (const id of ['../../etc/passwd', '/etc/passwd', 'a/../../b', '..', 'x\u0000y']) {
      const commandId = newCommandId();
      const { envelope } = signCommand({ deviceId: device, kind: 'clipFetch', args: { recordingId: id }, keyId: rig.keyId, role: 'supervisor', privateKey: key, commandId });
      await refused(t, `clip id ${JSON.stringify(id)}`, commandId, envelope, 'REASON_BAD_REQUEST');
    }
    // The same key fetches a real recording of the mounted footage folder: the refusals above were for the ids.
    const good = newCommandId();
    const clip = rig.clips.get(device)!;
    const { envelope } = signCommand({ deviceId: device, kind: 'clipFetch', args: { recordingId: clip.id }, keyId: rig.keyId, role: 'supervisor', privateKey: key, commandId: good });
    await send(envelope);
    t.equal((await replyTo(seen, good, ['done', 'failed', 'rejected'])).status, 'done', 'a plain recording id is served');
    const done = rig.auditEntries().find((e) => e.commandId === good && e.outcome === 'done');
    t.match(String(done?.detail), /via mass-storage/, 'read from the mounted footage folder');
  });

  await t.test('the console reports a key the agent does not trust, with the reason, and exits non-zero', async (t) => {
    const other = generateKeyPairSync('ed25519');
    const keyFile = join(rig.dir, 'stranger.key');
    writeFileSync(keyFile, other.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const run = await SpotRigConsole(rig, ['--key', keyFile, '--device', device, '--kind', 'snapshot', '--out', join(rig.dir, 'out'), '--json']);
    t.equal(run.code, 1, 'exit 1: nothing could be done');
    const [r] = JSON.parse(run.stdout) as Array<{ result: string; reason: string; files: string[] }>;
    t.equal(r?.result, 'rejected');
    t.match(r?.reason, /REASON_UNKNOWN_KEY/);
    t.same(r?.files, []);
  });

  await t.test('clear errors: no broker, an unknown device, a bad key file', async (t) => {
    const closed = await freePort();
    const noBroker = await SpotRigConsole(rig, ['--broker', `mqtt://127.0.0.1:${closed}`, '--device', device, '--kind', 'snapshot', '--out', join(rig.dir, 'out')]);
    t.equal(noBroker.code, 1);
    t.match(noBroker.stderr, /cannot connect to mqtt:\/\/127\.0\.0\.1:\d+/);
    const unknown = await SpotRigConsole(rig, ['--device', 'BWC-9999', '--kind', 'snapshot', '--out', join(rig.dir, 'out')]);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /no device BWC-9999/);
    const badKey = join(rig.dir, 'bad.key');
    writeFileSync(badKey, 'not a key');
    const bad = await SpotRigConsole(rig, ['--key', badKey, '--device', device, '--kind', 'snapshot', '--out', join(rig.dir, 'out')]);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /not a readable PEM private key/);
    const usage = await SpotRigConsole(rig, ['--kind', 'video', '--device', device, '--out', join(rig.dir, 'out')]);
    t.equal(usage.code, 2);
    t.match(usage.stderr, /--kind must be one of snapshot, live, clip/);
    t.ok(readFileSync(rig.auditFile, 'utf8').length > 0);
  });
});

/** The console with the rig's broker and key unless the args give others (commander keeps the last). */
function SpotRigConsole(rig: SpotRig, args: string[]) {
  return rig.spotCheck(args);
}
