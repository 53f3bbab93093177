import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { LIVE_CASES } from './vector-cases.js';
import { fixFromJson, fixToJson, type Fix, type FixJson } from '../../protocol/fix.js';
import { generateKeyPairSync } from 'node:crypto';
import { ChainBuilder, encodeCheckpoint, fixContent, leafOf } from '../../protocol/device-auth.js';
import { AuthVerifier, liveLeaves } from '../../protocol/auth-verifier.js';
import { decodeTrackBatch, encodeTrackBatch } from '../../protocol/track-codec.js';
import {
  decodeLiveFix, encodeLiveFix, FULL_WHEN, LiveFormChooser, LiveReferences, nearestWithResidue, referenceOf, REFERENCE_MAX_AGE_MS, SEQ_MODULUS,
} from '../../protocol/live-codec.js';
import { Patrol } from '../../sim/gnss/patrol.js';
import { Rng, TRACK_KINDS, randomTrack } from './track-gen.js';

/** What the TrackBatch single-fix form gives back for a fix: the live form must give exactly the same. */
function viaTrackBatch(fix: Fix, seq: number): Fix {
  return decodeTrackBatch(encodeTrackBatch({ header: { deviceId: 'D', seq, session: 1, sentMs: fix.timeMs }, historical: false, fixes: [fix], seqs: [seq] })).fixes[0]!;
}

const take = (p: Patrol, n: number): Fix[] => Array.from({ length: n }, () => p.next());

interface Sent { seq: number; fix: Fix; payload: Uint8Array; atMs: number }

/** A device's live stream as the agent sends it: seqs with gaps (statuses, events between), one fix a period. */
function stream(fixes: Fix[], rng: Rng, fullEveryMs = 60_000, gaps = true): Sent[] {
  const chooser = new LiveFormChooser(fullEveryMs);
  let seq = 3_000_000_000 + rng.int(0, 1e6);
  let at = Date.UTC(2026, 11, 5);
  return fixes.map((fix) => {
    seq += gaps && rng.chance(0.1) ? rng.int(2, 40) : 1;
    at += 1000;
    return { seq, fix, payload: chooser.encode('D', seq, fix, at), atMs: at };
  });
}

t.test('every track kind streams through the live form and back exactly as through a TrackBatch', async (t) => {
  const rng = new Rng(20261205);
  const failures: string[] = [];
  let fixes = 0;
  let compact = 0;
  for (const kind of TRACK_KINDS) {
    for (let rep = 0; rep < 6; rep++) {
      const sent = stream(randomTrack(rng, kind, 200), rng);
      const refs = new LiveReferences();
      for (const s of sent) {
        const out = refs.decode('D', s.payload, s.atMs);
        if (out.length !== 1) {
          failures.push(`${kind}: ${out.length} fixes out of one payload`);
          continue;
        }
        const got = out[0]!;
        fixes++;
        if (!got.full) compact++;
        if (got.seq !== s.seq) failures.push(`${kind}: seq ${got.seq} for ${s.seq}`);
        if (JSON.stringify(got.fix) !== JSON.stringify(viaTrackBatch(s.fix, s.seq))) failures.push(`${kind}: ${JSON.stringify(got.fix)} for ${JSON.stringify(s.fix)}`);
        // The authenticity leaf is the same whichever form carried the fix.
        if (!Buffer.from(fixContent(got.fix, got.seq)).equals(Buffer.from(fixContent(s.fix, s.seq)))) failures.push(`${kind}: leaf content differs at seq ${s.seq}`);
      }
    }
  }
  t.same(failures.slice(0, 5), [], `${fixes} fixes`);
  t.ok(compact > fixes * 0.8, `most go compact (${compact} of ${fixes})`);
});

t.test('a subscriber that misses messages, or shares the stream with another, decodes every fix it gets', async (t) => {
  const rng = new Rng(7);
  const sent = stream(take(new Patrol({ seed: 3, vehicle: true, speedMps: 30 }), 900), rng);
  const lossy = new LiveReferences();
  const a = new LiveReferences();
  const b = new LiveReferences();
  const wrong: string[] = [];
  let lossyGot = 0;
  const check = (out: ReturnType<LiveReferences['decode']>, s: Sent) => {
    for (const o of out) if (o.seq === s.seq && JSON.stringify(o.fix) !== JSON.stringify(viaTrackBatch(s.fix, s.seq))) wrong.push(`seq ${s.seq}`);
  };
  sent.forEach((s, i) => {
    // Lost runs of up to 100 s (a subscriber's own outage), and a $share split: every other message to each of a and b.
    if (!(i % 300 > 200)) {
      const out = lossy.decode('D', s.payload, s.atMs);
      lossyGot += out.length;
      check(out, s);
    }
    check((i % 2 === 0 ? a : b).decode('D', s.payload, s.atMs), s);
  });
  t.same(wrong, []);
  t.ok(lossyGot > 0 && lossy.waiting('D') === 0, `the lossy subscriber placed all ${lossyGot} it got`);
});

t.test('a subscriber that joins mid-stream holds compact forms until a full form places them, oldest first', async (t) => {
  const rng = new Rng(11);
  const sent = stream(take(new Patrol({ seed: 4, vehicle: false, speedMps: 1.4 }), 200), rng, 30_000);
  const joinAt = sent.findIndex((s, i) => i > 5 && (s.payload[0]! & 1) === 0);
  const refs = new LiveReferences();
  const got: number[] = [];
  for (const s of sent.slice(joinAt)) for (const o of refs.decode('D', s.payload, s.atMs)) got.push(o.seq);
  t.same(got, sent.slice(joinAt).map((s) => s.seq), 'every seq from the join on, in order');
  t.equal(refs.waiting('D'), 0);
});

t.test('a reference older than the limit is not used: the compact form waits for a full one', async (t) => {
  const f = take(new Patrol({ seed: 5, vehicle: false, speedMps: 1.4 }), 3);
  const refs = new LiveReferences();
  t.equal(refs.decode('D', encodeLiveFix(100, f[0]!, true, 5), 0).length, 1);
  t.same(refs.decode('D', encodeLiveFix(101, f[1]!, false, 5), REFERENCE_MAX_AGE_MS + 1), [], 'held');
  t.equal(refs.waiting('D'), 1);
  t.same(refs.decode('D', encodeLiveFix(102, f[2]!, true, 5), REFERENCE_MAX_AGE_MS + 2).map((o) => o.seq), [101, 102]);
});

t.test('the agent sends a full form first, at its cadence, and past a quarter window', async (t) => {
  const [a, b, c] = take(new Patrol({ seed: 6, vehicle: false, speedMps: 1.4 }), 3) as [Fix, Fix, Fix];
  const ch = new LiveFormChooser(60_000);
  const full = (p: Uint8Array) => (p[0]! & 1) === 1;
  t.ok(full(ch.encode('D', 10, a, 0)), 'first');
  t.notOk(full(ch.encode('D', 11, b, 1000)), 'next');
  t.ok(full(ch.encode('D', 11 + FULL_WHEN.seq, c, 2000)), 'seq jumped a quarter window');
  t.notOk(full(ch.encode('D', 12 + FULL_WHEN.seq, { ...c, timeMs: c.timeMs + 1000 }, 3000)));
  t.ok(full(ch.encode('D', 13 + FULL_WHEN.seq, { ...c, timeMs: c.timeMs + 2000, lat: c.lat + 0.3 }, 4000)), 'moved past a quarter window');
  t.ok(full(ch.encode('D', 14 + FULL_WHEN.seq, { ...c, timeMs: c.timeMs + 3000, lat: c.lat + 0.3 }, 64_001)), 'cadence');
  t.ok(full(ch.encode('E', 1, a, 64_002)), 'per device');
  ch.reset();
  t.ok(full(ch.encode('D', 15 + FULL_WHEN.seq, { ...c, timeMs: c.timeMs + 4000, lat: c.lat + 0.3 }, 64_003)), 'after a new session');
  t.ok(full(ch.encode('D', 16 + FULL_WHEN.seq, { ...c, timeMs: c.timeMs + 5000, lon: 179.5 }, 64_004)), 'near the antimeridian');
});

t.test('a walking live fix with every field: 20 bytes compact, 29 full', async (t) => {
  const f: Fix = { timeMs: 1795572750000, lat: 30.0597185, lon: 121.15751, mode: 3, alt: 12.3, speed: 1.35, course: 27.5, hdop: 0.8, sats: 12 };
  t.equal(encodeLiveFix(3_001_234_567, f, false, 5).length, 20);
  t.equal(encodeLiveFix(3_001_234_567, f, true, 5).length, 29);
  t.equal(encodeLiveFix(3_001_234_567, { timeMs: f.timeMs, lat: f.lat, lon: f.lon, mode: 2 }, false, 5).length, 13, 'without optional fields');
});

t.test('residues resolve to the value nearest the reference, across zero and both edges', async (t) => {
  const m = SEQ_MODULUS;
  for (const v of [0, 1, m - 1, m, m + 1, 5 * m + 123, 3_000_000_000]) {
    for (const d of [-(m / 2), -1000, -1, 0, 1, 1000, m / 2 - 1]) {
      const near = v - d;
      t.equal(nearestWithResidue(((v % m) + m) % m, m, near), v, `v ${v} from ${near}`);
    }
  }
  const f: Fix = { timeMs: 1795572750000, lat: -33.9, lon: -70.1, mode: 3 };
  t.same(decodeLiveFix(encodeLiveFix(77, f, false, 5), referenceOf(70, { ...f, lat: -33.91, lon: -70.09 })).fix, viaTrackBatch(f, 77), 'negative coordinates');
});

t.test('malformed payloads are refused with the byte named, never a wrong fix', async (t) => {
  const f: Fix = { timeMs: 1795572750000, lat: 30.06, lon: 121.16, mode: 3, alt: 12.3, speed: 1.35, course: 27.5, hdop: 0.8, sats: 12 };
  const ref = referenceOf(9, f);
  for (const full of [true, false]) {
    const bytes = encodeLiveFix(10, { ...f, timeMs: f.timeMs + 1000 }, full, 5);
    for (let len = 0; len < bytes.length; len++) {
      t.throws(() => decodeLiveFix(bytes.subarray(0, len), ref), { code: 'BAD_MESSAGE', message: /byte \d+/ }, `${full ? 'full' : 'compact'} cut at ${len}`);
    }
    t.throws(() => decodeLiveFix(Buffer.concat([bytes, Buffer.from([0])]), ref), /after the last field/);
    const reserved = Buffer.from(bytes);
    reserved[0]! |= 0x80;
    t.throws(() => decodeLiveFix(reserved, ref), /reserved flag/);
  }
  t.throws(() => decodeLiveFix(encodeLiveFix(10, f, false, 5)), { code: 'NO_REFERENCE' });
  t.throws(() => decodeLiveFix(Buffer.from([0x00, 0x05, 1, 0, 0xff, 0xff, 0xff, 0x01, 0, 0]), ref), /residue past its window/);
  t.throws(() => decodeLiveFix(Buffer.from([0x01, 0x05, 1, 1, 0xa0, 0x9c, 0x95, 0xad, 0x01, 0]), ref), /latitude/);
  t.throws(() => encodeLiveFix(-1, f, true, 5), { code: 'BAD_FIX' });
  t.throws(() => encodeLiveFix(1, { ...f, lat: 91 }, true, 5), { code: 'BAD_FIX' });
});

t.test('a flood of compact forms without a reference is bounded per device and counted', async (t) => {
  const f = take(new Patrol({ seed: 8, vehicle: false, speedMps: 1.4 }), 1)[0]!;
  const refs = new LiveReferences({ maxHeldPerDevice: 10 });
  for (let i = 0; i < 25; i++) refs.decode('D', encodeLiveFix(1000 + i, { ...f, timeMs: f.timeMs + i * 1000 }, false, 5), 0);
  t.equal(refs.waiting('D'), 10);
  t.equal(refs.droppedWaiting, 15);
  t.same(refs.decode('D', encodeLiveFix(1025, { ...f, timeMs: f.timeMs + 25_000 }, true, 5), 1).map((o) => o.seq), [1015, 1016, 1017, 1018, 1019, 1020, 1021, 1022, 1023, 1024, 1025]);
});

t.test('the golden live stream (protocol/vectors/live): encodes to its hex and decodes back, fix by fix', async (t) => {
  const v = JSON.parse(readFileSync(join(repoRoot, 'protocol', 'vectors', 'live', 'live-fixes.json'), 'utf8')) as { fixes: Array<{ seq: number; full: boolean; anchor: number; fix: FixJson; hex: string }> };
  t.equal(v.fixes.length, LIVE_CASES.length, 'one entry per case');
  const refs = new LiveReferences();
  for (const [i, c] of v.fixes.entries()) {
    t.same(c, { ...LIVE_CASES[i], hex: c.hex }, `entry ${i} is its case`);
    const fix = fixFromJson(c.fix, `entry ${i}`);
    t.equal(Buffer.from(encodeLiveFix(c.seq, fix, c.full, c.anchor)).toString('hex'), c.hex, `entry ${i} encodes to the frozen bytes`);
    const out = refs.decode('BWC-0001', Buffer.from(c.hex, 'hex'), 0);
    t.same(out.map((o) => ({ seq: o.seq, full: o.full, anchor: o.anchor, fix: fixToJson(o.fix) })), [{ seq: c.seq, full: c.full, anchor: c.anchor, fix: c.fix }], `entry ${i} decodes to its fix`);
  }
});

t.test('forged full forms far away start a track of their own: every genuine fix is still read, and the checkpoints prove it', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const rng = new Rng(99);
  const sent = stream(take(new Patrol({ seed: 12, vehicle: false, speedMps: 1.4 }), 120), rng, 60_000, false);
  const chain = new ChainBuilder('D');
  for (const s of sent) chain.add(s.seq, leafOf('fix', fixContent(s.fix, s.seq)));
  const checkpoint = encodeCheckpoint(chain.seal(privateKey, { session: 1, sentMs: 0 })!);

  const refs = new LiveReferences();
  const verifier = new AuthVerifier(() => publicKey);
  const genuineSeen = new Set<number>();
  let forgedReadings = 0;
  sent.forEach((s, i) => {
    const feed = (payload: Uint8Array) => {
      const out = refs.decode('D', payload, s.atMs);
      for (const l of liveLeaves(out)) verifier.message('D', l.seq, l.leaf);
      for (const o of out) {
        if (JSON.stringify(o.fix) === JSON.stringify(viaTrackBatch(s.fix, s.seq)) && o.seq === s.seq) genuineSeen.add(o.seq);
        else forgedReadings++;
      }
    };
    // Every 10th message, a forger's full form 1,000 km north with the next seq, sent first.
    if (i % 10 === 5) feed(encodeLiveFix(s.seq, { ...s.fix, lat: s.fix.lat + 9 }, true, s.payload[1]!));
    feed(s.payload);
  });
  t.equal(genuineSeen.size, sent.length, 'every genuine fix read exactly');
  t.ok(refs.trackCount('D') <= 8, `reference tracks bounded (${refs.trackCount('D')})`);
  const r = verifier.checkpoint(checkpoint);
  t.equal(r.outcome, 'verified', 'the checkpoint verifies over the genuine readings');
  t.ok(r.outcome === 'verified' && r.forged.length > 0, `the forger's seqs are named forged (${r.outcome === 'verified' ? r.forged.length : 0}; ${forgedReadings} other readings)`);
});
