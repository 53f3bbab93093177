import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CommandHandler } from '../../agent/commands/command-handler.js';
import { CommandVerifier } from '../../agent/commands/command-verifier.js';
import { CommandQueue, type QueuedCommand } from '../../agent/commands/command-queue.js';
import { TrustedKeys } from '../../common/command-keys.js';
import { ReplayStore } from '../../agent/commands/replay-store.js';
import { RateLimiter } from '../../agent/commands/rate-limiter.js';
import { RefusalTally } from '../../agent/commands/refusal-tally.js';
import { AuditLog, readAuditEntries, verifyAuditLog } from '../../agent/audit/audit-log.js';
import type { MediaSender } from '../../agent/media/media-sender.js';
import type { FootageAccess } from '../../agent/media/footage-access.js';
import { signCommand } from '../../protocol/command-signing.js';
import { encodeBody } from '../../protocol/codec.js';
import type { TapTest } from '../helpers/tap-test.js';

const sup = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const DEVICE = 'BWC-0001';

function rig(t: TapTest, perMinute = 30) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-flood-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const audit = new AuditLog(join(dir, 'audit.log'));
  const replays = new ReplayStore(join(dir, 'commands.db'));
  t.teardown(() => {
    replays.close();
    audit.close();
  });
  const log = pino({ level: 'silent' });
  const tally = new RefusalTally({ audit, log, intervalMs: 60_000, singlyPerInterval: 5, replyBurst: 20, repliesPerS: 5 });
  const replies: Array<Record<string, unknown>> = [];
  const handler = new CommandHandler({
    verifier: new CommandVerifier({ keys: new TrustedKeys([{ id: 'sup', role: 'supervisor', publicKey: sup.publicKey }]), replays, rateLimiter: new RateLimiter(perMinute), maxBytes: 4096, maxClockSkewMs: 30_000, maxValidityMs: 3_600_000 }),
    audit,
    tally,
    media: {} as MediaSender,
    device: () => undefined, // the commands fail as "device offline" once accepted: what counts here is the gate
    writeReply: (_d, body) => replies.push(body),
    liveFeed: { onlyWhileRecording: true, viewerKeepaliveS: 20 },
    footage: {} as FootageAccess,
    log,
  });
  return { dir, audit, tally, handler, replies, file: join(dir, 'audit.log') };
}

function garbage(i: number): Uint8Array {
  switch (i % 4) {
    case 0: return randomBytes(40 + (i % 100)); // not protobuf at all, or nonsense fields
    case 1: return encodeBody('CommandEnvelope', { body: encodeBody('CommandBody', { commandId: `u${i}`, deviceId: DEVICE, issuerKeyId: 'sup', role: 'ROLE_SUPERVISOR', statusQuery: {} }), keyId: 'sup' }); // unsigned
    case 2: return signCommand({ deviceId: DEVICE, kind: 'statusQuery', keyId: 'nobody', role: 'supervisor', privateKey: stranger.privateKey }).envelope; // unknown key
    default: return signCommand({ deviceId: DEVICE, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey: stranger.privateKey }).envelope; // forged signature
  }
}

t.test('a garbage flood writes nothing per message: one summary entry per reason, with the count', async (t) => {
  const r = rig(t);
  const N = 2000;
  const batch: QueuedCommand[] = [];
  for (let i = 0; i < N; i++) batch.push({ deviceId: DEVICE, bytes: garbage(i) });
  const started = Date.now();
  for (let i = 0; i < N; i += 32) r.handler.handleBatch(batch.slice(i, i + 32));
  const allowed = 20 + Math.ceil(((Date.now() - started) / 1000) * 5); // burst 20, then 5 a second
  t.equal(r.audit.head.entries, 0, 'not one audit entry while the flood lasts');
  t.ok(r.replies.length <= allowed, `replies to refusals are rate limited (${r.replies.length} of ${N} answered, at most ${allowed} allowed)`);
  t.equal(r.tally.repliesSuppressed, N - r.replies.length, 'every unanswered refusal is counted');
  const totals = Object.fromEntries(r.tally.totals);
  t.same(Object.values(totals).reduce((a, b) => a + b, 0), N, `every refusal is counted (${JSON.stringify(totals)})`);
  for (const reason of ['REASON_UNSIGNED', 'REASON_UNKNOWN_KEY', 'REASON_BAD_SIGNATURE']) t.equal(totals[reason], N / 4, reason);
  r.tally.flush();
  const entries = readAuditEntries(r.file);
  t.equal(entries.length, Object.keys(totals).length, 'one summary entry per reason');
  t.equal(entries.reduce((a, e) => a + (e.count ?? 0), 0), N, 'the summaries add up to every refusal');
  t.ok(entries.every((e) => e.outcome === 'rejected' && e.commandId === undefined && e.issuer === undefined), 'no claimed id or issuer is recorded for unauthenticated messages');
  t.match(verifyAuditLog(r.file), { ok: true }, 'the chain with summary entries verifies');
});

t.test('a signed flood: the rate limit holds before any signature check, the few accepted are audited singly before they run, the rest in aggregate', async (t) => {
  const r = rig(t, 30);
  const N = 600;
  const items = Array.from({ length: N }, () => ({ deviceId: DEVICE, bytes: signCommand({ deviceId: DEVICE, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey: sup.privateKey }).envelope }));
  for (let i = 0; i < N; i += 32) r.handler.handleBatch(items.slice(i, i + 32));
  const singly = readAuditEntries(r.file);
  t.equal(singly.filter((e) => e.outcome === 'accepted').length, 30, 'the issuer budget of 30 a minute is accepted');
  t.equal(singly.length, 30, 'nothing else is audited while the flood lasts');
  t.equal(r.tally.totals.get('REASON_RATE_LIMITED'), N - 30);
  r.tally.flush();
  const summary = readAuditEntries(r.file).filter((e) => e.count !== undefined);
  t.equal(summary.length, 1);
  t.match(summary[0], { reason: 'REASON_RATE_LIMITED', count: N - 30, outcome: 'rejected' }, 'the summary counts the rest');
  t.equal(summary[0]?.issuer, undefined, 'refused before the signature check: the key id is only a claim and is not recorded as the issuer');
  t.match(verifyAuditLog(r.file), { ok: true });
});

t.test('refusals of commands a trusted key signed are audited singly, a few per reason per interval', async (t) => {
  const r = rig(t, 1000);
  const expired = Array.from({ length: 12 }, () => ({ deviceId: DEVICE, bytes: signCommand({ deviceId: DEVICE, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey: sup.privateKey, issuedAtMs: Date.now() - 3_600_000, ttlMs: 60_000 }).envelope }));
  r.handler.handleBatch(expired);
  const singly = readAuditEntries(r.file);
  t.equal(singly.length, 5, 'the first 5 expired commands have their own entries');
  t.ok(singly.every((e) => e.reason === 'REASON_EXPIRED' && e.issuer === 'sup' && typeof e.commandId === 'string'), 'with command id and the verified issuer');
  r.tally.flush();
  const summary = readAuditEntries(r.file).filter((e) => e.count !== undefined);
  t.match(summary, [{ reason: 'REASON_EXPIRED', count: 7, issuer: 'sup' }], 'the other 7 in one summary naming the issuer');
  // A copy of an accepted command is refused as a replay: the batch committed its id before it ran.
  const one = { deviceId: DEVICE, bytes: signCommand({ deviceId: DEVICE, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey: sup.privateKey }).envelope };
  r.handler.handleBatch([one]);
  r.handler.handleBatch([one]);
  t.equal(r.tally.totals.get('REASON_REPLAYED'), 1, 'the copy is refused as a replay');
});

t.test('the command queue drops beyond its capacity, counts it, and works in slices off the receive path', async (t) => {
  const seen: number[] = [];
  const drops: string[] = [];
  const q = new CommandQueue({ capacity: 100, budgetMs: 4, batchSize: 10, process: (b) => seen.push(b.length), onDrop: (c) => drops.push(c.deviceId) });
  for (let i = 0; i < 250; i++) q.offer({ deviceId: DEVICE, bytes: new Uint8Array([i & 0xff]) });
  t.equal(seen.length, 0, 'nothing is processed on the receive path itself');
  t.equal(q.length, 100);
  t.equal(q.dropped, 150);
  t.equal(drops.length, 150, 'every drop is reported');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(seen.reduce((a, b) => a + b, 0), 100, 'everything queued was processed');
  t.ok(seen.every((n) => n <= 10), 'in batches of at most 10');
  t.equal(q.length, 0);
});

t.test('dropped commands are summarised as dropped', async (t) => {
  const r = rig(t);
  for (let i = 0; i < 7; i++) r.tally.dropped(DEVICE, 'more than 256 commands waiting');
  r.tally.flush();
  const [e] = readAuditEntries(r.file);
  t.match(e, { outcome: 'dropped', reason: 'QUEUE_FULL', count: 7, device: DEVICE });
});
