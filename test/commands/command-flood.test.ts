import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CommandHandler } from '../../agent/commands/command-handler.js';
import { CommandVerifier } from '../../agent/commands/command-verifier.js';
import { CommandQueue, type QueuedCommand } from '../../agent/commands/command-queue.js';
import { TrustedKeys } from '../../agent/commands/command-keys.js';
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
  for (let i = 0; i < N; i += 32) r.handler.handleBatch(batch.slice(i, i + 32));
  t.equal(r.audit.head.entries, 0, 'not one audit entry while the flood lasts');
  t.ok(r.replies.length <= 25, `replies to refusals are rate limited (${r.replies.length} of ${N} answered)`);
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

t.test('a signed flood: the rate limit holds, the few accepted are audited singly before they run, the rest in aggregate', async (t) => {
  const r = rig(t, 30);
  const N = 600;
  const items = Array.from({ length: N }, () => ({ deviceId: DEVICE, bytes: signCommand({ deviceId: DEVICE, kind: 'statusQuery', keyId: 'sup', role: 'supervisor', privateKey: sup.privateKey }).envelope }));
  for (let i = 0; i < N; i += 32) r.handler.handleBatch(items.slice(i, i + 32));
  const singly = readAuditEntries(r.file);
  const accepted = singly.filter((e) => e.outcome === 'accepted');
  t.equal(accepted.length, 30, 'the issuer budget of 30 a minute is accepted');
  t.equal(singly.filter((e) => e.reason === 'REASON_RATE_LIMITED').length, 5, 'the first 5 rate-limited commands of the interval are audited singly');
  t.equal(r.tally.totals.get('REASON_RATE_LIMITED'), N - 30);
  r.tally.flush();
  const all = readAuditEntries(r.file);
  const summary = all.filter((e) => e.count !== undefined);
  t.equal(summary.length, 1);
  t.equal(summary[0]?.count, N - 30 - 5, 'the summary counts the rest');
  t.equal(summary[0]?.issuer, 'sup', 'a verified issuer is named in the summary');
  t.match(verifyAuditLog(r.file), { ok: true });
  // A replay of an accepted command is still refused: the batched replay store committed its id.
  r.handler.handleBatch([items[0]!]);
  t.equal(r.tally.totals.get('REASON_REPLAYED'), 1, 'a copy of an accepted command is refused as a replay');
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
