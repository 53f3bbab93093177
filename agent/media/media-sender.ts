import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { encodeMediaChunk } from '../../protocol/media-chunk-codec.js';
import { BwcError } from '../../common/errors.js';
import type { Topics } from '../../protocol/topics.js';
import type { MqttSession } from '../mqtt/mqtt-session.js';
import { TokenBucket } from './token-bucket.js';

/** Every common broker accepts messages of this size (mosquitto, EMQX, HiveMQ, AWS IoT's 128 KiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Data per chunk: the whole MediaChunk message (header, ids, hash, data) stays within MAX_MESSAGE_BYTES. */
export const MAX_CHUNK_BYTES = MAX_MESSAGE_BYTES - 512;

export interface MediaSenderOptions {
  session: MqttSession;
  topics: Topics;
  log: Logger;
  /** Cap on media bandwidth, kilobits per second; 0: none. */
  maxKbps: number;
  /** True while track or event messages wait to go out: media waits for them. */
  tracksWaiting: () => boolean;
  chunkBytes?: number;
  /** Chunks awaiting PUBACK at once (throughput on a long link). */
  window?: number;
}

export interface MediaObject {
  deviceId: string;
  requestId: string;
  objectId: string;
  contentType: string;
  totalSize: number;
  /** Reads `length` bytes at `offset` (a buffer in memory, or the camera's clip). */
  read: (offset: number, length: number) => Promise<Buffer>;
  /** Resume point: the first byte to send. */
  startOffset?: number;
  /** SHA-256 of the whole object when known beforehand (a clip's manifest); else computed while sending from 0. */
  sha256?: Buffer;
  frame?: number;
  timeMs?: number;
  signal?: AbortSignal;
  onProgress?: (sentBytes: number) => void;
  /** The bandwidth was already taken for this object (live frames, via frameFits). */
  prepaid?: boolean;
}

export interface MediaResult {
  bytes: number;
  chunks: number;
  /** What the last chunk carried: computed over the bytes sent when the transfer started at 0, else the known hash. */
  sha256: Buffer;
  /** Sent from 0 with a known hash that the bytes read did not match (the footage differs from its manifest). */
  mismatch: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends snapshots, live frames and clips as MediaChunk messages (QoS 1, not
 * buffered: a broken transfer is resumed by the requester from an offset).
 * Media never delays tracks: before each chunk it waits while track or event
 * messages are queued, and it keeps to the configured bandwidth cap.
 */
export class MediaSender {
  private readonly bucket: TokenBucket;
  private readonly chunkBytes: number;
  private readonly window: number;
  seq = 0;

  constructor(private readonly o: MediaSenderOptions) {
    this.chunkBytes = Math.min(o.chunkBytes ?? MAX_CHUNK_BYTES, MAX_CHUNK_BYTES);
    this.window = o.window ?? 4;
    this.bucket = new TokenBucket((o.maxKbps * 1000) / 8, Math.max(this.chunkBytes, (o.maxKbps * 1000) / 8 / 4));
  }

  /** The session, topics and track check, for live video (which publishes its own chunks at QoS 0). */
  get link(): Pick<MediaSenderOptions, 'session' | 'topics' | 'tracksWaiting'> {
    return this.o;
  }

  /** For live frames: whether a frame of n bytes fits in the bandwidth budget now (else drop it). */
  frameFits(n: number): boolean {
    return this.bucket.tryTake(n);
  }

  async send(obj: MediaObject): Promise<MediaResult> {
    const start = obj.startOffset ?? 0;
    if (start < 0 || start > obj.totalSize) throw new BwcError('BAD_OFFSET', `offset ${start} is outside the object (${obj.totalSize} bytes)`);
    // From 0 the hash is always computed over what is read, so a clip that
    // differs from its manifest is caught here and by the receiver; a resume
    // carries the known hash (re-reading the prefix from a camera costs a transfer).
    const hash = start === 0 || !obj.sha256 ? createHash('sha256') : undefined;
    if (hash && start > 0) {
      for (let at = 0; at < start; at += this.chunkBytes) hash.update(await obj.read(at, Math.min(this.chunkBytes, start - at)));
    }
    const pending = new Set<Promise<void>>();
    let failure: unknown;
    let offset = start;
    let index = 0;
    let digest: Buffer | undefined;
    const topic = this.o.topics.media(obj.deviceId, obj.requestId);
    do {
      if (obj.signal?.aborted) throw new BwcError('CANCELLED', 'transfer cancelled');
      if (failure) throw failure;
      while (this.o.tracksWaiting() || this.o.session.pendingWrites > 2 * this.chunkBytes) {
        if (obj.signal?.aborted) throw new BwcError('CANCELLED', 'transfer cancelled');
        if (!this.o.session.connected) break; // the publish below fails at once and reports the offset
        await sleep(2);
      }
      const length = Math.min(this.chunkBytes, obj.totalSize - offset);
      const data = length > 0 ? await obj.read(offset, length) : Buffer.alloc(0);
      if (data.length !== length) throw new BwcError('SHORT_READ', `read ${data.length} bytes at offset ${offset}, expected ${length}`);
      hash?.update(data);
      const last = offset + length >= obj.totalSize;
      if (last) digest = hash ? hash.digest() : obj.sha256!;
      const wait = obj.prepaid ? 0 : this.bucket.take(length);
      if (wait > 0) await sleep(wait);
      const payload = encodeMediaChunk(
        { deviceId: obj.deviceId, seq: ++this.seq, session: this.o.session.up?.session ?? 0, sentMs: Date.now() },
        {
          requestId: obj.requestId,
          index,
          offset,
          last,
          contentType: obj.contentType,
          data,
          totalSize: obj.totalSize,
          objectId: obj.objectId,
          ...(obj.frame !== undefined ? { frame: obj.frame } : {}),
          ...(obj.timeMs !== undefined ? { timeMs: obj.timeMs } : {}),
          ...(last ? { sha256: digest } : {}),
        },
      );
      const p = this.o.session.publish(topic, payload, { qos: 1 }).then(
        () => void pending.delete(p),
        (err: unknown) => {
          pending.delete(p);
          failure ??= new BwcError('LINK_LOST', `broker link lost at offset ${offset}: resume from there`, { cause: err });
        },
      );
      pending.add(p);
      if (pending.size >= this.window) await Promise.race(pending);
      offset += length;
      index++;
      obj.onProgress?.(offset);
      if (last) break;
    } while (offset < obj.totalSize || index === 0);
    await Promise.all(pending);
    if (failure) throw failure;
    return { bytes: offset - start, chunks: index, sha256: digest!, mismatch: obj.sha256 !== undefined && !digest!.equals(obj.sha256) };
  }
}
