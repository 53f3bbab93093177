import type { Logger } from 'pino';
import * as crypto from 'node:crypto';
import { encodeMediaChunk } from '../../protocol/media-chunk-codec.js';
import { inspectUnit } from '../../drivers/video/annexb.js';
import { parseSps } from '../../drivers/video/sps.js';
import type { AccessUnit, VideoFormat } from '../../drivers/video/video-source.js';
import { MAX_CHUNK_BYTES, type MediaSender } from './media-sender.js';

export interface LiveVideoSenderOptions {
  media: MediaSender;
  deviceId: string;
  requestId: string;
  fps: number;
  /** The feed's bitrate cap, kbit/s; 0: none beyond the agent's media cap. */
  maxKbps: number;
  log: Logger;
  /** Asks the source for an IDR (after a corrupt unit). */
  requestKeyframe: () => void;
  /** Video waiting longer than this for a slow link is dropped, oldest GOP first, ms. */
  maxQueueMs?: number;
  /** Bytes in the socket past which video waits (a live fix must not queue behind more). */
  socketBytes?: number;
}

interface Queued {
  u: AccessUnit;
  gop: number;
  format: VideoFormat;
  at: number;
}

export interface LiveVideoSummary {
  frames: number;
  keyframes: number;
  bytes: number;
  chunks: number;
  codec: string;
  width: number;
  height: number;
  durationMs: number;
  droppedFrames: number;
  bitrateKbps: number;
  corrupt: number;
  resolutionChanges: number;
  /** Drops by reason. */
  dropped: { bandwidth: number; link: number; corrupt: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One-shot SHA-256 (crypto.hash from Node 20.12: no Hash object per unit), else createHash. */
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;
const sha256 = (data: Buffer): Buffer => (oneShot ? oneShot('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest());

/**
 * Sends one live H.264 feed as MediaChunk messages at QoS 0 (protocol/README.md,
 * "Live video"). What it guarantees the viewer: the first unit is a keyframe;
 * drops are whole GOPs (a unit that cannot go takes the rest of its GOP with
 * it), so whatever arrives decodes; the feed's bitrate cap holds; and video
 * never makes a fix or event wait (it yields while they are queued and keeps
 * the socket nearly empty).
 */
export class LiveVideoSender {
  private readonly queue: Queued[] = [];
  private format: VideoFormat | undefined;
  private gop = -1;
  /** Everything up to the next keyframe is dropped (a unit of this GOP was). */
  private needKey = true;
  private readonly budget: { tokens: number; capacity: number; at: number; perMs: number } | undefined;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  private firstPts = -1;
  private lastPts = -1;
  private firstSentAt = 0;
  private lastSentAt = 0;
  readonly s: Omit<LiveVideoSummary, 'codec' | 'width' | 'height' | 'durationMs' | 'bitrateKbps' | 'droppedFrames'> = {
    frames: 0, keyframes: 0, bytes: 0, chunks: 0, corrupt: 0, resolutionChanges: 0, dropped: { bandwidth: 0, link: 0, corrupt: 0 },
  };
  /** When the first unit went out (for the first-frame latency). */
  firstSentMs: number | undefined;

  constructor(private readonly o: LiveVideoSenderOptions) {
    if (o.maxKbps > 0) {
      const perMs = (o.maxKbps * 1000) / 8 / 1000;
      // Half a second of burst: the average over a feed stays at the cap.
      const capacity = perMs * 500;
      this.budget = { tokens: capacity, capacity, at: Date.now(), perMs };
    }
  }

  /** A unit from the source. Never blocks: what cannot go is dropped. */
  push(u: AccessUnit): void {
    if (this.closed) return;
    const info = inspectUnit(u.data);
    if (info.defect) {
      this.drop('corrupt', 1);
      this.s.corrupt++;
      this.o.log.warn({ device: this.o.deviceId, request: this.o.requestId, frame: u.index, defect: info.defect }, 'corrupt H.264 unit dropped up to the next keyframe');
      this.needKey = true;
      this.o.requestKeyframe();
      return;
    }
    if (info.keyframe) {
      let fmt: VideoFormat;
      try {
        fmt = parseSps(info.sps!);
      } catch (err) {
        this.drop('corrupt', 1);
        this.s.corrupt++;
        this.needKey = true;
        this.o.log.warn({ device: this.o.deviceId, request: this.o.requestId, err: (err as Error).message }, 'keyframe with an unreadable SPS dropped');
        this.o.requestKeyframe();
        return;
      }
      if (this.format && (fmt.width !== this.format.width || fmt.height !== this.format.height || fmt.codec !== this.format.codec)) {
        this.s.resolutionChanges++;
        this.o.log.info({ device: this.o.deviceId, request: this.o.requestId, from: `${this.format.width}x${this.format.height} ${this.format.codec}`, to: `${fmt.width}x${fmt.height} ${fmt.codec}` }, 'live video format changed at a keyframe');
      }
      this.format = fmt;
      this.needKey = false;
      this.gop++;
    } else if (this.needKey || !this.format) {
      // The rest of a GOP already broken (or nothing decodable yet).
      this.pendingTail++;
      return;
    }
    if (!this.fits(u.data.length)) {
      // Over the cap: this unit and the rest of its GOP go; the next GOP starts clean.
      this.drop('bandwidth', 1);
      this.needKey = true;
      return;
    }
    this.queue.push({ u, gop: this.gop, format: this.format, at: Date.now() });
    this.trimQueue();
    this.wake?.();
    this.running ??= this.loop();
  }

  /** Units dropped because an earlier unit of their GOP was. */
  private pendingTail = 0;

  private drop(kind: keyof LiveVideoSummary['dropped'], n: number): void {
    this.s.dropped[kind] += n;
  }

  private fits(n: number): boolean {
    const b = this.budget;
    if (b) {
      const now = Date.now();
      // A keyframe larger than the burst would never fit: the burst grows to hold one and a half.
      b.capacity = Math.max(b.capacity, n * 1.5);
      b.tokens = Math.min(b.capacity, b.tokens + (now - b.at) * b.perMs);
      b.at = now;
      if (b.tokens < n) return false;
      if (!this.o.media.frameFits(n)) return false;
      b.tokens -= n;
      return true;
    }
    return this.o.media.frameFits(n);
  }

  /** A slow link: the oldest whole GOPs waiting are dropped, so what is sent stays live. */
  private trimQueue(): void {
    const maxMs = this.o.maxQueueMs ?? 1000;
    const now = Date.now();
    while (this.queue.length > 0 && now - this.queue[0]!.at > maxMs) {
      const nextKey = this.queue.findIndex((q, i) => i > 0 && q.u.keyframe);
      if (nextKey < 0) {
        // No later keyframe waiting: drop it all and wait for the next one.
        this.drop('link', this.queue.length);
        this.queue.length = 0;
        this.needKey = true;
        return;
      }
      this.drop('link', nextKey);
      this.queue.splice(0, nextKey);
    }
  }

  private async loop(): Promise<void> {
    const link = this.o.media.link;
    const topic = link.topics.media(this.o.deviceId, this.o.requestId);
    const socketBytes = this.o.socketBytes ?? 32 * 1024;
    while (!this.closed) {
      this.trimQueue();
      const q = this.queue.shift();
      if (!q) {
        // push() and close() wake the loop.
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      let ok = true;
      for (let offset = 0, index = 0; offset < q.u.data.length; index++) {
        // Fixes and events first; and never more than a little video in the socket ahead of them.
        while (!this.closed && (link.tracksWaiting() || link.session.pendingWrites > socketBytes)) {
          if (!link.session.connected) break;
          await sleep(2);
        }
        if (this.closed) return;
        const data = q.u.data.subarray(offset, offset + MAX_CHUNK_BYTES);
        const last = offset + data.length >= q.u.data.length;
        const payload = encodeMediaChunk(
          { deviceId: this.o.deviceId, seq: ++this.o.media.seq, session: link.session.up?.session ?? 0, sentMs: Date.now() },
          {
            requestId: this.o.requestId, index, offset, last, contentType: 'video/h264', data, totalSize: q.u.data.length,
            objectId: 'live', frame: q.u.index, timeMs: q.u.captureMs, keyframe: q.u.keyframe, codec: q.format.codec,
            width: q.format.width, height: q.format.height, ptsUs: q.u.ptsUs, fps: this.o.fps, gop: q.gop,
            ...(last ? { sha256: sha256(q.u.data) } : {}),
          },
        );
        try {
          await link.session.publish(topic, payload, { qos: 0 });
        } catch {
          ok = false;
          break;
        }
        this.s.chunks++;
        offset += data.length;
      }
      if (!ok) {
        // The link is down: this GOP is broken; the next one starts clean.
        this.drop('link', 1);
        this.needKey = true;
        continue;
      }
      const now = Date.now();
      if (this.firstSentMs === undefined) this.firstSentMs = now;
      if (this.firstPts < 0) {
        this.firstPts = q.u.ptsUs;
        this.firstSentAt = now;
      }
      this.lastPts = q.u.ptsUs;
      this.lastSentAt = now;
      this.s.frames++;
      if (q.u.keyframe) this.s.keyframes++;
      this.s.bytes += q.u.data.length;
    }
  }

  /** Stops sending (what waits is dropped) and says what was sent. */
  async close(): Promise<LiveVideoSummary> {
    this.closed = true;
    this.wake?.();
    await this.running;
    return this.summary();
  }

  summary(): LiveVideoSummary {
    // Duration of what was sent: first to last unit, plus the last unit's own frame time.
    const frameMs = 1000 / this.o.fps;
    const durationMs = this.s.frames === 0 ? 0 : Math.max(this.lastSentAt - this.firstSentAt, (this.lastPts - this.firstPts) / 1000) + frameMs;
    const droppedFrames = this.s.dropped.bandwidth + this.s.dropped.link + this.s.dropped.corrupt + this.pendingTail;
    return {
      ...this.s,
      dropped: { ...this.s.dropped },
      codec: this.format?.codec ?? '',
      width: this.format?.width ?? 0,
      height: this.format?.height ?? 0,
      durationMs: Math.round(durationMs),
      droppedFrames,
      bitrateKbps: durationMs > 0 ? Math.round((this.s.bytes * 8) / durationMs) : 0,
    };
  }
}
