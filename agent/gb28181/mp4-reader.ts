/**
 * The H.264 track of a recorded MP4 (ISO/IEC 14496-12 and -15), read through
 * random access (`read(offset, length)`: a mounted file or clip reads over a
 * camera's control channel), for playing a recording back: the sample table
 * of a plain file (moov/stbl) and the fragments of a fragmented one (moof/
 * traf/trun, as the cameras write them so that a file cut short still
 * plays), each sample with its offset, size, decode time, composition offset
 * and whether it is a sync sample. Only boxes are read (the index); sample
 * data is read as it is played. Nothing here decodes pictures.
 */

export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

export interface Mp4Sample {
  offset: number;
  size: number;
  /** Decode time, track timescale. */
  dts: number;
  /** Composition offset (pts = dts + cto), track timescale. */
  cto: number;
  keyframe: boolean;
}

export interface Mp4VideoTrack {
  trackId: number;
  timescale: number;
  width: number;
  height: number;
  /** Bytes of each NAL unit's length prefix (avcC lengthSizeMinusOne + 1). */
  nalLengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
  samples: Mp4Sample[];
  fragmented: boolean;
}

export class Mp4Error extends Error {}

/** Boxes held whole in memory to be parsed (moov, moof): larger means a file this reader is not for. */
const MAX_INDEX_BOX = 64 * 1024 * 1024;

interface Box {
  type: string;
  /** Start of the box (its header). */
  start: number;
  /** Start of its content (after the header). */
  body: number;
  end: number;
}

function* boxes(buf: Buffer, from: number, to: number): Generator<Box> {
  let at = from;
  while (at + 8 <= to) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > to) return;
      size = Number(buf.readBigUInt64BE(at + 8));
      body = at + 16;
    } else if (size === 0) size = to - at;
    if (size < body - at || at + size > to) throw new Mp4Error(`box ${type} at ${at} runs past its parent`);
    yield { type, start: at, body, end: at + size };
    at += size;
  }
}

function child(buf: Buffer, parent: Box, type: string): Box | undefined {
  for (const b of boxes(buf, parent.body, parent.end)) if (b.type === type) return b;
  return undefined;
}

function children(buf: Buffer, parent: Box, type: string): Box[] {
  return [...boxes(buf, parent.body, parent.end)].filter((b) => b.type === type);
}

function path(buf: Buffer, parent: Box, ...types: string[]): Box | undefined {
  let b: Box | undefined = parent;
  for (const t of types) {
    b = b && child(buf, b, t);
    if (!b) return undefined;
  }
  return b;
}

interface TrackDefaults {
  descriptionIndex: number;
  duration: number;
  size: number;
  flags: number;
}

/** A track while its index is read: the trex defaults, and the last sample's duration (a fragment without tfdt continues from it). */
type Building = Mp4VideoTrack & { defaults: TrackDefaults; lastDuration?: number };

const isSync = (flags: number) => ((flags >>> 16) & 1) === 0;

/**
 * Reads the index of an MP4 of `size` bytes and returns its (first) H.264
 * video track. Throws Mp4Error saying what is wrong: not an MP4, no video
 * track, another codec, a damaged index. A fragmented file whose last
 * fragment was cut short yields the samples of its whole fragments.
 */
export async function readMp4Index(read: ReadAt, size: number): Promise<Mp4VideoTrack> {
  let moov: Buffer | undefined;
  const moofs: Array<{ at: number; buf: Buffer }> = [];
  let at = 0;
  let sawFtyp = false;
  let head = await read(0, Math.min(size, 64));
  let headAt = 0;
  while (at + 8 <= size) {
    if (at < headAt || at + 16 > headAt + head.length) {
      head = await read(at, Math.min(16, size - at));
      headAt = at;
    }
    const h = head.subarray(at - headAt);
    if (h.length < 8) break;
    let boxSize = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    if (!/^[\x20-\x7e]{4}$/.test(type)) {
      if (at === 0) throw new Mp4Error('not an MP4 file (no box at its start)');
      break; // garbage after the last box: a file cut short
    }
    if (boxSize === 1) {
      if (h.length < 16) break;
      boxSize = Number(h.readBigUInt64BE(8));
    } else if (boxSize === 0) boxSize = size - at;
    if (boxSize < 8) throw new Mp4Error(`box ${type} at ${at} has size ${boxSize}`);
    if (at === 0 && type !== 'ftyp' && type !== 'moov' && type !== 'free' && type !== 'skip') throw new Mp4Error(`not an MP4 file (first box ${JSON.stringify(type)})`);
    if (type === 'ftyp') sawFtyp = true;
    const complete = at + boxSize <= size;
    if (type === 'moov' || type === 'moof') {
      if (!complete) break; // a fragment cut short: its samples are not whole
      if (boxSize > MAX_INDEX_BOX) throw new Mp4Error(`${type} of ${boxSize} bytes is too large`);
      // The box and the next header in one read (over a control channel a read is a round trip).
      const buf = await read(at, Math.min(boxSize + 16, size - at));
      if (buf.length < boxSize) throw new Mp4Error(`short read of ${type} at ${at}`);
      if (type === 'moov') moov = buf.subarray(0, boxSize);
      else moofs.push({ at, buf: buf.subarray(0, boxSize) });
      head = buf;
      headAt = at;
    }
    at += boxSize;
  }
  if (!sawFtyp && !moov) throw new Mp4Error('not an MP4 file');
  if (!moov) throw new Mp4Error('no moov box (the recording has no index)');
  const track = parseMoov(moov);
  for (const m of moofs) addFragment(track, m.buf, m.at);
  const { defaults: _d, lastDuration: _l, ...out } = track;
  // The data of the last fragment may be cut short (the camera lost power while writing it).
  const whole = out.samples.findIndex((x) => x.offset + x.size > size);
  if (whole >= 0) out.samples = out.samples.slice(0, whole);
  if (out.samples.length === 0) throw new Mp4Error('the video track has no samples');
  if (!out.samples[0]!.keyframe) {
    // Playback starts at a keyframe: a track without one at its start is read from its first one.
    const k = out.samples.findIndex((s) => s.keyframe);
    if (k < 0) throw new Mp4Error('the video track has no sync sample');
    out.samples = out.samples.slice(k);
  }
  return out;
}

function parseMoov(buf: Buffer): Building {
  const moov: Box = { type: 'moov', start: 0, body: 8, end: buf.length };
  if (buf.readUInt32BE(0) === 1) moov.body = 16;
  const codecs: string[] = [];
  for (const trak of children(buf, moov, 'trak')) {
    const hdlr = path(buf, trak, 'mdia', 'hdlr');
    if (!hdlr || buf.toString('latin1', hdlr.body + 8, hdlr.body + 12) !== 'vide') continue;
    const tkhd = child(buf, trak, 'tkhd');
    const mdhd = path(buf, trak, 'mdia', 'mdhd');
    const stbl = path(buf, trak, 'mdia', 'minf', 'stbl');
    const stsd = stbl && child(buf, stbl, 'stsd');
    if (!tkhd || !mdhd || !stbl || !stsd) throw new Mp4Error('video track without tkhd, mdhd or stsd');
    const entry = [...boxes(buf, stsd.body + 8, stsd.end)][0];
    if (!entry) throw new Mp4Error('video track without a sample description');
    if (entry.type !== 'avc1' && entry.type !== 'avc3') {
      codecs.push(entry.type);
      continue;
    }
    const trackId = buf.readUInt32BE(tkhd.body + (buf[tkhd.body] === 1 ? 20 : 12));
    const timescale = buf.readUInt32BE(mdhd.body + (buf[mdhd.body] === 1 ? 20 : 12));
    if (!timescale) throw new Mp4Error('video track with timescale 0');
    const width = buf.readUInt16BE(entry.body + 24);
    const height = buf.readUInt16BE(entry.body + 26);
    const avcC = [...boxes(buf, entry.body + 78, entry.end)].find((b) => b.type === 'avcC');
    const params = avcC ? parseAvcC(buf.subarray(avcC.body, avcC.end)) : { nalLengthSize: 4, sps: [], pps: [] };
    if (!avcC && entry.type === 'avc1') throw new Mp4Error('avc1 sample description without avcC');
    const track: Building = { trackId, timescale, width, height, ...params, samples: sampleTable(buf, stbl), fragmented: false, defaults: { descriptionIndex: 1, duration: 0, size: 0, flags: 0 } };
    const trex = path(buf, moov, 'mvex');
    for (const t of trex ? children(buf, trex, 'trex') : []) {
      if (buf.readUInt32BE(t.body + 4) !== trackId) continue;
      track.defaults = { descriptionIndex: buf.readUInt32BE(t.body + 8), duration: buf.readUInt32BE(t.body + 12), size: buf.readUInt32BE(t.body + 16), flags: buf.readUInt32BE(t.body + 20) };
    }
    return track;
  }
  throw new Mp4Error(codecs.length ? `the video is ${codecs.join(', ')}, not H.264` : 'no video track');
}

function parseAvcC(b: Buffer): { nalLengthSize: number; sps: Buffer[]; pps: Buffer[] } {
  if (b.length < 7 || b[0] !== 1) throw new Mp4Error('bad avcC');
  const nalLengthSize = (b[4]! & 3) + 1;
  const sps: Buffer[] = [];
  const pps: Buffer[] = [];
  let at = 6;
  const take = (n: number, into: Buffer[]) => {
    for (let i = 0; i < n; i++) {
      if (at + 2 > b.length) throw new Mp4Error('avcC cut short');
      const len = b.readUInt16BE(at);
      if (at + 2 + len > b.length) throw new Mp4Error('avcC cut short');
      into.push(Buffer.from(b.subarray(at + 2, at + 2 + len)));
      at += 2 + len;
    }
  };
  take(b[5]! & 0x1f, sps);
  if (at >= b.length) throw new Mp4Error('avcC cut short');
  const nPps = b[at++]!;
  take(nPps, pps);
  return { nalLengthSize, sps, pps };
}

/** The samples of a plain (non-fragmented) track: stts, ctts, stsc, stsz, stco/co64, stss. */
function sampleTable(buf: Buffer, stbl: Box): Mp4Sample[] {
  const stsz = child(buf, stbl, 'stsz');
  const stco = child(buf, stbl, 'stco') ?? child(buf, stbl, 'co64');
  const stsc = child(buf, stbl, 'stsc');
  const stts = child(buf, stbl, 'stts');
  if (!stsz) {
    if (child(buf, stbl, 'stz2')) throw new Mp4Error('compact sample sizes (stz2) are not supported');
    return [];
  }
  const uniform = buf.readUInt32BE(stsz.body + 4);
  const count = buf.readUInt32BE(stsz.body + 8);
  if (count === 0) return [];
  if (!stco || !stsc || !stts) throw new Mp4Error('sample table without stco, stsc or stts');
  const sizes = (i: number) => (uniform ? uniform : buf.readUInt32BE(stsz.body + 12 + 4 * i));
  if (!uniform && stsz.body + 12 + 4 * count > stsz.end) throw new Mp4Error('stsz cut short');
  const co64 = stco.type === 'co64';
  const chunks = buf.readUInt32BE(stco.body + 4);
  const chunkOffset = (c: number) => (co64 ? Number(buf.readBigUInt64BE(stco.body + 8 + 8 * c)) : buf.readUInt32BE(stco.body + 8 + 4 * c));
  const scEntries = buf.readUInt32BE(stsc.body + 4);
  const samples: Mp4Sample[] = [];
  let i = 0;
  for (let e = 0; e < scEntries && i < count; e++) {
    const first = buf.readUInt32BE(stsc.body + 8 + 12 * e) - 1;
    const perChunk = buf.readUInt32BE(stsc.body + 12 + 12 * e);
    const nextFirst = e + 1 < scEntries ? buf.readUInt32BE(stsc.body + 8 + 12 * (e + 1)) - 1 : chunks;
    for (let c = first; c < nextFirst && i < count; c++) {
      let off = chunkOffset(c);
      for (let k = 0; k < perChunk && i < count; k++, i++) {
        const size = sizes(i);
        samples.push({ offset: off, size, dts: 0, cto: 0, keyframe: true });
        off += size;
      }
    }
  }
  if (i < count) throw new Mp4Error(`the chunk table covers ${i} of ${count} samples`);
  let dts = 0;
  i = 0;
  const sttsN = buf.readUInt32BE(stts.body + 4);
  for (let e = 0; e < sttsN; e++) {
    const n = buf.readUInt32BE(stts.body + 8 + 8 * e);
    const delta = buf.readUInt32BE(stts.body + 12 + 8 * e);
    for (let k = 0; k < n && i < count; k++, i++) {
      samples[i]!.dts = dts;
      dts += delta;
    }
  }
  const ctts = child(buf, stbl, 'ctts');
  if (ctts) {
    const v1 = buf[ctts.body] === 1;
    const n = buf.readUInt32BE(ctts.body + 4);
    i = 0;
    for (let e = 0; e < n; e++) {
      const cnt = buf.readUInt32BE(ctts.body + 8 + 8 * e);
      const off = v1 ? buf.readInt32BE(ctts.body + 12 + 8 * e) : buf.readUInt32BE(ctts.body + 12 + 8 * e);
      for (let k = 0; k < cnt && i < count; k++, i++) samples[i]!.cto = off;
    }
  }
  const stss = child(buf, stbl, 'stss');
  if (stss) {
    for (const s of samples) s.keyframe = false;
    const n = buf.readUInt32BE(stss.body + 4);
    for (let e = 0; e < n; e++) {
      const s = samples[buf.readUInt32BE(stss.body + 8 + 4 * e) - 1];
      if (s) s.keyframe = true;
    }
  }
  return samples;
}

/** The samples of one fragment (moof at `at` in the file) for the track. */
function addFragment(track: Building, buf: Buffer, at: number): void {
  const moof: Box = { type: 'moof', start: 0, body: buf.readUInt32BE(0) === 1 ? 16 : 8, end: buf.length };
  track.fragmented = true;
  let dataEnd = at;
  for (const traf of children(buf, moof, 'traf')) {
    const tfhd = child(buf, traf, 'tfhd');
    if (!tfhd) throw new Mp4Error(`traf without tfhd in the fragment at ${at}`);
    const flags = buf.readUInt32BE(tfhd.body) & 0xffffff;
    if (buf.readUInt32BE(tfhd.body + 4) !== track.trackId) continue;
    let p = tfhd.body + 8;
    let base = flags & 0x20000 ? at : dataEnd;
    if (flags & 0x1) {
      base = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (flags & 0x2) p += 4;
    const defDuration = flags & 0x8 ? buf.readUInt32BE((p += 4) - 4) : track.defaults.duration;
    const defSize = flags & 0x10 ? buf.readUInt32BE((p += 4) - 4) : track.defaults.size;
    const defFlags = flags & 0x20 ? buf.readUInt32BE((p += 4) - 4) : track.defaults.flags;
    let runEnd = base;
    const tfdt = child(buf, traf, 'tfdt');
    const last = track.samples[track.samples.length - 1];
    let dts = tfdt
      ? (buf[tfdt.body] === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4))
      : last ? last.dts + (track.lastDuration ?? defDuration) : 0;
    for (const trun of children(buf, traf, 'trun')) {
      const v1 = buf[trun.body] === 1;
      const tf = buf.readUInt32BE(trun.body) & 0xffffff;
      const n = buf.readUInt32BE(trun.body + 4);
      let q = trun.body + 8;
      // Without a data offset a run starts where the traf's previous run ended (its first: at the base).
      let off = runEnd;
      if (tf & 0x1) {
        off = base + buf.readInt32BE(q);
        q += 4;
      }
      let firstFlags: number | undefined;
      if (tf & 0x4) {
        firstFlags = buf.readUInt32BE(q);
        q += 4;
      }
      const per = ((tf & 0x100 ? 4 : 0) + (tf & 0x200 ? 4 : 0) + (tf & 0x400 ? 4 : 0) + (tf & 0x800 ? 4 : 0));
      if (q + per * n > trun.end) throw new Mp4Error(`trun cut short in the fragment at ${at}`);
      for (let i = 0; i < n; i++) {
        const duration = tf & 0x100 ? buf.readUInt32BE((q += 4) - 4) : defDuration;
        const size = tf & 0x200 ? buf.readUInt32BE((q += 4) - 4) : defSize;
        const sflags = tf & 0x400 ? buf.readUInt32BE((q += 4) - 4) : i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
        const cto = tf & 0x800 ? (v1 ? buf.readInt32BE((q += 4) - 4) : buf.readUInt32BE((q += 4) - 4)) : 0;
        track.samples.push({ offset: off, size, dts, cto, keyframe: isSync(sflags) });
        off += size;
        dts += duration;
        track.lastDuration = duration;
      }
      runEnd = off;
      dataEnd = off;
    }
  }
}

/** A sample (NAL units with length prefixes) as Annex B; a keyframe gets the track's SPS and PPS in front when it has none of its own. */
export function sampleToAnnexB(track: Pick<Mp4VideoTrack, 'nalLengthSize' | 'sps' | 'pps'>, data: Buffer, keyframe: boolean): Buffer {
  const START = Buffer.from([0, 0, 0, 1]);
  const nals: Buffer[] = [];
  let hasSps = false;
  let at = 0;
  const n = track.nalLengthSize;
  while (at + n <= data.length) {
    const len = n === 4 ? data.readUInt32BE(at) : n === 2 ? data.readUInt16BE(at) : n === 1 ? data[at]! : data.readUIntBE(at, 3);
    at += n;
    if (len === 0) continue;
    if (at + len > data.length) throw new Mp4Error(`NAL unit of ${len} bytes runs past its sample of ${data.length}`);
    const nal = data.subarray(at, at + len);
    if ((nal[0]! & 0x1f) === 7) hasSps = true;
    nals.push(nal);
    at += len;
  }
  const parts: Buffer[] = [];
  if (keyframe && !hasSps) for (const p of [...track.sps, ...track.pps]) parts.push(START, p);
  for (const nal of nals) parts.push(START, nal);
  return Buffer.concat(parts);
}
