import t from 'tap';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandVerifier, type Verdict } from '../../agent/commands/command-verifier.js';
import { TrustedKeys, keyFingerprint, type Role } from '../../common/command-keys.js';
import { ReplayStore } from '../../agent/commands/replay-store.js';
import { RateLimiter } from '../../agent/commands/rate-limiter.js';
import { signCommand } from '../../protocol/command-signing.js';
import { encodeBody } from '../../protocol/codec.js';
import type { TapTest } from '../helpers/tap-test.js';

function pair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey, privateKey, id: keyFingerprint(publicKey) };
}

const sup = pair();
const tech = pair();
const plat = pair();
const stranger = pair();
const NOW = Date.UTC(2026, 10, 25, 3, 0, 0);

function setup(t: TapTest, opts: { perMinute?: number; dbFile?: string } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-cmd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const replays = new ReplayStore(opts.dbFile ?? join(dir, 'commands.db'));
  t.teardown(() => replays.close());
  const keys = new TrustedKeys([
    { id: 'sup', role: 'supervisor', publicKey: sup.publicKey },
    { id: 'tech', role: 'technician', publicKey: tech.publicKey },
    { id: 'plat', role: 'platform', publicKey: plat.publicKey },
  ]);
  return new CommandVerifier({ keys, replays, rateLimiter: new RateLimiter(opts.perMinute ?? 100), maxBytes: 4096, maxClockSkewMs: 30_000, maxValidityMs: 3_600_000, now: () => NOW });
}

function cmd(key: { privateKey: KeyObject }, keyId: string, role: Role, kind = 'snapshot', extra: Partial<Parameters<typeof signCommand>[0]> = {}) {
  return signCommand({ deviceId: 'BWC-0001', kind, args: {}, keyId, role, privateKey: key.privateKey, issuedAtMs: NOW - 1000, ttlMs: 60_000, ...extra }).envelope;
}

function rejected(t: TapTest, v: Verdict, reason: string) {
  t.equal(v.ok, false, `refused (${reason})`);
  if (!v.ok) t.equal(v.reason, reason);
}


t.test('a well-signed supervisor snapshot is accepted, by id or by fingerprint', async (t) => {
  const v = setup(t);
  const ok = v.verify(cmd(sup, 'sup', 'supervisor'), 'BWC-0001');
  t.equal(ok.ok, true);
  if (ok.ok) t.match(ok.command, { kind: 'snapshot', issuer: 'sup', role: 'supervisor', deviceId: 'BWC-0001' });
  t.equal(v.verify(cmd(sup, sup.id, 'supervisor'), 'BWC-0001').ok, true, 'the key fingerprint works as its id');
});

t.test('unsigned', async (t) => {
  const v = setup(t);
  const body = encodeBody('CommandBody', { commandId: 'x1', deviceId: 'BWC-0001', issuerKeyId: 'sup', role: 'ROLE_SUPERVISOR', issuedAtMs: NOW, expiresAtMs: NOW + 60_000, snapshot: {} });
  rejected(t, v.verify(encodeBody('CommandEnvelope', { body, keyId: 'sup' }), 'BWC-0001'), 'REASON_UNSIGNED');
});

t.test('badly signed: a flipped byte of the body, or a signature by another key', async (t) => {
  const v = setup(t);
  const body = encodeBody('CommandBody', { commandId: 'x2', deviceId: 'BWC-0001', issuerKeyId: 'sup', role: 'ROLE_SUPERVISOR', issuedAtMs: NOW, expiresAtMs: NOW + 60_000, snapshot: {} });
  const signature = sign(null, body, sup.privateKey);
  const tampered = Buffer.from(body);
  tampered[tampered.length - 3]! ^= 0x01;
  rejected(t, v.verify(encodeBody('CommandEnvelope', { body: tampered, signature, keyId: 'sup' }), 'BWC-0001'), 'REASON_BAD_SIGNATURE');
  rejected(t, v.verify(cmd(stranger, 'sup', 'supervisor'), 'BWC-0001'), 'REASON_BAD_SIGNATURE');
});

t.test('unknown key', async (t) => {
  rejected(t, setup(t).verify(cmd(stranger, stranger.id, 'supervisor'), 'BWC-0001'), 'REASON_UNKNOWN_KEY');
});

t.test('wrong role: a technician asks for a snapshot, a supervisor for a config update, a supervisor claims platform', async (t) => {
  const v = setup(t);
  rejected(t, v.verify(cmd(tech, 'tech', 'technician', 'snapshot'), 'BWC-0001'), 'REASON_WRONG_ROLE');
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor', 'configUpdate'), 'BWC-0001'), 'REASON_WRONG_ROLE');
  rejected(t, v.verify(cmd(sup, 'sup', 'platform', 'configUpdate'), 'BWC-0001'), 'REASON_WRONG_ROLE');
  t.equal(v.verify(cmd(tech, 'tech', 'technician', 'configUpdate'), 'BWC-0001').ok, true, 'a technician may update the configuration');
  t.equal(v.verify(cmd(plat, 'plat', 'platform', 'liveFeed'), 'BWC-0001').ok, true, 'the platform may do anything');
});

t.test('expired and not yet valid', async (t) => {
  const v = setup(t);
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor', 'snapshot', { issuedAtMs: NOW - 120_000, ttlMs: 60_000 }), 'BWC-0001'), 'REASON_EXPIRED');
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor', 'snapshot', { issuedAtMs: NOW + 300_000 }), 'BWC-0001'), 'REASON_NOT_YET_VALID');
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor', 'snapshot', { ttlMs: 48 * 3_600_000 }), 'BWC-0001'), 'REASON_BAD_REQUEST');
});

t.test('replayed, also after the agent restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbFile = join(dir, 'commands.db');
  const env = cmd(sup, 'sup', 'supervisor');
  const first = setup(t, { dbFile });
  t.equal(first.verify(env, 'BWC-0001').ok, true);
  rejected(t, first.verify(env, 'BWC-0001'), 'REASON_REPLAYED');
  const afterRestart = setup(t, { dbFile });
  rejected(t, afterRestart.verify(env, 'BWC-0001'), 'REASON_REPLAYED');
});

t.test('malformed and oversized', async (t) => {
  const v = setup(t);
  rejected(t, v.verify(Buffer.from('not a protobuf at all \xff\xff\xff'), 'BWC-0001'), 'REASON_MALFORMED');
  rejected(t, v.verify(Buffer.alloc(0), 'BWC-0001'), 'REASON_MALFORMED');
  const body = Buffer.from([0x0a, 0x05, 0x01]);
  rejected(t, v.verify(encodeBody('CommandEnvelope', { body, signature: sign(null, body, sup.privateKey), keyId: 'sup' }), 'BWC-0001'), 'REASON_MALFORMED');
  rejected(t, v.verify(Buffer.alloc(5000, 1), 'BWC-0001'), 'REASON_OVERSIZED');
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor', 'snapshot', { deviceId: 'BWC-0002' }), 'BWC-0001'), 'REASON_UNKNOWN_DEVICE');
});

t.test('rate limited per issuer', async (t) => {
  const v = setup(t, { perMinute: 3 });
  for (let i = 0; i < 3; i++) t.equal(v.verify(cmd(sup, 'sup', 'supervisor'), 'BWC-0001').ok, true);
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor'), 'BWC-0001'), 'REASON_RATE_LIMITED');
  t.equal(v.verify(cmd(plat, 'plat', 'platform'), 'BWC-0001').ok, true, 'another issuer has its own budget');
});

t.test('arguments: a clip id naming a path is refused before anything runs; refusals echo the claimed command id', async (t) => {
  const v = setup(t);
  const bad = v.verify(cmd(sup, 'sup', 'supervisor', 'clipFetch', { args: { recordingId: '../../etc/passwd' }, commandId: 'trav1' }), 'BWC-0001');
  rejected(t, bad, 'REASON_BAD_REQUEST');
  if (!bad.ok) t.equal(bad.commandId, 'trav1');
  t.equal(v.verify(cmd(sup, 'sup', 'supervisor', 'clipFetch', { args: { recordingId: 'YY00001_20261125021230_0001' } }), 'BWC-0001').ok, true);
  const forged = v.verify(cmd(stranger, 'sup', 'supervisor', 'snapshot', { commandId: 'forged1' }), 'BWC-0001');
  rejected(t, forged, 'REASON_BAD_SIGNATURE');
  if (!forged.ok) t.equal(forged.commandId, 'forged1', 'the claimed id comes back so the sender can match the refusal');
  const unknown = v.verify(cmd(stranger, stranger.id, 'supervisor', 'snapshot', { commandId: 'unk1' }), 'BWC-0001');
  if (!unknown.ok) t.match(unknown, { reason: 'REASON_UNKNOWN_KEY', commandId: 'unk1', issuer: stranger.id });
});

t.test('viewer keepalives and cancels do not use up the rate budget: a long live feed is not cut off by its own keepalives', async (t) => {
  const v = setup(t, { perMinute: 2 });
  for (let i = 0; i < 2; i++) t.equal(v.verify(cmd(sup, 'sup', 'supervisor', 'liveFeed'), 'BWC-0001').ok, true);
  for (let i = 0; i < 5; i++) t.equal(v.verify(cmd(sup, 'sup', 'supervisor', 'viewerKeepalive', { args: { commandId: 'c1' } }), 'BWC-0001').ok, true, `keepalive ${i + 1}`);
  t.equal(v.verify(cmd(sup, 'sup', 'supervisor', 'cancel', { args: { commandId: 'c1' } }), 'BWC-0001').ok, true);
  rejected(t, v.verify(cmd(sup, 'sup', 'supervisor', 'snapshot'), 'BWC-0001'), 'REASON_RATE_LIMITED');
});
