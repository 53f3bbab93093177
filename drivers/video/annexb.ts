/**
 * H.264 Annex B byte streams: NAL units between start codes, grouped into
 * access units (one frame each), and the SEI that carries a capture time.
 * Only what the agent needs to cut, label and check a stream; nothing here
 * decodes pictures.
 */

export const NalType = { SLICE: 1, IDR: 5, SEI: 6, SPS: 7, PPS: 8, AUD: 9 } as const;

/** The NAL units of an Annex B buffer, without their start codes. */
export function splitNals(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < buf.length) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (start >= 0) out.push(trimZeros(buf.subarray(start, i)));
      start = i + 3;
      i += 3;
    } else i++;
  }
  if (start >= 0 && start < buf.length) out.push(buf.subarray(start));
  return out.filter((n) => n.length > 0);
}

/** A 4-byte start code leaves one zero at the end of the previous NAL. */
function trimZeros(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

export const nalType = (nal: Buffer): number => nal[0]! & 0x1f;
const isVcl = (t: number) => t >= 1 && t <= 5;

/** What an access unit holds, and whether it is fit to send. */
export interface UnitInfo {
  keyframe: boolean;
  slices: number;
  sps?: Buffer;
  /** Capture time from the bwc-capture-time SEI, when present. */
  captureMs?: number;
  /** Why the unit cannot be decoded (a forbidden bit, no slice, a P slice of an empty stream), else undefined. */
  defect?: string;
}

export function inspectUnit(au: Buffer): UnitInfo {
  const info: UnitInfo = { keyframe: false, slices: 0 };
  for (const nal of splitNals(au)) {
    if (nal[0]! & 0x80) {
      info.defect = 'a NAL unit has its forbidden_zero_bit set';
      continue;
    }
    const t = nalType(nal);
    if (t === 0 || (t >= 24 && t <= 31)) info.defect = `NAL unit type ${t} is not valid in a stream`;
    if (t === NalType.IDR) info.keyframe = true;
    if (isVcl(t)) info.slices++;
    if (t === NalType.SPS) info.sps = nal;
    if (t === NalType.SEI) {
      const ms = readCaptureSei(nal);
      if (ms !== undefined) info.captureMs = ms;
    }
  }
  if (info.slices === 0) info.defect ??= 'no picture slice in the access unit';
  if (info.keyframe && !info.sps) info.defect ??= 'an IDR without SPS in front';
  return info;
}

/**
 * Cuts a byte stream into access units. A unit ends where the next one
 * begins: at an AUD, or at a first slice (first_mb_in_slice 0) after a
 * slice, which takes the SEI/SPS/PPS written just before it along. Encoders
 * that write AUDs (x264 aud=1) make the cut exact; the cost is one frame of
 * delay (a unit is known complete when the next starts).
 *
 * Parameter sets between two slices of one picture (a slice that does not
 * start at macroblock 0 follows them) stay in that picture: ffmpeg reading
 * RTSP hands on one packet per NAL unit, and its dump_extra filter then
 * writes SPS/PPS in front of every IDR slice, not only the first. Repeats
 * of a parameter set within a unit are left out, and an AUD that comes
 * after parameter sets is put first, where H.264 wants it.
 */
export class AccessUnitSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** NALs of the unit being gathered. */
  private nals: Buffer[] = [];
  private sawVcl = false;
  /** SPS/PPS in `nals` (repeats are looked for only when there are two or more). */
  private paramSets = 0;
  /** SEI/SPS/PPS after a slice: the next NAL tells whether they open the next unit or repeat inside this one. */
  private held: Buffer[] = [];
  /** Bytes of `pending` already scanned for start codes. */
  private scanned = 0;

  constructor(private readonly onUnit: (au: Buffer) => void, private readonly maxUnitBytes = 8 * 1024 * 1024) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    // Every complete NAL (followed by a start code) is handed on; the tail waits.
    let from = this.firstStart(0);
    if (from < 0) {
      if (this.pending.length > this.maxUnitBytes) this.pending = Buffer.alloc(0);
      return;
    }
    let search = Math.max(from + 3, this.scanned);
    for (;;) {
      const next = this.firstStart(search);
      if (next < 0) break;
      this.addNal(trimZeros(this.pending.subarray(from + 3, next)));
      from = next;
      search = next + 3;
    }
    this.pending = this.pending.subarray(from);
    this.scanned = Math.max(3, this.pending.length - 2);
    if (this.pending.length > this.maxUnitBytes) {
      // A NAL this big is garbage: forget it rather than grow without bound.
      this.pending = Buffer.alloc(0);
      this.scanned = 0;
    }
  }

  /** End of stream: the last unit is complete. */
  flush(): void {
    if (this.pending.length > 3) this.addNal(trimZeros(this.pending.subarray(3)));
    this.pending = Buffer.alloc(0);
    this.scanned = 0;
    this.keep(this.held.splice(0));
    this.emit();
  }

  private firstStart(at: number): number {
    const b = this.pending;
    for (let i = at; i + 2 < b.length; i++) {
      if (b[i + 2]! > 1) { i += 2; continue; }
      if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1) return i;
    }
    return -1;
  }

  private addNal(nal: Buffer): void {
    if (nal.length === 0) return;
    const t = nalType(nal);
    if (!this.sawVcl) {
      if (t === NalType.AUD && this.nals.length > 0) {
        // Parameter sets came before the AUD: the AUD goes first.
        this.nals.unshift(nal);
        return;
      }
      this.keep([nal]);
      if (isVcl(t)) this.sawVcl = true;
      return;
    }
    if (t === NalType.AUD) {
      const held = this.held.splice(0);
      this.emit();
      this.keep([nal, ...held]);
      return;
    }
    if (isVcl(t)) {
      const held = this.held.splice(0);
      if (firstMbIsZero(nal)) {
        this.emit();
        this.keep(held);
        this.sawVcl = true;
      } else {
        // Another slice of the same picture: what came between stays in it.
        this.keep(held);
      }
      this.keep([nal]);
      return;
    }
    if (t === NalType.SEI || t === NalType.SPS || t === NalType.PPS || this.held.length > 0) this.held.push(nal);
    else this.keep([nal]);
  }

  private keep(nals: Buffer[]): void {
    for (const n of nals) {
      const t = nalType(n);
      if (t === NalType.SPS || t === NalType.PPS) this.paramSets++;
      this.nals.push(n);
    }
  }

  private emit(): void {
    if (this.nals.length === 0) return;
    let nals = this.nals;
    if (this.paramSets > 1) {
      const seen: Buffer[] = [];
      nals = nals.filter((n) => {
        const t = nalType(n);
        if (t !== NalType.SPS && t !== NalType.PPS) return true;
        if (seen.some((s) => s.equals(n))) return false;
        seen.push(n);
        return true;
      });
    }
    const parts: Buffer[] = [];
    for (const n of nals) parts.push(START_CODE, n);
    this.nals = [];
    this.sawVcl = false;
    this.paramSets = 0;
    this.onUnit(Buffer.concat(parts));
  }
}

const START_CODE = Buffer.from([0, 0, 0, 1]);

/** first_mb_in_slice is ue(v): it is 0 exactly when the first bit after the header is 1. */
function firstMbIsZero(nal: Buffer): boolean {
  return nal.length > 1 && (nal[1]! & 0x80) !== 0;
}

/** ASCII "bwc-capture-time": the UUID of our user_data_unregistered SEI. */
export const CAPTURE_SEI_UUID = Buffer.from('bwc-capture-time', 'ascii');

/** An SEI NAL (with its start code) stamping a capture time, Unix ms. */
export function captureSei(ms: number): Buffer {
  const payload = Buffer.alloc(24);
  CAPTURE_SEI_UUID.copy(payload, 0);
  payload.writeBigUInt64BE(BigInt(Math.max(0, Math.round(ms))), 16);
  // header 0x06, payload type 5, size 24, payload, rbsp trailing bits
  const rbsp = Buffer.concat([Buffer.from([5, payload.length]), payload, Buffer.from([0x80])]);
  return Buffer.concat([START_CODE, Buffer.from([NalType.SEI]), addEmulationPrevention(rbsp)]);
}

/** Reads the capture time from an SEI NAL (no start code), if it is ours. */
export function readCaptureSei(nal: Buffer): number | undefined {
  const rbsp = removeEmulationPrevention(nal.subarray(1));
  let i = 0;
  while (i < rbsp.length && rbsp[i] !== 0x80) {
    let type = 0;
    while (rbsp[i] === 0xff) { type += 255; i++; }
    type += rbsp[i++] ?? 0;
    let size = 0;
    while (rbsp[i] === 0xff) { size += 255; i++; }
    size += rbsp[i++] ?? 0;
    if (i + size > rbsp.length) return undefined;
    if (type === 5 && size >= 24 && rbsp.subarray(i, i + 16).equals(CAPTURE_SEI_UUID)) {
      return Number(rbsp.readBigUInt64BE(i + 16));
    }
    i += size;
  }
  return undefined;
}

/** Inserts the access unit's SEI right after its AUD (or in front when it has none). */
export function stampUnit(au: Buffer, ms: number): Buffer {
  const sei = captureSei(ms);
  const nals = splitNals(au);
  const parts: Buffer[] = [];
  let placed = false;
  for (const n of nals) {
    if (!placed && nalType(n) !== NalType.AUD) {
      parts.push(sei);
      placed = true;
    }
    parts.push(START_CODE, n);
  }
  if (!placed) parts.push(sei);
  return Buffer.concat(parts);
}

export function addEmulationPrevention(rbsp: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

const EMULATION_PREVENTION = Buffer.from([0, 0, 3]);

/** The RBSP of a NAL payload: emulation prevention bytes taken out (the input itself when it has none). */
export function removeEmulationPrevention(ebsp: Buffer): Buffer {
  let at = ebsp.indexOf(EMULATION_PREVENTION);
  if (at < 0) return ebsp;
  const out = Buffer.allocUnsafe(ebsp.length);
  let n = 0;
  let from = 0;
  while (at >= 0) {
    // Keep up to and including the two zeros, skip the 03.
    n += ebsp.copy(out, n, from, at + 2);
    from = at + 3;
    at = ebsp.indexOf(EMULATION_PREVENTION, from);
  }
  n += ebsp.copy(out, n, from);
  return out.subarray(0, n);
}
