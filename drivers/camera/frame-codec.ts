import { BwcError } from '../../common/errors.js';
import { crc16Ccitt, crc32 } from './crc.js';

/**
 * Framing of the reference camera control protocol (see README.md):
 *
 *   0  A5 5A        sync marker
 *   2  u8           protocol version (1)
 *   3  u8           flags (response, error, notification, GBK text)
 *   4  u8           message type
 *   5  u16 BE       request id (0 in notifications)
 *   7  u32 BE       payload length (at most MAX_PAYLOAD)
 *  11  u16 BE       CRC-16/CCITT-FALSE of bytes 0..10
 *  13  payload
 *  13+n u32 BE      CRC-32 of bytes 0..12+n
 *
 * The header has its own checksum so that a corrupt length is refused at once
 * instead of making the reader wait for a megabyte that never comes.
 */
export const SYNC0 = 0xa5;
export const SYNC1 = 0x5a;
export const PROTOCOL_VERSION = 1;
export const HEADER_LEN = 13;
export const TRAILER_LEN = 4;
export const FRAME_OVERHEAD = HEADER_LEN + TRAILER_LEN;
/** Largest payload a frame may carry: a snapshot or a clip range fits easily. */
export const MAX_PAYLOAD = 1024 * 1024;

export const Flag = {
  RESPONSE: 0x01,
  ERROR: 0x02,
  NOTIFICATION: 0x04,
  /** Text fields of this frame are GBK (GB 2312 superset) instead of UTF-8. */
  TEXT_GBK: 0x08,
} as const;
const KNOWN_FLAGS = 0x0f;

export interface Frame {
  type: number;
  flags: number;
  requestId: number;
  payload: Buffer;
}

export function encodeFrame(frame: Frame, maxPayload = MAX_PAYLOAD): Buffer {
  const { type, flags, requestId, payload } = frame;
  if (payload.length > maxPayload) {
    throw new BwcError('CAMERA_FRAME_TOO_LARGE', `camera frame payload of ${payload.length} bytes exceeds the limit of ${maxPayload} bytes`);
  }
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > 0xffff) {
    throw new BwcError('CAMERA_BAD_ARGUMENT', `request id must be an integer in 0..65535, got ${requestId}`);
  }
  const out = Buffer.allocUnsafe(FRAME_OVERHEAD + payload.length);
  out[0] = SYNC0;
  out[1] = SYNC1;
  out[2] = PROTOCOL_VERSION;
  out[3] = flags & 0xff;
  out[4] = type & 0xff;
  out.writeUInt16BE(requestId, 5);
  out.writeUInt32BE(payload.length, 7);
  out.writeUInt16BE(crc16Ccitt(out, 0, 11), 11);
  payload.copy(out, HEADER_LEN);
  out.writeUInt32BE(crc32(out, 0, HEADER_LEN + payload.length), HEADER_LEN + payload.length);
  return out;
}

/** Why bytes were thrown away; each reason is a counter. */
export type RejectReason = 'garbage' | 'bad-header-crc' | 'bad-version' | 'bad-flags' | 'too-long' | 'bad-crc' | 'truncated';
export const REJECT_REASONS: readonly RejectReason[] = ['garbage', 'bad-header-crc', 'bad-version', 'bad-flags', 'too-long', 'bad-crc', 'truncated'];

/**
 * Streaming frame reader. Bytes go in as they arrive; whole, checked frames
 * come out. Anything else is dropped and counted: after a bad header or a
 * bad checksum it skips one byte and hunts for the next sync marker, so one
 * corrupt frame never costs the frames behind it. Never throws on input.
 */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes `buf` must hold before scanning can make progress. */
  private need = HEADER_LEN;
  private afterReject = false;
  private readonly rejected: Record<RejectReason, number> = {
    garbage: 0, 'bad-header-crc': 0, 'bad-version': 0, 'bad-flags': 0, 'too-long': 0, 'bad-crc': 0, truncated: 0,
  };
  /** Bytes dropped for any reason. */
  discardedBytes = 0;
  /** Frames accepted and their bytes. */
  frames = 0;
  frameBytes = 0;

  constructor(
    private readonly onFrame: (f: Frame) => void,
    private readonly maxPayload = MAX_PAYLOAD,
  ) {}

  get counters(): Record<RejectReason, number> {
    return { ...this.rejected };
  }

  get rejections(): number {
    let n = 0;
    for (const r of REJECT_REASONS) n += this.rejected[r];
    return n;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.parts.push(chunk);
    this.partsLen += chunk.length;
    // Large frames arrive in many chunks: join them once, when enough is here.
    if (this.buf.length + this.partsLen < this.need) return;
    this.buf = this.buf.length === 0 && this.parts.length === 1 ? this.parts[0]! : Buffer.concat([this.buf, ...this.parts]);
    this.parts = [];
    this.partsLen = 0;
    this.scan();
  }

  /** The stream ended: whatever is left is a cut-off frame. */
  end(): void {
    if (this.partsLen > 0) {
      this.buf = Buffer.concat([this.buf, ...this.parts]);
      this.parts = [];
      this.partsLen = 0;
      this.scan();
    }
    if (this.buf.length > 0) {
      this.rejected.truncated++;
      this.discardedBytes += this.buf.length;
      this.buf = Buffer.alloc(0);
    }
    this.need = HEADER_LEN;
  }

  private drop(n: number): void {
    this.discardedBytes += n;
    this.buf = this.buf.subarray(n);
  }

  private reject(reason: RejectReason): void {
    this.rejected[reason]++;
    this.afterReject = true;
    this.drop(1);
  }

  private scan(): void {
    for (;;) {
      const buf = this.buf;
      let i = 0;
      while (i < buf.length && !(buf[i] === SYNC0 && (i + 1 === buf.length || buf[i + 1] === SYNC1))) i++;
      if (i > 0) {
        // Bytes skipped right after a rejection belong to that rejection.
        if (!this.afterReject) this.rejected.garbage++;
        this.drop(i);
      }
      if (this.buf.length < HEADER_LEN) {
        this.need = HEADER_LEN;
        return;
      }
      const b = this.buf;
      if (crc16Ccitt(b, 0, 11) !== b.readUInt16BE(11)) { this.reject('bad-header-crc'); continue; }
      if (b[2] !== PROTOCOL_VERSION) { this.reject('bad-version'); continue; }
      if ((b[3]! & ~KNOWN_FLAGS) !== 0) { this.reject('bad-flags'); continue; }
      const len = b.readUInt32BE(7);
      if (len > this.maxPayload) { this.reject('too-long'); continue; }
      const total = FRAME_OVERHEAD + len;
      if (b.length < total) {
        this.need = total;
        return;
      }
      if (crc32(b, 0, HEADER_LEN + len) !== b.readUInt32BE(HEADER_LEN + len)) { this.reject('bad-crc'); continue; }
      const frame: Frame = { type: b[4]!, flags: b[3]!, requestId: b.readUInt16BE(5), payload: b.subarray(HEADER_LEN, HEADER_LEN + len) };
      this.buf = b.subarray(total);
      this.afterReject = false;
      this.frames++;
      this.frameBytes += total;
      this.onFrame(frame);
    }
  }
}
