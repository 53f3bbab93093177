import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AuditLog, readAuditEntries, verifyAuditLog, type ChainedEntry } from '../../agent/audit/audit-log.js';
import { rebuildChain } from '../helpers/audit-attack.js';
import { loadOrCreateAgentKey, rawPublicKey } from '../../agent/audit/agent-key.js';
import { AnchorPublisher } from '../../agent/audit/anchor-publisher.js';
import { checkAnchor, encodeAnchor } from '../../agent/audit/audit-anchor.js';
import { checkAgainstAnchors, readAnchorsFile } from '../../agent/audit/anchor-check.js';
import { keyFingerprint } from '../../common/command-keys.js';
import { agentCli } from '../helpers/paths.js';
import type { TapTest } from '../helpers/tap-test.js';

const AGENT = 'gw-test-01';

function entry(i: number) {
  return { time: new Date(Date.UTC(2026, 10, 25, 3, 0, i)).toISOString(), device: 'BWC-0001', commandId: `c${i}`, issuer: 'sup', kind: 'snapshot', outcome: i % 7 === 3 ? 'rejected' : 'accepted', ...(i % 7 === 3 ? { reason: 'REASON_EXPIRED' } : {}) };
}

/** An agent data folder with an audit log, and a publisher whose anchors land in an anchors file as the console writes them. */
function setup(t: TapTest) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-anchor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  const anchorsFile = join(dir, 'anchors.jsonl');
  let log = new AuditLog(file);
  const key = loadOrCreateAgentKey(dir);
  const published: Uint8Array[] = [];
  const session = { connected: true, up: { session: 3 }, publish: async (_topic: string, payload: Uint8Array) => void published.push(payload) };
  const publisher = () => new AnchorPublisher({ agentId: AGENT, audit: log, key, session, topic: `bwc/v1/agent/${AGENT}/audit`, intervalMs: 60_000, log: pino({ level: 'silent' }) });
  const anchor = async () => {
    await publisher().publish();
    const payload = published[published.length - 1]!;
    appendFileSync(anchorsFile, JSON.stringify({ anchor: Buffer.from(payload).toString('base64') }) + '\n');
    return checkAnchor(payload);
  };
  const add = (from: number, to: number) => {
    for (let i = from; i < to; i++) log.append(entry(i));
  };
  const reopen = () => {
    log.close();
    log = new AuditLog(file);
    return log;
  };
  t.teardown(() => log.close());
  return { dir, file, anchorsFile, key, add, anchor, reopen, close: () => log.close() };
}

const cli = (args: string[]) => spawnSync(process.execPath, [agentCli, 'audit', 'verify', ...args], { encoding: 'utf8' });

t.test('the agent key is made once, mode 0600, and reused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-agentkey-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const k = loadOrCreateAgentKey(dir);
  t.equal(k.created, true);
  t.equal(statSync(join(dir, 'agent.key')).mode & 0o777, 0o600, 'agent.key is readable by its owner only');
  t.match(readFileSync(join(dir, 'agent.pub'), 'utf8'), /BEGIN PUBLIC KEY/);
  const again = loadOrCreateAgentKey(dir);
  t.equal(again.created, false);
  t.equal(again.keyId, k.keyId, 'the same key on the next start');
  chmodSync(join(dir, 'agent.key'), 0o644);
  t.throws(() => loadOrCreateAgentKey(dir), { code: 'AGENT_KEY', message: /readable by others/ });
});

t.test('an anchor is the signed head; a changed byte or another key is refused', async (t) => {
  const s = setup(t);
  s.add(0, 4);
  const a = await s.anchor();
  t.equal(a.signatureOk, true, a.problem ?? 'signature verifies');
  t.match(a.head, { agentId: AGENT, entries: 4 });
  t.equal(a.keyId, s.key.keyId);
  const payload = Buffer.from(JSON.parse(readFileSync(s.anchorsFile, 'utf8').trim()).anchor as string, 'base64');
  const flipped = Buffer.from(payload);
  flipped[flipped.length - 80]! ^= 1;
  t.equal(checkAnchor(flipped).signatureOk, false, 'a changed byte breaks the signature (or the message)');
  const other = generateKeyPairSync('ed25519');
  const forged = encodeAnchor({ ...a.head, entries: 1 }, { privateKey: other.privateKey, raw: rawPublicKey(other.publicKey), keyId: keyFingerprint(other.publicKey) }, { deviceId: AGENT, seq: 9, session: 3, sentMs: Date.now() });
  appendFileSync(s.anchorsFile, JSON.stringify({ anchor: Buffer.from(forged).toString('base64') }) + '\n');
  const v = checkAgainstAnchors(readAuditEntries(s.file), readAnchorsFile(s.anchorsFile));
  t.equal(v.ok, true, 'the forged anchor (another key) is set aside, the genuine one matches');
  t.match(v.notes.join('\n'), /signed by another key/);
});

t.test('the attack: entries removed, chain and head rebuilt; verify passes alone and fails against the anchors', async (t) => {
  const s = setup(t);
  s.add(0, 20);
  await s.anchor();
  s.add(20, 40);
  await s.anchor();
  s.close();
  t.equal(cli(['--data-dir', s.dir, '--anchors', s.anchorsFile]).status, 0, 'the genuine log matches its anchors');

  const original = readFileSync(s.file, 'utf8');
  const originalHead = readFileSync(`${s.file}.head`, 'utf8');
  const restore = () => {
    writeFileSync(s.file, original);
    writeFileSync(`${s.file}.head`, originalHead);
  };
  const entries = readAuditEntries(s.file);

  const attacks: Array<[string, ChainedEntry[], RegExp]> = [
    ['deletion of entries 5-9', [...entries.slice(0, 5), ...entries.slice(10)], /entry 19 has hash|holds only 35 entries/],
    ['rewriting entry 10 (refused made accepted)', entries.map((e, i) => (i === 10 ? { ...e, outcome: 'accepted', reason: undefined } : e)), /entry 19 has hash/],
    ['truncation of the last 12 entries', entries.slice(0, 28), /holds only 28 entries/],
    ['rewriting from the first entry', entries.map((e, i) => (i === 0 ? { ...e, issuer: 'someone-else' } : e)), /first entry has hash/],
  ];
  t.equal(entries[10]?.outcome, 'rejected', 'entry 10 is a refusal before the attack');
  for (const [n, [what, forged, why]] of attacks.entries()) {
    rebuildChain(s.file, forged);
    t.equal(verifyAuditLog(s.file).ok, true, `${what}: the rebuilt chain verifies on its own`);
    const v = checkAgainstAnchors(readAuditEntries(s.file), readAnchorsFile(s.anchorsFile));
    t.equal(v.ok, false, `${what}: the anchors do not match`);
    t.match(v.problems.join('\n'), why, `${what}: says what does not match (${v.problems[0]})`);
    if (n === 0) {
      // The same through the CLI, as an auditor runs it.
      const alone = cli(['--data-dir', s.dir]);
      t.equal(alone.status, 0, `${what}: audit verify without anchors passes (${alone.stdout.trim()})`);
      const anchored = cli(['--data-dir', s.dir, '--anchors', s.anchorsFile]);
      t.equal(anchored.status, 1, `${what}: audit verify --anchors fails`);
      t.match(anchored.stdout, /does NOT match the anchors/);
      const json = JSON.parse(cli(['--data-dir', s.dir, '--anchors', s.anchorsFile, '--json']).stdout) as { ok: boolean; chainOk: boolean; anchors: { ok: boolean; problems: string[] } };
      t.match(json, { ok: false, chainOk: true, anchors: { ok: false } }, `${what}: --json says the chain is whole but the anchors do not match`);
    }
    restore();
  }
  t.equal(cli(['--data-dir', s.dir, '--anchors', s.anchorsFile]).status, 0, 'restored, the log matches again');
  t.equal(cli(['--data-dir', s.dir, '--anchors', s.anchorsFile, '--agent-key', join(s.dir, 'agent.pub')]).status, 0, 'also with the key pinned from agent.pub');
  const stranger = generateKeyPairSync('ed25519');
  writeFileSync(join(s.dir, 'stranger.pub'), stranger.publicKey.export({ type: 'spki', format: 'pem' }));
  const pinnedOther = cli(['--data-dir', s.dir, '--anchors', s.anchorsFile, '--agent-key', join(s.dir, 'stranger.pub')]);
  t.equal(pinnedOther.status, 1, 'anchors signed by another key than the one pinned count for nothing');
});

t.test('a log that grew after its anchors still matches them', async (t) => {
  const s = setup(t);
  s.add(0, 10);
  await s.anchor();
  s.add(10, 25);
  const v = checkAgainstAnchors(readAuditEntries(s.file), readAnchorsFile(s.anchorsFile));
  t.match(v, { ok: true, checked: 1, newest: { entries: 10 } });
});

t.test('a chain broken at start is set aside, reported, and announced in the next anchor', async (t) => {
  const s = setup(t);
  s.add(0, 10);
  await s.anchor();
  s.close();
  const lines = readFileSync(s.file, 'utf8').trimEnd().split('\n');
  lines[4] = lines[4]!.replace('"accepted"', '"failed"');
  writeFileSync(s.file, lines.join('\n') + '\n');
  const log = s.reopen();
  t.ok(log.brokenAtStart, 'the log says it found a broken chain');
  t.match(log.brokenAtStart, { entries: 10, problems: [/line 5: content does not match its hash/] });
  t.match(log.brokenAtStart!.movedTo, /audit\.log\.broken-\d+$/);
  t.equal(log.head.entries, 0, 'a new chain started');
  t.match(verifyAuditLog(s.file), { ok: true, entries: 0 }, 'the new, empty chain verifies (the old head went aside with its log)');
  t.match(checkAgainstAnchors(readAuditEntries(s.file), readAnchorsFile(s.anchorsFile)), { ok: false }, 'before the restart is announced, the old anchors do not match the empty chain');
  s.add(100, 103);
  const a = await s.anchor();
  t.match(a.head, { entries: 3, previousFirstHash: /^[0-9a-f]{64}$/, restartReason: /broken \(line 5: content does not match its hash/ });
  t.ok((a.head.restartedMs ?? 0) > 0);
  const v = checkAgainstAnchors(readAuditEntries(s.file), readAnchorsFile(s.anchorsFile));
  t.equal(v.ok, true, 'the new chain matches its anchors');
  t.match(v.notes.join('\n'), /a chain the agent set aside/, 'the anchors of the old chain are named as superseded');
  const aside = checkAgainstAnchors(readAuditEntries(log.brokenAtStart!.movedTo), readAnchorsFile(s.anchorsFile));
  t.equal(aside.ok, false, 'the set-aside copy does not match the anchor of its own chain (an entry was edited)');
});
