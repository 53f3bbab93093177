import { closeSync, openSync, writeSync } from 'node:fs';
import { NalType, nalType, splitNals } from '../../drivers/video/annexb.js';

/**
 * Writes H.264 access units (Annex B, as live video carries them) into an
 * MP4 file as they arrive: ftyp, then the samples into one mdat, and at
 * close the index (moov) with each sample's own duration from its pts, so a
 * feed with dropped GOPs still plays at the right speed and lasts as long
 * as it did. Parameter sets go into the avcC box; AUDs are left out.
 */

const TIMESCALE = 90_000;

function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.write(type, 4, 'ascii');
  return Buffer.concat([head, body]);
}

function full(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff), 0);
  return box(type, vf, ...parts);
}

function u32(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4));
  return b;
}

function u16(...v: number[]): Buffer {
  const b = Buffer.alloc(2 * v.length);
  v.forEach((x, i) => b.writeUInt16BE(x & 0xffff, i * 2));
  return b;
}

const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

export interface Mp4Stats {
  frames: number;
  keyframes: number;
  /** from the first sample's pts to the last one's end, seconds */
  durationS: number;
  /** H.264 bytes as received (Annex B) */
  payloadBytes: number;
  fileBytes: number;
}

export class Mp4Writer {
  private readonly fd: number;
  private at = 0;
  private mdatStart = 0;
  private readonly sizes: number[] = [];
  private readonly pts: number[] = [];
  private readonly keys: number[] = [];
  private sps: Buffer | undefined;
  private pps: Buffer | undefined;
  private payloadBytes = 0;
  private closed: Mp4Stats | undefined;

  constructor(readonly path: string, readonly width: number, readonly height: number, private readonly fps: number) {
    this.fd = openSync(path, 'w');
    this.write(box('ftyp', Buffer.from('isom'), u32(0x200), Buffer.from('isomiso2avc1mp41')));
    this.mdatStart = this.at;
    this.write(u32(0), Buffer.from('mdat')); // size patched at close
  }

  private write(...parts: Buffer[]): void {
    for (const p of parts) {
      let off = 0;
      while (off < p.length) off += writeSync(this.fd, p, off, p.length - off, this.at + off);
      this.at += p.length;
    }
  }

  get frames(): number {
    return this.sizes.length;
  }

  /** Adds one access unit; the first must be a keyframe (with SPS and PPS). */
  add(au: Buffer, ptsUs: number, keyframe: boolean): void {
    if (this.closed) throw new Error('the MP4 is closed');
    const parts: Buffer[] = [];
    for (const nal of splitNals(au)) {
      const t = nalType(nal);
      if (t === NalType.AUD) continue;
      if (t === NalType.SPS) { this.sps ??= Buffer.from(nal); continue; }
      if (t === NalType.PPS) { this.pps ??= Buffer.from(nal); continue; }
      parts.push(u32(nal.length), nal);
    }
    if (this.sizes.length === 0 && (!keyframe || !this.sps || !this.pps)) throw new Error('an MP4 starts with a keyframe carrying SPS and PPS');
    const sample = Buffer.concat(parts);
    this.write(sample);
    this.sizes.push(sample.length);
    this.pts.push(Math.round((ptsUs * TIMESCALE) / 1_000_000));
    if (keyframe) this.keys.push(this.sizes.length);
    this.payloadBytes += au.length;
  }

  /** Writes the index and closes the file. */
  close(): Mp4Stats {
    if (this.closed) return this.closed;
    const n = this.sizes.length;
    const frameTicks = Math.round(TIMESCALE / this.fps);
    const durations = this.pts.map((p, i) => (i + 1 < n ? Math.max(1, this.pts[i + 1]! - p) : frameTicks));
    const total = durations.reduce((a, b) => a + b, 0);
    // mdat size
    const mdatSize = this.at - this.mdatStart;
    writeSync(this.fd, u32(mdatSize), 0, 4, this.mdatStart);
    if (n > 0) this.write(this.moov(durations, total));
    closeSync(this.fd);
    this.closed = { frames: n, keyframes: this.keys.length, durationS: total / TIMESCALE, payloadBytes: this.payloadBytes, fileBytes: this.at };
    return this.closed;
  }

  private moov(durations: number[], total: number): Buffer {
    const movieDur = Math.round((total * 1000) / TIMESCALE);
    const mvhd = full('mvhd', 0, 0, u32(0, 0, 1000, movieDur, 0x00010000), u16(0x0100, 0), u32(0, 0), MATRIX, Buffer.alloc(24), u32(2));
    const tkhd = full('tkhd', 0, 3, u32(0, 0, 1, 0, movieDur, 0, 0), u16(0, 0, 0, 0), MATRIX, u32(this.width * 0x10000, this.height * 0x10000));
    const mdhd = full('mdhd', 0, 0, u32(0, 0, TIMESCALE, total), u16(0x55c4, 0));
    const hdlr = full('hdlr', 0, 0, u32(0), Buffer.from('vide'), u32(0, 0, 0), Buffer.from('VideoHandler\0'));
    const vmhd = full('vmhd', 0, 1, u16(0, 0, 0, 0));
    const dinf = box('dinf', full('dref', 0, 0, u32(1), full('url ', 0, 1)));
    const sps = this.sps!;
    const pps = this.pps!;
    const avcC = box('avcC', Buffer.from([1, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1]), u16(sps.length), sps, Buffer.from([1]), u16(pps.length), pps);
    const avc1 = box('avc1', Buffer.alloc(6), u16(1), Buffer.alloc(16), u16(this.width, this.height), u32(0x00480000, 0x00480000, 0), u16(1), Buffer.alloc(32), u16(0x0018, 0xffff), avcC);
    const stsd = full('stsd', 0, 0, u32(1), avc1);
    const runs: [number, number][] = [];
    for (const d of durations) {
      const last = runs[runs.length - 1];
      if (last && last[1] === d) last[0]++;
      else runs.push([1, d]);
    }
    const stts = full('stts', 0, 0, u32(runs.length), ...runs.map(([c, d]) => u32(c, d)));
    const stss = full('stss', 0, 0, u32(this.keys.length, ...this.keys));
    const stsc = full('stsc', 0, 0, u32(1, 1, this.sizes.length, 1));
    const stsz = full('stsz', 0, 0, u32(0, this.sizes.length, ...this.sizes));
    const stco = full('stco', 0, 0, u32(1, this.mdatStart + 8));
    const stbl = box('stbl', stsd, stts, stss, stsc, stsz, stco);
    const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, box('minf', vmhd, dinf, stbl)));
    return box('moov', mvhd, trak);
  }
}
