import { createHash } from 'node:crypto';
import { Mp4Writer, type Mp4Stats } from '../video/mp4-writer.js';
import type { MediaChunkMessage } from './command-link.js';

export interface LiveVideoFile {
  path: string;
  codec: string;
  width: number;
  height: number;
  stats: Mp4Stats;
}

/**
 * Live H.264 from its chunks into MP4 files. A unit is kept when every
 * chunk came and its SHA-256 matches; a unit that lost a chunk (QoS 0) is
 * dropped with everything after it up to the next keyframe, so the file
 * never holds a frame that cannot be decoded. A change of picture format
 * (at a keyframe) closes the file and starts the next one.
 */
export class LiveVideoReceiver {
  private unit: { frame: number; parts: Buffer[]; got: number; size: number; head: MediaChunkMessage } | undefined;
  private writer: Mp4Writer | undefined;
  private current: Omit<LiveVideoFile, 'stats'> | undefined;
  private needKey = true;
  readonly files: LiveVideoFile[] = [];
  /** Units dropped: lost chunks, hash mismatches, waiting for a keyframe after those. */
  readonly dropped = { incomplete: 0, hash: 0, afterLoss: 0 };
  frames = 0;
  /** When the first whole unit was written (Date.now()). */
  firstFrameAt: number | undefined;
  /** Capture-to-arrival delay of every unit written, ms (camera and console clocks alike on one host). */
  readonly latenciesMs: number[] = [];

  constructor(private readonly pathFor: (part: number) => string) {}

  add(c: MediaChunkMessage): void {
    const u = this.unit;
    if (u && u.frame !== c.frame) {
      // The next frame began before this one was whole: a chunk was lost.
      this.dropped.incomplete++;
      this.needKey = true;
      this.unit = undefined;
    }
    if (!this.unit) {
      if (c.offset !== 0) {
        // The start of this unit was lost.
        this.dropped.incomplete++;
        this.needKey = true;
        return;
      }
      this.unit = { frame: c.frame, parts: [], got: 0, size: c.totalSize, head: c };
    }
    const cur = this.unit!;
    if (c.offset !== cur.got) {
      this.dropped.incomplete++;
      this.needKey = true;
      this.unit = undefined;
      return;
    }
    cur.parts.push(Buffer.from(c.data));
    cur.got += c.data.length;
    if (!c.last) return;
    this.unit = undefined;
    const data = Buffer.concat(cur.parts);
    if (data.length !== cur.size || !c.sha256 || !createHash('sha256').update(data).digest().equals(Buffer.from(c.sha256))) {
      this.dropped.hash++;
      this.needKey = true;
      return;
    }
    this.accept(cur.head, data);
  }

  private accept(h: MediaChunkMessage, data: Buffer): void {
    const keyframe = h.keyframe === true;
    if (this.needKey && !keyframe) {
      this.dropped.afterLoss++;
      return;
    }
    this.needKey = false;
    const fmt = { codec: h.codec ?? '', width: h.width ?? 0, height: h.height ?? 0 };
    if (keyframe && (!this.current || fmt.width !== this.current.width || fmt.height !== this.current.height || fmt.codec !== this.current.codec)) {
      this.closeFile();
      const path = this.pathFor(this.files.length + 1);
      this.writer = new Mp4Writer(path, fmt.width, fmt.height, h.fps || 25);
      this.current = { path, ...fmt };
    }
    this.writer!.add(data, h.ptsUs ?? 0, keyframe);
    this.frames++;
    const now = Date.now();
    this.firstFrameAt ??= now;
    if (h.timeMs) this.latenciesMs.push(now - h.timeMs);
  }

  private closeFile(): void {
    if (this.writer && this.current) {
      const stats = this.writer.close();
      this.files.push({ ...this.current, stats });
    }
    this.writer = undefined;
    this.current = undefined;
  }

  /** Closes the last file; returns every file written. */
  finish(): LiveVideoFile[] {
    this.closeFile();
    return this.files;
  }
}
