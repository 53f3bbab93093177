import type { KeyObject } from 'node:crypto';
import { bodyAfterHeader, chainNext, chainStart, checkpointSignatureValid, decodeCheckpoint, fixContent, leafOf, type Checkpoint } from './device-auth.js';
import { decodeHeader } from './codec.js';
import { decodeTrackBatch } from './track-codec.js';
import type { LiveFix } from './live-codec.js';
import { describeError } from '../common/errors.js';

/**
 * Verifies device data against signed checkpoints, for a platform or a
 * console. Feed it every device message (its leaf, see device-auth.ts) and
 * every AuthCheckpoint, in any order; it says which messages are authentic,
 * which are forged, and which checkpoints fail.
 *
 * A message with a seq already seen is a duplicate only when its content
 * (leaf) is the same. A different content under the same seq is kept beside
 * the first as a candidate: the checkpoint decides which one the device
 * wrote, so a forged message sent first never makes the genuine one look like
 * a duplicate.
 */

export type MessageVerdict =
  /** First message with this seq; awaiting its checkpoint. */
  | 'new'
  /** Same seq and same content as one already seen (QoS 1 resend). */
  | 'duplicate'
  /** Same seq, different content, not yet decided. */
  | 'conflict'
  /** Same content as the message a verified checkpoint covers (arrived after it). */
  | 'authentic'
  /** A verified checkpoint covers this seq with other content. */
  | 'forged';

export type CheckpointOutcome =
  /** Signature valid over the chain of the messages received: all authentic. */
  | 'verified'
  /** Some covered seqs have not arrived (yet): checked again when they do. */
  | 'incomplete'
  /**
   * Every seq has a message but no combination matches the chain: data
   * altered or inserted, or the checkpoint forged. Kept and checked again
   * when another message with a covered seq arrives (the genuine one may come
   * after a forged one): a later 'verified' settles it.
   */
  | 'broken'
  /** No public key for the device. */
  | 'no-key'
  | 'malformed';

export interface CheckpointResult {
  device?: string;
  firstSeq?: number;
  count?: number;
  outcome: CheckpointOutcome;
  /** Seqs whose received candidates other than the genuine one are forged. */
  forged: number[];
  missing: number[];
  /** broken: the first seq where no received message continues the chain. */
  brokenAt?: number;
  reason?: string;
}

interface SeqEntry {
  leaves: Buffer[];
  /** Set once a verified checkpoint covered the seq. */
  genuine?: Buffer;
}

interface DeviceState {
  seqs: Map<number, SeqEntry>;
  /**
   * Checkpoints not verified yet: some covered seq has not arrived, or no
   * received candidate fits (the genuine message may still be on its way,
   * behind a forged one). Checked again whenever a covered seq gets a new candidate.
   */
  waiting: { c: Checkpoint; last: CheckpointOutcome }[];
  verifiedMessages: number;
  forgedMessages: number;
}

/** Most candidate chains followed at once through a checkpoint (guards against a flood of same-seq forgeries). */
const MAX_PATHS = 256;

export class AuthVerifier {
  private readonly devices = new Map<string, DeviceState>();

  constructor(private readonly keyOf: (deviceId: string) => KeyObject | undefined) {}

  private state(device: string): DeviceState {
    let d = this.devices.get(device);
    if (!d) this.devices.set(device, (d = { seqs: new Map(), waiting: [], verifiedMessages: 0, forgedMessages: 0 }));
    return d;
  }

  /** Records a device message; results of checkpoints it completed come back in `resolved`. */
  message(device: string, seq: number, leaf: Buffer): { verdict: MessageVerdict; resolved: CheckpointResult[] } {
    const d = this.state(device);
    let e = d.seqs.get(seq);
    if (!e) d.seqs.set(seq, (e = { leaves: [] }));
    if (e.genuine) {
      if (e.genuine.equals(leaf)) return { verdict: 'authentic', resolved: [] };
      if (!e.leaves.some((l) => l.equals(leaf))) {
        e.leaves.push(leaf);
        d.forgedMessages++;
      }
      return { verdict: 'forged', resolved: [] };
    }
    if (e.leaves.some((l) => l.equals(leaf))) return { verdict: 'duplicate', resolved: [] };
    e.leaves.push(leaf);
    const verdict: MessageVerdict = e.leaves.length === 1 ? 'new' : 'conflict';
    const resolved: CheckpointResult[] = [];
    const retry = d.waiting.filter((w) => seq >= w.c.firstSeq && seq < w.c.firstSeq + w.c.count);
    for (const w of retry) {
      const r = this.check(w.c, d);
      if (r.outcome === 'verified') {
        d.waiting.splice(d.waiting.indexOf(w), 1);
        resolved.push(r);
      } else {
        // A change of state is news (incomplete → broken); the same state again is not.
        if (r.outcome !== w.last && r.outcome === 'broken') resolved.push(r);
        w.last = r.outcome;
      }
    }
    return { verdict, resolved };
  }

  /** Checks an AuthCheckpoint payload against the messages received so far. */
  checkpoint(payload: Uint8Array): CheckpointResult {
    let c: Checkpoint;
    try {
      c = decodeCheckpoint(payload);
    } catch (err) {
      return { outcome: 'malformed', forged: [], missing: [], reason: describeError(err) };
    }
    const d = this.state(c.header.deviceId);
    const r = this.check(c, d);
    if (r.outcome === 'incomplete' || r.outcome === 'broken') d.waiting.push({ c, last: r.outcome });
    return r;
  }

  private check(c: Checkpoint, d: DeviceState): CheckpointResult {
    const base = { device: c.header.deviceId, firstSeq: c.firstSeq, count: c.count };
    const key = this.keyOf(c.header.deviceId);
    if (!key) return { ...base, outcome: 'no-key', forged: [], missing: [], reason: `no public key for device ${c.header.deviceId}` };
    const missing: number[] = [];
    for (let i = 0; i < c.count; i++) if (!d.seqs.get(c.firstSeq + i)?.leaves.length) missing.push(c.firstSeq + i);
    if (missing.length > 0) return { ...base, outcome: 'incomplete', forged: [], missing };
    // Follow every chain the received candidates allow, pruned by the tags.
    let paths: { link: Buffer; picks: Buffer[] }[] = [{ link: chainStart(c.header.deviceId, c.firstSeq), picks: [] }];
    for (let i = 0; i < c.count; i++) {
      const e = d.seqs.get(c.firstSeq + i)!;
      const options = e.genuine ? [e.genuine] : e.leaves;
      const next: typeof paths = [];
      for (const p of paths) {
        for (const leaf of options) {
          const link = chainNext(p.link, leaf);
          if (link[0] === c.tags[i] && next.length < MAX_PATHS) next.push({ link, picks: [...p.picks, leaf] });
        }
      }
      if (next.length === 0) {
        return { ...base, outcome: 'broken', forged: [], missing: [], brokenAt: c.firstSeq + i, reason: `no message received with seq ${c.firstSeq + i} continues the signed chain (altered or forged data, or a forged checkpoint)` };
      }
      paths = next;
    }
    const good = paths.find((p) => checkpointSignatureValid(c, p.link, key));
    if (!good) return { ...base, outcome: 'broken', forged: [], missing: [], reason: 'the signature does not match the chain of the messages received (altered data or a forged checkpoint)' };
    const forged: number[] = [];
    for (let i = 0; i < c.count; i++) {
      const e = d.seqs.get(c.firstSeq + i)!;
      if (e.genuine) continue;
      e.genuine = good.picks[i]!;
      d.verifiedMessages++;
      const others = e.leaves.filter((l) => !l.equals(e.genuine!)).length;
      if (others > 0) {
        forged.push(c.firstSeq + i);
        d.forgedMessages += others;
      }
    }
    return { ...base, outcome: 'verified', forged, missing: [] };
  }

  /** Per device: messages proven authentic, forged, and received but covered by no verified checkpoint (unsigned). */
  report(device: string): { authentic: number; forged: number; unsigned: number[]; waiting: number; broken: number } {
    const d = this.devices.get(device);
    if (!d) return { authentic: 0, forged: 0, unsigned: [], waiting: 0, broken: 0 };
    const unsigned = [...d.seqs.entries()].filter(([, e]) => !e.genuine && e.leaves.length > 0).map(([s]) => s).sort((a, b) => a - b);
    return { authentic: d.verifiedMessages, forged: d.forgedMessages, unsigned, waiting: d.waiting.length, broken: d.waiting.filter((w) => w.last === 'broken').length };
  }
}

/** The (seq, leaf) of decoded live fixes (`live` messages: protocol/live-codec.ts). */
export function liveLeaves(fixes: LiveFix[]): { seq: number; leaf: Buffer }[] {
  return fixes.map((f) => ({ seq: f.seq, leaf: leafOf('fix', fixContent(f.fix, f.seq)) }));
}

/**
 * The (seq, leaf) of every device message in a received payload, by channel:
 * one per fix of a TrackBatch (live or backlog), one for a status (live or
 * backlog), event or reply. Other channels carry nothing to authenticate.
 */
export function messageLeaves(channel: string, payload: Uint8Array): { seq: number; leaf: Buffer }[] {
  if (channel === 'track' || channel === 'track/hist') {
    const b = decodeTrackBatch(payload);
    return b.fixes.map((f, i) => ({ seq: b.seqs[i]!, leaf: leafOf('fix', fixContent(f, b.seqs[i]!)) }));
  }
  // A backlog status goes out on status/hist; the device signed it as the status it is.
  const kind = channel === 'status/hist' ? 'status' : channel;
  if (kind === 'status' || kind === 'event' || kind === 'reply') {
    const h = decodeHeader(payload);
    if (!h) return [];
    return [{ seq: h.seq, leaf: leafOf(kind, bodyAfterHeader(payload)) }];
  }
  return [];
}
