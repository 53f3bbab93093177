import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { decodeMessage, encodeMessage, type HeaderData } from './codec.js';
import { BwcError } from '../common/errors.js';
import type { Fix } from './fix.js';
import { encodeTrackFixes } from './track-codec.js';

/**
 * Authentic device data (protocol/README.md, "Authentic device data").
 *
 * Each device message (fix, status, event, reply) has a leaf: SHA-256 over a
 * kind byte and its content, independent of the header (which changes when a
 * message is sent again) and of how fixes were batched. Leaves are chained in
 * seq order; a signed AuthCheckpoint covers a run of consecutive seqs and
 * signs the chain's end. Everything here is shared by the agent (which
 * builds checkpoints) and by any verifier (auth-verifier.ts).
 */

export type AuthKind = 'fix' | 'status' | 'event' | 'reply';

export const AUTH_KIND_CODE: Record<AuthKind, number> = { fix: 1, status: 2, event: 3, reply: 4 };

const DOMAIN = Buffer.from('bwc.v1 auth checkpoint', 'ascii');

export function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * The content of a fix: the TrackBatch body of a live message carrying this
 * fix alone with sent_ms = 0 (0x1a, length, the single-fix blob with the
 * absolute time): the quantised values, whatever batch carried the fix.
 */
export function fixContent(fix: Fix, seq: number): Uint8Array {
  const blob = encodeTrackFixes([fix], [seq], 0);
  // Field 3 (fixes), length-delimited: 0x1a, then the length (one byte: a single fix is far below 128 bytes).
  if (blob.length >= 0x80) throw new BwcError('BAD_FIX', `a single fix encodes to ${blob.length} bytes`);
  const out = new Uint8Array(2 + blob.length);
  out[0] = 0x1a;
  out[1] = blob.length;
  out.set(blob, 2);
  return out;
}

/**
 * The message without its Header field: status, event and reply payloads are
 * the header (field 1, prepended by the agent) followed by the body bytes the
 * agent stored; the body is what is authenticated.
 */
export function bodyAfterHeader(payload: Uint8Array): Uint8Array {
  if (payload[0] !== 0x0a) return payload;
  let pos = 1;
  let len = 0;
  let shift = 0;
  for (;;) {
    if (pos >= payload.length || shift > 28) throw new BwcError('BAD_MESSAGE', 'header length is truncated');
    const b = payload[pos++]!;
    len |= (b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7;
  }
  if (pos + len > payload.length) throw new BwcError('BAD_MESSAGE', 'header runs past the end');
  return payload.subarray(pos + len);
}

export function leafOf(kind: AuthKind, content: Uint8Array): Buffer {
  return sha256(Uint8Array.of(AUTH_KIND_CODE[kind]), content);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** The chain's start for a checkpoint beginning at firstSeq: binds device and position. */
export function chainStart(deviceId: string, firstSeq: number): Buffer {
  return sha256(DOMAIN, Buffer.from([0]), Buffer.from(deviceId, 'utf8'), Buffer.from([0]), u64(firstSeq));
}

export function chainNext(link: Uint8Array, leaf: Uint8Array): Buffer {
  return sha256(link, leaf);
}

/** What the device's key signs: domain, device, first seq, count, chain end. */
export function signedBytes(deviceId: string, firstSeq: number, count: number, head: Uint8Array): Buffer {
  const c = Buffer.alloc(4);
  c.writeUInt32BE(count);
  return Buffer.concat([DOMAIN, Buffer.from([0]), Buffer.from(deviceId, 'utf8'), Buffer.from([0]), u64(firstSeq), c, head]);
}

export interface Checkpoint {
  header: HeaderData;
  firstSeq: number;
  count: number;
  /** tags[i]: first byte of the link after message firstSeq + i. */
  tags: Uint8Array;
  signature: Uint8Array;
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  return encodeMessage('AuthCheckpoint', { ...c.header, seq: 0 }, { firstSeq: c.firstSeq, count: c.count, tags: c.tags, signature: c.signature });
}

/** Decodes and checks the shape (not the signature); BwcError('BAD_MESSAGE') otherwise. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const m = decodeMessage<{ firstSeq?: number; count?: number; tags?: Uint8Array; signature?: Uint8Array }>('AuthCheckpoint', bytes);
  if (!m.header?.deviceId) throw new BwcError('BAD_MESSAGE', 'AuthCheckpoint: no header device id');
  const count = Number(m.count ?? 0);
  const firstSeq = Number(m.firstSeq ?? 0);
  const tags = Buffer.from(m.tags ?? []);
  const signature = Buffer.from(m.signature ?? []);
  if (count < 1 || firstSeq < 1) throw new BwcError('BAD_MESSAGE', `AuthCheckpoint: first_seq ${firstSeq}, count ${count}: both must be at least 1`);
  if (tags.length !== count) throw new BwcError('BAD_MESSAGE', `AuthCheckpoint: ${tags.length} tags for ${count} messages`);
  if (signature.length !== 64) throw new BwcError('BAD_MESSAGE', `AuthCheckpoint: signature of ${signature.length} bytes, not 64`);
  return { header: m.header, firstSeq, count, tags, signature };
}

/**
 * Builds the chain of one device as its messages are written (seq order,
 * consecutive), and seals it into signed checkpoints.
 */
export class ChainBuilder {
  private first = 0;
  private link: Buffer = Buffer.alloc(0);
  private tags: number[] = [];

  constructor(readonly deviceId: string) {}

  /** Seq of the next message expected, 0 when the run is empty. */
  get nextSeq(): number {
    return this.first === 0 ? 0 : this.first + this.tags.length;
  }

  get pending(): number {
    return this.tags.length;
  }

  /**
   * Adds the next message. A seq that does not follow the run (a seq reset, a
   * skipped number) seals nothing by itself: the caller seals first
   * (`needsSeal`), so one checkpoint always covers consecutive seqs.
   */
  add(seq: number, leaf: Uint8Array): void {
    if (this.first === 0) {
      this.first = seq;
      this.link = chainStart(this.deviceId, seq);
    } else if (seq !== this.nextSeq) {
      throw new Error(`chain of ${this.deviceId}: seq ${seq} does not follow ${this.nextSeq - 1}`);
    }
    this.link = chainNext(this.link, leaf);
    this.tags.push(this.link[0]!);
  }

  /** The open run, to keep across a crash: sealing it after a restart signs what was already published. */
  snapshot(): { first: number; link: string; tags: string } | undefined {
    if (this.tags.length === 0) return undefined;
    return { first: this.first, link: this.link.toString('base64'), tags: Buffer.from(this.tags).toString('base64') };
  }

  restore(s: { first: number; link: string; tags: string }): void {
    this.first = s.first;
    this.link = Buffer.from(s.link, 'base64');
    this.tags = [...Buffer.from(s.tags, 'base64')];
  }

  needsSeal(seq: number): boolean {
    return this.first !== 0 && seq !== this.nextSeq;
  }

  /** Signs the run and starts a new one; undefined when nothing was added. */
  seal(key: KeyObject, header: Omit<HeaderData, 'deviceId' | 'seq'>): Checkpoint | undefined {
    if (this.tags.length === 0) return undefined;
    const count = this.tags.length;
    const signature = sign(null, signedBytes(this.deviceId, this.first, count, this.link), key);
    const c: Checkpoint = { header: { ...header, deviceId: this.deviceId, seq: 0 }, firstSeq: this.first, count, tags: Uint8Array.from(this.tags), signature };
    this.first = 0;
    this.tags = [];
    this.link = Buffer.alloc(0);
    return c;
  }
}

/** Checks a checkpoint's signature over a chain end the verifier computed. */
export function checkpointSignatureValid(c: Checkpoint, head: Uint8Array, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(c.header.deviceId, c.firstSeq, c.count, head), publicKey, c.signature);
  } catch {
    return false;
  }
}
