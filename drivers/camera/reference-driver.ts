import type { Duplex } from 'node:stream';
import { BwcError, describeError } from '../../common/errors.js';
import type {
  CameraDriver, CameraIdentity, CameraNotification, CameraStatus, LiveFrame, LiveVideoFrame, LiveVideoOptions, OfficerAlert, OfficerBinding,
  RecordingInfo, SettingValue,
} from './camera-driver.js';
import { checkBinding } from './identity-rules.js';
import { encodeFrame, Flag, FrameDecoder, MAX_PAYLOAD, type Frame } from './frame-codec.js';
import {
  LIVE_FORMAT_H264, MAX_CLIP_READ, Msg, REQUEST_NAMES, Tag, readError, readIdentity, readLiveFrame, readLiveVideoUnit, readNotification, readRecordings,
  readStatus, textEncodingOf, writeAlert, writeBinding, writeSettingsPayload,
} from './messages.js';
import type { TextEncoding } from './text-encoding.js';
import { TlvReader, TlvWriter } from './tlv.js';
import { Waitress } from './waitress.js';

export interface ReferenceCameraOptions {
  /** How long to wait for each answer (default 5000 ms). */
  timeoutMs?: number;
  /** How names are written when binding an officer (default UTF-8). */
  textEncoding?: TextEncoding;
  /** Largest frame payload accepted (default 1 MiB). */
  maxPayload?: number;
}

/** Refuse to buffer absurd clip reads in memory; callers read in chunks. */
const MAX_READ_CLIP_TOTAL = 64 * 1024 * 1024;
/**
 * One clip read at a time. Several in flight would overlap round trips, but
 * serialport 13 on Linux stalls a writer that is waiting for the port to
 * drain when a read wakes on the same port (seen on ptys with 4 reads of
 * 256 KiB in flight: the camera's write queue never drained). Sequential
 * reads still move about 10 MB/s over a pty.
 */
const CLIP_READS_IN_FLIGHT = 1;

/**
 * The driver of the reference camera protocol (README.md) over any byte
 * stream: a serial port, a pseudo-terminal, a TCP socket. Single use: when
 * the stream closes, the driver is finished and the device manager opens a
 * new one. It never retries; it counts what it rejects.
 */
export function openReferenceCamera(stream: Duplex, opts: ReferenceCameraOptions = {}): CameraDriver {
  return new ReferenceCameraDriver(stream, opts);
}

class ReferenceCameraDriver implements CameraDriver {
  private readonly timeoutMs: number;
  private readonly encoding: TextEncoding;
  private readonly maxPayload: number;
  private readonly decoder: FrameDecoder;
  private readonly waitress: Waitress<number, Frame>;
  private nextId = 1;
  private closedReason: string | undefined;
  private readonly notificationCbs: ((n: CameraNotification) => void)[] = [];
  private readonly closeCbs: ((reason: string) => void)[] = [];
  private onLiveFrame: ((f: LiveFrame) => void) | undefined;
  private onVideo: { frame: (f: LiveVideoFrame) => void; end: (reason: string) => void } | undefined;
  private released: Promise<void> | undefined;
  private readonly extra: Record<string, number> = {
    'rejected.bad-payload': 0, 'rejected.unmatched-response': 0, 'rejected.unknown-type': 0, 'rejected.unexpected-request': 0,
    timeouts: 0, framesOut: 0, callbackErrors: 0, liveFramesDropped: 0,
  };
  private readonly onData = (d: Buffer) => this.decoder.push(d);
  private readonly onEnd = () => this.shutdown('the camera link closed');
  private readonly onError = (e: Error) => this.shutdown(`the camera link failed: ${e.message}`);

  constructor(private readonly stream: Duplex, opts: ReferenceCameraOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.encoding = opts.textEncoding ?? 'utf8';
    this.maxPayload = opts.maxPayload ?? MAX_PAYLOAD;
    this.decoder = new FrameDecoder((f) => this.onFrame(f), this.maxPayload);
    this.waitress = new Waitress<number, Frame>(() => this.extra.timeouts!++);
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    if (stream.destroyed) this.shutdown('the camera link is already closed');
  }

  get counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.decoder.counters)) out[`rejected.${k}`] = v;
    Object.assign(out, this.extra);
    out.discardedBytes = this.decoder.discardedBytes;
    out.framesIn = this.decoder.frames;
    return out;
  }

  // requests ----------------------------------------------------------------
  private allocId(): number {
    for (let i = 0; i < 0xffff; i++) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffff ? 1 : this.nextId + 1;
      if (!this.waitress.has(id)) return id;
    }
    throw new BwcError('CAMERA_BUSY', 'too many camera requests in flight');
  }

  private async request(type: number, body?: TlvWriter, timeoutMs = this.timeoutMs): Promise<TlvReader> {
    const name = REQUEST_NAMES[type] ?? `type ${type}`;
    if (this.closedReason !== undefined) throw new BwcError('CAMERA_CLOSED', `cannot send ${name}: ${this.closedReason}`);
    const id = this.allocId();
    const encoding = body?.encoding ?? 'utf8';
    const flags = encoding === 'gbk' ? Flag.TEXT_GBK : 0;
    const bytes = encodeFrame({ type, flags, requestId: id, payload: body?.toBuffer() ?? Buffer.alloc(0) }, this.maxPayload);
    const answer = this.waitress.waitFor(id, timeoutMs, () => `the camera did not answer ${name} (request ${id}) within ${timeoutMs} ms`);
    this.stream.write(bytes);
    this.extra.framesOut!++;
    const frame = await answer;
    const reader = (what: string) => new TlvReader(frame.payload, textEncodingOf(frame.flags), what);
    try {
      if (frame.type !== type) throw new BwcError('CAMERA_BAD_PAYLOAD', `the camera answered ${name} (request ${id}) with message type ${frame.type}`);
      if (frame.flags & Flag.ERROR) {
        const e = readError(reader(`${name} error`));
        throw new BwcError(`CAMERA_${e.code}`, `the camera refused ${name}: ${e.message}`);
      }
      return reader(`${name} response`);
    } catch (err) {
      if (err instanceof BwcError && err.code === 'CAMERA_BAD_PAYLOAD') this.extra['rejected.bad-payload']!++;
      throw err;
    }
  }

  /** Parse a response; a malformed one is counted and raised as CAMERA_BAD_PAYLOAD. */
  private parse<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof BwcError && err.code === 'CAMERA_BAD_PAYLOAD') this.extra['rejected.bad-payload']!++;
      throw err;
    }
  }

  async identify(): Promise<CameraIdentity> {
    const r = await this.request(Msg.IDENTIFY);
    return this.parse(() => readIdentity(r));
  }

  async status(): Promise<CameraStatus> {
    const r = await this.request(Msg.STATUS);
    return this.parse(() => readStatus(r));
  }

  async readClock(): Promise<number> {
    const r = await this.request(Msg.CLOCK_READ);
    return this.parse(() => r.i64(Tag.CLOCK, 'clock'));
  }

  async setClock(ms: number): Promise<void> {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new BwcError('CAMERA_BAD_ARGUMENT', `clock must be a whole number of ms since 1970, got ${ms}`);
    await this.request(Msg.CLOCK_SET, new TlvWriter().i64(Tag.CLOCK, ms));
  }

  async bindOfficer(b: OfficerBinding): Promise<void> {
    checkBinding(b);
    await this.request(Msg.BIND_OFFICER, writeBinding(new TlvWriter(this.encoding), b));
  }

  async snapshot(opts: { quality?: number } = {}): Promise<Buffer> {
    const w = new TlvWriter();
    if (opts.quality !== undefined) w.u8(Tag.QUALITY, checkRange('quality', opts.quality, 1, 100));
    const r = await this.request(Msg.SNAPSHOT, w);
    return this.parse(() => {
      const jpeg = r.bytes(Tag.JPEG, 'jpeg');
      if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw r.bad('the snapshot is not a JPEG (no SOI marker)');
      return Buffer.from(jpeg);
    });
  }

  async startLive(opts: { fps: number; quality: number }, onFrame: (f: LiveFrame) => void): Promise<void> {
    const w = new TlvWriter().u8(Tag.FPS, checkRange('fps', opts.fps, 1, 30)).u8(Tag.QUALITY, checkRange('quality', opts.quality, 1, 100));
    this.onLiveFrame = onFrame;
    try {
      await this.request(Msg.LIVE_START, w);
    } catch (err) {
      if (this.onLiveFrame === onFrame) this.onLiveFrame = undefined;
      throw err;
    }
  }

  async startVideo(opts: LiveVideoOptions, onFrame: (f: LiveVideoFrame) => void, onEnd: (reason: string) => void): Promise<void> {
    const w = new TlvWriter().u8(Tag.FORMAT, LIVE_FORMAT_H264).u8(Tag.FPS, checkRange('fps', opts.fps, 1, 30)).u32(Tag.BITRATE, checkRange('kbps', opts.kbps, 0, 1_000_000));
    if (opts.width && opts.height) w.u32(Tag.WIDTH, checkRange('width', opts.width, 16, 8192)).u32(Tag.HEIGHT, checkRange('height', opts.height, 16, 8192));
    const handlers = { frame: onFrame, end: onEnd };
    this.onVideo = handlers;
    try {
      await this.request(Msg.LIVE_START, w);
    } catch (err) {
      if (this.onVideo === handlers) this.onVideo = undefined;
      throw err;
    }
  }

  async requestKeyframe(): Promise<void> {
    await this.request(Msg.LIVE_KEYFRAME);
  }

  async stopLive(): Promise<void> {
    // Stop delivering at once, whatever the camera does with the request.
    this.onLiveFrame = undefined;
    this.onVideo = undefined;
    await this.request(Msg.LIVE_STOP);
  }

  async listRecordings(range: { fromMs?: number; toMs?: number } = {}): Promise<RecordingInfo[]> {
    const w = new TlvWriter();
    if (range.fromMs !== undefined) w.i64(Tag.FROM, checkTime('fromMs', range.fromMs));
    if (range.toMs !== undefined) w.i64(Tag.TO, checkTime('toMs', range.toMs));
    const r = await this.request(Msg.LIST_RECORDINGS, w);
    return this.parse(() => readRecordings(r));
  }

  async readClip(id: string, offset: number, length: number): Promise<Buffer> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 128) throw new BwcError('CAMERA_BAD_ARGUMENT', `recording id must be 1..128 characters, got ${JSON.stringify(id)}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new BwcError('CAMERA_BAD_ARGUMENT', `clip offset must be a non-negative integer, got ${offset}`);
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ_CLIP_TOTAL) {
      throw new BwcError('CAMERA_BAD_ARGUMENT', `clip length must be an integer in 0..${MAX_READ_CLIP_TOTAL}, got ${length}`);
    }
    // The protocol bounds one read; a longer range is several requests.
    const chunks: { offset: number; want: number }[] = [];
    for (let at = 0; at < length; at += MAX_CLIP_READ) chunks.push({ offset: offset + at, want: Math.min(MAX_CLIP_READ, length - at) });
    if (chunks.length === 0) chunks.push({ offset, want: 0 });
    const readChunk = async (c: { offset: number; want: number }): Promise<Buffer> => {
      const w = new TlvWriter().str(Tag.ID, id).i64(Tag.OFFSET, c.offset).u32(Tag.LENGTH, c.want);
      const r = await this.request(Msg.READ_CLIP, w);
      return this.parse(() => {
        const d = r.bytes(Tag.DATA, 'data');
        if (d.length > c.want) throw r.bad(`the camera sent ${d.length} bytes for a read of ${c.want}`);
        return Buffer.from(d);
      });
    };
    const parts: Buffer[] = [];
    const inFlight: Promise<Buffer>[] = [];
    let next = 0;
    while (next < chunks.length || inFlight.length > 0) {
      while (next < chunks.length && inFlight.length < CLIP_READS_IN_FLIGHT) {
        const p = readChunk(chunks[next++]!);
        p.catch(() => {}); // awaited below, in order
        inFlight.push(p);
      }
      const data = await inFlight.shift()!;
      parts.push(data);
      if (data.length < chunks[parts.length - 1]!.want) {
        // The end of the recording: later chunks can only be empty.
        await Promise.allSettled(inFlight);
        break;
      }
    }
    return Buffer.concat(parts);
  }

  async notify(kind: OfficerAlert, durationMs?: number): Promise<void> {
    if (durationMs !== undefined) checkRange('durationMs', durationMs, 0, 60_000);
    let w: TlvWriter;
    try {
      w = writeAlert(new TlvWriter(), kind, durationMs);
    } catch (err) {
      throw new BwcError('CAMERA_BAD_ARGUMENT', describeError(err), { cause: err });
    }
    await this.request(Msg.NOTIFY_OFFICER, w);
  }

  async writeSettings(settings: Record<string, SettingValue>): Promise<void> {
    if (settings === null || typeof settings !== 'object' || Object.keys(settings).length === 0) {
      throw new BwcError('CAMERA_BAD_ARGUMENT', 'settings must be an object with at least one key');
    }
    for (const key of Object.keys(settings)) {
      if (!/^[a-z][a-z0-9_.-]{0,63}$/i.test(key)) throw new BwcError('CAMERA_BAD_ARGUMENT', `setting name ${JSON.stringify(key)} must be 1..64 letters, digits, '_', '.', '-'`);
    }
    await this.request(Msg.WRITE_SETTINGS, writeSettingsPayload(new TlvWriter(this.encoding), settings));
  }

  // incoming ----------------------------------------------------------------
  onNotification(cb: (n: CameraNotification) => void): void {
    this.notificationCbs.push(cb);
  }

  onClose(cb: (reason: string) => void): void {
    if (this.closedReason !== undefined) queueMicrotask(() => cb(this.closedReason!));
    else this.closeCbs.push(cb);
  }

  private call<A>(cb: (a: A) => void, arg: A): void {
    try {
      cb(arg);
    } catch {
      // A listener's bug must not stop the channel; it is counted.
      this.extra.callbackErrors!++;
    }
  }

  private onFrame(frame: Frame): void {
    if (frame.flags & Flag.RESPONSE) {
      if (!this.waitress.resolve(frame.requestId, frame)) this.extra['rejected.unmatched-response']!++;
      return;
    }
    if (!(frame.flags & Flag.NOTIFICATION)) {
      this.extra['rejected.unexpected-request']!++;
      return;
    }
    const r = new LazyReader(frame);
    try {
      if (frame.type === Msg.N_LIVE_FRAME && this.onVideo) {
        const f = readLiveVideoUnit(r.get('live video frame'));
        this.call(this.onVideo.frame, { ...f, data: ownBytes(f.data) });
        return;
      }
      if (frame.type === Msg.N_LIVE_END) {
        const v = this.onVideo;
        this.onVideo = undefined;
        if (v) this.call(v.end, r.get('live end').str(Tag.ERROR_MESSAGE, 'reason'));
        return;
      }
      if (frame.type === Msg.N_LIVE_FRAME) {
        const cb = this.onLiveFrame;
        if (!cb) {
          this.extra.liveFramesDropped!++;
          return;
        }
        const f = readLiveFrame(r.get('live frame'));
        this.call(cb, { ...f, jpeg: Buffer.from(f.jpeg) });
        return;
      }
      const n = readNotification(frame.type, r.get('notification'));
      if (!n) {
        this.extra['rejected.unknown-type']!++;
        return;
      }
      for (const cb of this.notificationCbs) this.call(cb, n);
    } catch {
      this.extra['rejected.bad-payload']!++;
    }
  }

  // lifecycle ---------------------------------------------------------------
  private shutdown(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.onLiveFrame = undefined;
    const video = this.onVideo;
    this.onVideo = undefined;
    if (video) this.call(video.end, reason);
    this.stream.off('data', this.onData);
    this.decoder.end();
    this.waitress.rejectAll(() => new BwcError('CAMERA_CLOSED', `camera request abandoned: ${reason}`));
    for (const cb of this.closeCbs.splice(0)) this.call(cb, reason);
    void this.release();
  }

  async close(): Promise<void> {
    this.shutdown('closed by the host');
    await this.release();
  }

  /**
   * Lets go of the stream. A SerialPort must be closed with close(): its
   * destroy() leaves the port open and locked. Also stops serialport's reader,
   * which on a hung-up pty can spin on zero-byte reads.
   */
  private release(): Promise<void> {
    if (this.released) return this.released;
    const stream = this.stream as Duplex & { isOpen?: boolean; close?: (cb: (err?: Error | null) => void) => void };
    stream.off('end', this.onEnd);
    stream.off('close', this.onEnd);
    // Errors while closing are of no interest any more, but must not be unhandled.
    stream.on('error', () => {});
    this.released = new Promise<void>((resolve) => {
      if (typeof stream.close === 'function' && typeof stream.isOpen === 'boolean') {
        if (!stream.isOpen) return resolve();
        stream.close(() => resolve());
      } else if (!stream.destroyed) {
        stream.once('close', () => resolve());
        stream.destroy();
      } else resolve();
    });
    return this.released;
  }
}

class LazyReader {
  constructor(private readonly frame: Frame) {}
  get(what: string): TlvReader {
    return new TlvReader(this.frame.payload, textEncodingOf(this.frame.flags), what);
  }
}

function checkRange(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw new BwcError('CAMERA_BAD_ARGUMENT', `${name} must be an integer in ${min}..${max}, got ${v}`);
  return v;
}

function checkTime(name: string, v: number): number {
  if (!Number.isSafeInteger(v)) throw new BwcError('CAMERA_BAD_ARGUMENT', `${name} must be a whole number of ms since 1970, got ${v}`);
  return v;
}

/**
 * A video unit as the decoder read it: it stays a view of the buffer the
 * frame was joined in (a unit is a frame of its own), and is copied only
 * when that buffer is much larger than the unit (a read pool), so a queued
 * unit never keeps more than about itself alive.
 */
function ownBytes(b: Buffer): Buffer {
  return b.buffer.byteLength > 2 * b.length + 16 * 1024 ? Buffer.from(b) : b;
}
