import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { ChainBuilder, decodeCheckpoint, encodeCheckpoint, fixContent, leafOf } from '../../protocol/device-auth.js';
import { AuthVerifier, messageLeaves } from '../../protocol/auth-verifier.js';
import { encodeTrackBatch } from '../../protocol/track-codec.js';
import { encodeMessage, withHeader, encodeBody } from '../../protocol/codec.js';
import type { Fix } from '../../protocol/fix.js';

const T0 = Date.parse('2026-12-05T06:00:00.000Z');
const fix = (i: number, lat = 30.06): Fix => ({ timeMs: T0 + i * 1000, lat: lat + i * 1.3e-5, lon: 121.15 + i * 2.1e-5, mode: 3, alt: 12.3 + i / 7, speed: 1.35, course: 27.5, hdop: 0.8, sats: 12 });
const keys = () => generateKeyPairSync('ed25519');
const H = (seq: number, sentMs = T0 + 5000) => ({ deviceId: 'BWC-0001', seq, session: 3, sentMs });

/** The device side: fixes 1..n, each leaf from the raw fix (as the agent computes it when writing). */
function deviceRun(n: number, privateKey: ReturnType<typeof keys>['privateKey'], first = 1) {
  const chain = new ChainBuilder('BWC-0001');
  for (let i = 0; i < n; i++) chain.add(first + i, leafOf('fix', fixContent(fix(i), first + i)));
  return encodeCheckpoint(chain.seal(privateKey, { session: 3, sentMs: T0 + 60_000 })!);
}

t.test('live fixes, a historical batch and a resend with a new header all verify against one checkpoint', async (t) => {
  const { privateKey, publicKey } = keys();
  const v = new AuthVerifier((id) => (id === 'BWC-0001' ? publicKey : undefined));
  // seqs 1-3 live one by one, 4-10 as one historical batch, 2 again (lost PUBACK, new session and sent_ms).
  const msgs: Uint8Array[] = [];
  for (let s = 1; s <= 3; s++) msgs.push(encodeTrackBatch({ header: H(s), historical: false, fixes: [fix(s - 1)], seqs: [s] }));
  msgs.push(encodeTrackBatch({ header: H(4, T0 + 30_000), historical: true, fixes: [4, 5, 6, 7, 8, 9, 10].map((s) => fix(s - 1)), seqs: [4, 5, 6, 7, 8, 9, 10] }));
  msgs.push(encodeTrackBatch({ header: { ...H(2, T0 + 90_000), session: 4 }, historical: true, fixes: [fix(1)], seqs: [2] }));
  const verdicts: string[] = [];
  for (const m of msgs) for (const l of messageLeaves('track', m)) verdicts.push(v.message('BWC-0001', l.seq, l.leaf).verdict);
  t.same(verdicts, [...Array(10).fill('new'), 'duplicate'], 'the resend is a duplicate: same content, same leaf');
  const r = v.checkpoint(deviceRun(10, privateKey));
  t.match(r, { outcome: 'verified', device: 'BWC-0001', firstSeq: 1, count: 10, forged: [] });
  t.same(v.report('BWC-0001'), { authentic: 10, forged: 0, unsigned: [], waiting: 0, broken: 0 });
});

t.test('forged fixes sent first with the genuine seqs: the genuine ones win, the forged are named', async (t) => {
  const { privateKey, publicKey } = keys();
  const v = new AuthVerifier(() => publicKey);
  const forged = encodeTrackBatch({ header: H(3), historical: false, fixes: [3, 4, 5, 6].map((s) => fix(s - 1, 41.0)), seqs: [3, 4, 5, 6] });
  const seen: string[] = [];
  for (const l of messageLeaves('track', forged)) seen.push(v.message('BWC-0001', l.seq, l.leaf).verdict);
  for (let s = 1; s <= 8; s++) {
    for (const l of messageLeaves('track', encodeTrackBatch({ header: H(s), historical: false, fixes: [fix(s - 1)], seqs: [s] }))) seen.push(v.message('BWC-0001', l.seq, l.leaf).verdict);
  }
  t.same(seen, ['new', 'new', 'new', 'new', 'new', 'new', 'conflict', 'conflict', 'conflict', 'conflict', 'new', 'new'], 'genuine messages after forged ones are conflicts, not duplicates');
  const r = v.checkpoint(deviceRun(8, privateKey));
  t.match(r, { outcome: 'verified', forged: [3, 4, 5, 6] });
  t.same(v.report('BWC-0001'), { authentic: 8, forged: 4, unsigned: [], waiting: 0, broken: 0 });
  // A forged message after the checkpoint is named at once.
  const late = messageLeaves('track', encodeTrackBatch({ header: H(7), historical: false, fixes: [fix(6, 50)], seqs: [7] }))[0]!;
  t.equal(v.message('BWC-0001', late.seq, late.leaf).verdict, 'forged');
  const again = messageLeaves('track', encodeTrackBatch({ header: H(7, T0 + 99_000), historical: true, fixes: [fix(6)], seqs: [7] }))[0]!;
  t.equal(v.message('BWC-0001', again.seq, again.leaf).verdict, 'authentic');
});

t.test('a checkpoint that arrives when only a forged message holds a seq is broken until the genuine one comes', async (t) => {
  const { privateKey, publicKey } = keys();
  const v = new AuthVerifier(() => publicKey);
  const leafAt = (s: number, lat?: number) => messageLeaves('track', encodeTrackBatch({ header: H(s), historical: false, fixes: [fix(s - 1, lat)], seqs: [s] }))[0]!;
  for (const s of [1, 2]) v.message('BWC-0001', s, leafAt(s).leaf);
  v.message('BWC-0001', 3, leafAt(3, 41).leaf);
  t.match(v.checkpoint(deviceRun(3, privateKey)), { outcome: 'broken', brokenAt: 3 });
  t.match(v.report('BWC-0001'), { broken: 1, waiting: 1 });
  const r = v.message('BWC-0001', 3, leafAt(3).leaf);
  t.equal(r.verdict, 'conflict');
  t.match(r.resolved, [{ outcome: 'verified', forged: [3] }]);
  t.match(v.report('BWC-0001'), { authentic: 3, forged: 1, broken: 0, waiting: 0 });
});

t.test('a missing message makes the checkpoint wait; it verifies when the message arrives', async (t) => {
  const { privateKey, publicKey } = keys();
  const v = new AuthVerifier(() => publicKey);
  const leaves = [1, 2, 3, 4].map((s) => messageLeaves('track', encodeTrackBatch({ header: H(s), historical: false, fixes: [fix(s - 1)], seqs: [s] }))[0]!);
  for (const l of [leaves[0]!, leaves[1]!, leaves[3]!]) v.message('BWC-0001', l.seq, l.leaf);
  t.match(v.checkpoint(deviceRun(4, privateKey)), { outcome: 'incomplete', missing: [3] });
  const r = v.message('BWC-0001', 3, leaves[2]!.leaf);
  t.match(r.resolved, [{ outcome: 'verified', firstSeq: 1, count: 4 }]);
});

t.test('altered data, a checkpoint signed by another key, a malformed checkpoint and an unknown device are refused', async (t) => {
  const { privateKey, publicKey } = keys();
  const other = keys();
  const v = new AuthVerifier((id) => (id === 'BWC-0001' ? publicKey : undefined));
  for (let s = 1; s <= 5; s++) {
    const f = s === 4 ? { ...fix(s - 1), speed: 9.5 } : fix(s - 1);
    const l = messageLeaves('track', encodeTrackBatch({ header: H(s), historical: false, fixes: [f], seqs: [s] }))[0]!;
    v.message('BWC-0001', l.seq, l.leaf);
  }
  const r = v.checkpoint(deviceRun(5, privateKey));
  t.equal(r.outcome, 'broken');
  t.ok(r.brokenAt === 4 || r.brokenAt === undefined, `broken at the altered seq (${r.brokenAt}) or at the signature`);
  const v2 = new AuthVerifier(() => publicKey);
  for (let s = 1; s <= 5; s++) {
    const l = messageLeaves('track', encodeTrackBatch({ header: H(s), historical: false, fixes: [fix(s - 1)], seqs: [s] }))[0]!;
    v2.message('BWC-0001', l.seq, l.leaf);
  }
  t.match(v2.checkpoint(deviceRun(5, other.privateKey)), { outcome: 'broken', reason: /signature/ });
  t.match(v2.checkpoint(Buffer.from([0x0a, 0x02, 0x0a, 0x00])), { outcome: 'malformed' });
  const cp = decodeCheckpoint(deviceRun(5, privateKey));
  t.match(v.checkpoint(encodeCheckpoint({ ...cp, header: { ...cp.header, deviceId: 'BWC-0099' } })), { outcome: 'no-key' });
});

t.test('status, event and reply leaves are their body bytes, whatever the header', async (t) => {
  const body = encodeBody('Event', { type: 'EVENT_TYPE_SOS', timeMs: T0 });
  const a = messageLeaves('event', withHeader(H(9), body))[0]!;
  const b = messageLeaves('event', withHeader({ ...H(9, T0 + 1), session: 99 }, body))[0]!;
  t.equal(a.seq, 9);
  t.same(a.leaf, b.leaf);
  t.same(a.leaf, leafOf('event', body));
  const status = encodeMessage('Status', H(10), { charging: true });
  t.same(messageLeaves('status', status)[0]!.leaf, leafOf('status', encodeBody('Status', { charging: true })));
  // A status from the backlog (status/hist) is the same signed status.
  t.same(messageLeaves('status/hist', status), messageLeaves('status', status));
  t.same(messageLeaves('media', status), []);
});
