import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthVerifier, liveLeaves, messageLeaves, type CheckpointResult, type MessageVerdict } from '../../protocol/auth-verifier.js';
import type { LiveFix } from '../../protocol/live-codec.js';
import { describeError } from '../../common/errors.js';
import type { Topics } from '../../protocol/topics.js';
import type { FleetRecord } from './fleet-decoder.js';

type Where = ReturnType<Topics['parse']>;

/**
 * What `bwc-console watch` does with authenticity: every device message is
 * given to the shared verifier (protocol/auth-verifier.ts) and every
 * checkpoint checked against the device public keys of `--device-keys`.
 * Forged, broken and unsigned data are printed as records of their own.
 */
export class WatchAuth {
  private readonly verifier: AuthVerifier;
  private readonly broken = new Map<string, number>();
  private readonly keys = new Map<string, KeyObject | undefined>();

  constructor(private readonly keysDir?: string) {
    this.verifier = new AuthVerifier((id) => this.keyOf(id));
  }

  private keyOf(deviceId: string): KeyObject | undefined {
    if (!this.keysDir) return undefined;
    if (!this.keys.has(deviceId)) {
      let key: KeyObject | undefined;
      for (const f of [join(this.keysDir, `${deviceId}.pub`), join(this.keysDir, deviceId, 'device.pub')]) {
        if (!existsSync(f)) continue;
        try {
          key = createPublicKey(readFileSync(f, 'utf8'));
        } catch {
          key = undefined;
        }
        break;
      }
      this.keys.set(deviceId, key);
    }
    return this.keys.get(deviceId);
  }

  /**
   * Verdict per seq of the message's device records; prints checkpoint
   * outcomes. A `live` message's fixes come decoded (`liveFixes`): a compact
   * live fix cannot be read without its device's reference.
   */
  onMessage(where: Where, payload: Buffer, retained: boolean, print: (r: FleetRecord) => void, liveFixes: LiveFix[] = []): Map<number, MessageVerdict> {
    const verdicts = new Map<number, MessageVerdict>();
    if (!where || where.kind !== 'device') return verdicts;
    if (where.channel === 'auth') {
      this.report(this.verifier.checkpoint(payload), print);
      return verdicts;
    }
    if (retained) return verdicts;
    let leaves: { seq: number; leaf: Buffer }[];
    try {
      leaves = where.channel === 'live' ? liveLeaves(liveFixes) : messageLeaves(where.channel, payload);
    } catch (err) {
      void describeError(err); // the decoder prints the error record for this payload
      return verdicts;
    }
    for (const l of leaves) {
      const { verdict, resolved } = this.verifier.message(where.deviceId, l.seq, l.leaf);
      verdicts.set(l.seq, verdict);
      if (verdict === 'forged') print({ type: 'auth', outcome: 'forged', device: where.deviceId, seq: l.seq });
      for (const r of resolved) this.report(r, print);
    }
    return verdicts;
  }

  private report(r: CheckpointResult, print: (r: FleetRecord) => void): void {
    if (r.outcome === 'incomplete') return; // checked again when the missing messages arrive
    // Broken checkpoints are counted at the end, if they are still broken then.
    if (r.outcome === 'malformed' || r.outcome === 'no-key') {
      const d = r.device ?? '?';
      this.broken.set(d, (this.broken.get(d) ?? 0) + 1);
    }
    print({ type: 'auth', ...r });
  }

  summary(device: string): { authentic: number; forged: number; unsigned: number; unsignedSeqs: Array<[number, number]>; brokenCheckpoints: number; unverifiedCheckpoints: number } {
    const r = this.verifier.report(device);
    const ranges: Array<[number, number]> = [];
    for (const s of r.unsigned) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === s - 1) last[1] = s;
      else ranges.push([s, s]);
    }
    return { authentic: r.authentic, forged: r.forged, unsigned: r.unsigned.length, unsignedSeqs: ranges, brokenCheckpoints: r.broken + (this.broken.get(device) ?? 0), unverifiedCheckpoints: r.waiting };
  }
}
