import { encodeFrame, Flag } from '../../drivers/camera/frame-codec.js';
import { Msg, writeNotification, writeStatus } from '../../drivers/camera/messages.js';
import { TlvWriter } from '../../drivers/camera/tlv.js';
import type { SeededRandom } from '../../sim/gnss/random.js';

/** Generators of hostile input for the fuzz scenario (seeded). */

export function withChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Breaks every complete, correctly checksummed sentence inside a line (noise around a sentence leaves it valid). */
function breakValidSentences(line: string): string {
  let s = line;
  for (let guard = 0; guard < 20; guard++) {
    let broke = false;
    for (const m of s.matchAll(/\$([^$*]*)\*([0-9A-Fa-f]{2})/g)) {
      let sum = 0;
      for (let i = 0; i < m[1]!.length; i++) sum ^= m[1]!.charCodeAt(i);
      if (sum !== parseInt(m[2]!, 16)) continue;
      const at = m.index! + m[0].length - 1;
      s = s.slice(0, at) + (s[at] === '0' ? '1' : '0') + s.slice(at + 1);
      broke = true;
      break;
    }
    if (!broke) return s;
  }
  return s.replace(/\$/g, '#');
}


const JUNK = ['', '0', '-1', '99.99', '1e5', 'NaN', 'A', 'V', 'N', 'S', 'E', 'W', '9999.9999', '0000.0000', '.', '1..2', '235960', '999999.999', '320299', ' ', ',,'];
/** Sentence types whose framed nonsense must never move a position: no position or time in them. */
const NO_POSITION = /^\$(G[PNLABQ])(GSV|GSA|VTG|TXT)/;

/**
 * One hostile line (no CR/LF) from a real one: random bytes, a mutated
 * sentence with its checksum left wrong or removed, or framed nonsense
 * (re-checksummed) in sentences that carry no position. None of them may
 * make or change a fix.
 */
export function fuzzLine(r: SeededRandom, real: string[]): string {
  const base = real[r.int(0, real.length - 1)]!;
  const k = r.next();
  if (k < 0.15) {
    let s = r.chance(0.5) ? '$' : '';
    const n = r.int(0, 120);
    for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.02) ? 0 : 0x20 + r.int(0, 0x5e));
    return breakValidSentences(s);
  }
  if (k < 0.35 && NO_POSITION.test(base)) {
    const star = base.lastIndexOf('*');
    const fields = base.slice(1, star > 0 ? star : undefined).split(',');
    for (let i = 0, n = r.int(1, 4); i < n; i++) fields[r.int(1, Math.max(1, fields.length - 1))] = JUNK[r.int(0, JUNK.length - 1)]!;
    if (r.chance(0.1)) fields.length = r.int(1, fields.length);
    return withChecksum(fields.join(','));
  }
  let s = base;
  for (let i = 0, n = r.int(1, 3); i < n; i++) {
    const at = r.int(0, Math.max(0, s.length - 1));
    switch (r.int(0, 4)) {
      case 0: s = s.slice(0, at) + String.fromCharCode(0x20 + r.int(0, 0x5e)) + s.slice(at + 1); break;
      case 1: s = s.slice(0, at) + s.slice(at + 1); break;
      case 2: s = s.slice(0, at) + JUNK[r.int(0, JUNK.length - 1)] + s.slice(at); break;
      case 3: s = s.slice(0, at); break;
      default: s = s.slice(0, at) + ',' + s.slice(at); break;
    }
  }
  // A mutation can leave a whole sentence intact (noise before its '$' or after its checksum): break it.
  return breakValidSentences(s.replace(/[\r\n]/g, ''));
}

/** A stream of camera frames: valid ones and mutated ones (bit flips, cuts, junk, bad lengths). */
export function fuzzFrame(r: SeededRandom): Buffer {
  const samples = [
    { type: Msg.STATUS, flags: Flag.RESPONSE, payload: writeStatus(new TlvWriter(), { recording: 'recording', batteryPct: 77, charging: false, storageTotal: 32e9, storageFree: 1e9, clockMs: Date.now() }).toBuffer() },
    { type: Msg.N_BATTERY, flags: Flag.NOTIFICATION, payload: writeNotification(new TlvWriter(), { type: 'battery', pct: r.int(0, 100), charging: true }).toBuffer() },
    { type: Msg.N_RECORDING, flags: Flag.NOTIFICATION, payload: writeNotification(new TlvWriter(), { type: 'recording', state: 'pre-record' }).toBuffer() },
    { type: Msg.N_STORAGE, flags: Flag.NOTIFICATION, payload: writeNotification(new TlvWriter(), { type: 'storage', free: 5, total: 10 }).toBuffer() },
  ];
  const s = samples[r.int(0, samples.length - 1)]!;
  let payload = Buffer.from(s.payload);
  if (r.chance(0.5) && payload.length) payload[r.int(0, payload.length - 1)] = r.int(0, 255);
  let b = encodeFrame({ ...s, payload, requestId: r.int(0, 0xffff) });
  if (r.chance(0.6)) {
    for (let i = 0, n = r.int(1, 3); i < n; i++) {
      if (b.length === 0) break;
      const at = r.int(0, b.length - 1);
      switch (r.int(0, 3)) {
        case 0: b[at]! ^= 1 << r.int(0, 7); break;
        case 1: b = b.subarray(0, at); break;
        case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from([0xa5, 0x5a, r.int(0, 255)]), b.subarray(at)]); break;
        default: if (b.length >= 11) b.writeUInt32BE(r.int(0, 0x7fffffff) >>> 0, 7); break; // a wild length
      }
    }
  }
  return b;
}

/**
 * A mutated signed command: the change always lands in the signed body or
 * the signature (or cuts the envelope short), so no mutation can leave a
 * valid signed command behind.
 */
export function mutateEnvelope(r: SeededRandom, envelope: Uint8Array, body: Uint8Array, signature: Uint8Array): Buffer {
  const env = Buffer.from(envelope);
  const bodyAt = env.indexOf(Buffer.from(body));
  const sigAt = env.indexOf(Buffer.from(signature));
  const ranges: Array<[number, number]> = [[bodyAt, bodyAt + body.length], [sigAt, sigAt + signature.length]];
  const [from, to] = ranges[r.int(0, 1)]!;
  const at = r.int(from, to - 1);
  switch (r.int(0, 3)) {
    case 0: {
      env[at]! ^= 1 << r.int(0, 7);
      return env;
    }
    case 1:
      return Buffer.concat([env.subarray(0, at), env.subarray(at + 1)]);
    case 2:
      return Buffer.concat([env.subarray(0, at), Buffer.from([r.int(0, 255)]), env.subarray(at)]);
    default:
      return env.subarray(0, at);
  }
}
