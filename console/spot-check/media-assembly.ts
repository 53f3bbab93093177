import { createHash } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { BwcError } from '../../common/errors.js';
import type { MediaChunkMessage } from './command-link.js';

/**
 * Byte ranges received of an object, so that duplicates (QoS 1 may deliver
 * twice) cost nothing and a resume starts at the end of what is contiguous.
 */
export class ReceivedRanges {
  /** Sorted, disjoint, half-open [start, end) ranges. */
  readonly ranges: Array<[number, number]> = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const r = this.ranges;
    let i = 0;
    while (i < r.length && r[i]![1] < start) i++;
    let s = start;
    let e = end;
    let j = i;
    while (j < r.length && r[j]![0] <= e) {
      s = Math.min(s, r[j]![0]);
      e = Math.max(e, r[j]![1]);
      j++;
    }
    r.splice(i, j - i, [s, e]);
  }

  /** Bytes from 0 with no hole: where a resume starts. */
  get contiguous(): number {
    const first = this.ranges[0];
    return first && first[0] === 0 ? first[1] : 0;
  }

  get total(): number {
    return this.ranges.reduce((n, [s, e]) => n + e - s, 0);
  }
}

export interface AssembledObject {
  data: Buffer;
  /** SHA-256 of the bytes received. */
  sha256: string;
  /** What the last chunk said (hex), if it came. */
  announced?: string;
  contentType: string;
  frame: number;
  timeMs: number;
}

/**
 * One small object (a snapshot or a live frame) from its chunks, in memory.
 * `add` returns the object once every byte and the last chunk are in.
 */
export class ObjectAssembler {
  private parts = new Map<number, Buffer>();
  private readonly ranges = new ReceivedRanges();
  private size = -1;
  private announced: string | undefined;
  private meta: { contentType: string; frame: number; timeMs: number } | undefined;

  add(c: MediaChunkMessage): AssembledObject | undefined {
    if (c.offset < 0 || c.offset + c.data.length > 256 * 1024 * 1024) throw new BwcError('BAD_CHUNK', `chunk ${c.index} at offset ${c.offset} is out of range`);
    this.parts.set(c.offset, Buffer.from(c.data));
    this.ranges.add(c.offset, c.offset + c.data.length);
    this.meta ??= { contentType: c.contentType, frame: c.frame, timeMs: c.timeMs };
    if (c.last) {
      this.size = c.offset + c.data.length;
      if (c.sha256) this.announced = Buffer.from(c.sha256).toString('hex');
    }
    if (this.size < 0 || this.ranges.contiguous < this.size) return undefined;
    const data = Buffer.concat([...this.parts.entries()].sort((a, b) => a[0] - b[0]).map(([o, b]) => b)).subarray(0, this.size);
    return { data, sha256: createHash('sha256').update(data).digest('hex'), ...(this.announced ? { announced: this.announced } : {}), ...this.meta! };
  }
}

/**
 * A clip written to a file as its chunks come, at their offsets: a transfer
 * resumed from an offset continues the same file. The whole file is hashed
 * at the end, whatever route its bytes took.
 */
export class FileAssembler {
  private readonly fd: number;
  readonly ranges = new ReceivedRanges();
  /** The SHA-256 the last chunk carried (hex). */
  announced: string | undefined;
  lastSeen = false;

  constructor(readonly path: string, readonly size: number) {
    this.fd = openSync(path, 'w+');
    ftruncateSync(this.fd, 0);
  }

  add(c: MediaChunkMessage): void {
    const end = c.offset + c.data.length;
    if (c.offset < 0 || end > this.size) throw new BwcError('BAD_CHUNK', `chunk at ${c.offset}+${c.data.length} lies outside the clip (${this.size} bytes)`);
    let at = 0;
    while (at < c.data.length) at += writeSync(this.fd, c.data, at, c.data.length - at, c.offset + at);
    this.ranges.add(c.offset, end);
    if (c.last) {
      this.lastSeen = true;
      if (c.sha256) this.announced = Buffer.from(c.sha256).toString('hex');
    }
  }

  get complete(): boolean {
    return this.ranges.contiguous >= this.size;
  }

  /** SHA-256 of the file as written (hex). */
  hash(): string {
    const h = createHash('sha256');
    const buf = Buffer.alloc(1024 * 1024);
    const size = fstatSync(this.fd).size;
    for (let at = 0; at < size; ) {
      const n = readSync(this.fd, buf, 0, Math.min(buf.length, size - at), at);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      at += n;
    }
    return h.digest('hex');
  }

  close(): void {
    closeSync(this.fd);
  }
}
