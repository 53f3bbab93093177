/**
 * H.264 access units → MPEG-2 Program Stream (ISO/IEC 13818-1 §2.5), as
 * GB/T 28181-2016 appendix C carries video: every unit is one pack (pack
 * header, then PES packets of stream 0xE0 with the PTS on the first); a
 * keyframe's pack also has the system header and the program stream map
 * (stream_type 0x1B, H.264) so a viewer can start there.
 */

const PES_MAX = 65_535;
/** Bytes after PES_packet_length that are not payload: flags (2) + header length (1) + PTS (5) [+ DTS (5)]. */
const PES_HEAD_WITH_PTS = 3 + 5;
const PES_HEAD_WITH_DTS = 3 + 10;
const PES_HEAD_PLAIN = 3;
/** mux_rate in units of 50 bytes/s: 5 Mbit/s, an upper bound for a body camera stream. */
const MUX_RATE = Math.round(5_000_000 / 8 / 50);

export interface PsUnit {
  /** Annex B with start codes. */
  data: Buffer;
  keyframe: boolean;
  /** 90 kHz presentation time (wraps at 2^33). */
  pts90k: number;
  /** 90 kHz decode time, when it differs from the presentation time (recordings with B-frames); also the pack's SCR. */
  dts90k?: number;
}

export function muxPs(u: PsUnit): Buffer {
  const dts = u.dts90k !== undefined && u.dts90k !== u.pts90k ? u.dts90k : undefined;
  const parts: Buffer[] = [packHeader(dts ?? u.pts90k)];
  if (u.keyframe) parts.push(SYSTEM_HEADER, PSM);
  let off = 0;
  let first = true;
  do {
    const room = PES_MAX - (first ? (dts !== undefined ? PES_HEAD_WITH_DTS : PES_HEAD_WITH_PTS) : PES_HEAD_PLAIN);
    const n = Math.min(room, u.data.length - off);
    parts.push(pesHeader(n, first ? u.pts90k : undefined, first, first ? dts : undefined), u.data.subarray(off, off + n));
    off += n;
    first = false;
  } while (off < u.data.length);
  return Buffer.concat(parts);
}

function packHeader(pts90k: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt32BE(0x000001ba, 0);
  const scr = BigInt(Math.floor(pts90k)) & 0x1ffffffffn;
  const ext = 0n;
  const byte = (v: bigint) => Number(v & 0xffn);
  b[4] = byte(0x44n | ((scr >> 27n) & 0x38n) | ((scr >> 28n) & 0x03n));
  b[5] = byte(scr >> 20n);
  b[6] = byte(0x04n | ((scr >> 12n) & 0xf8n) | ((scr >> 13n) & 0x03n));
  b[7] = byte(scr >> 5n);
  b[8] = byte(0x04n | ((scr << 3n) & 0xf8n) | ((ext >> 7n) & 0x03n));
  b[9] = byte(((ext << 1n) & 0xfen) | 0x01n);
  const mux = (MUX_RATE << 2) | 0x03;
  b[10] = (mux >> 16) & 0xff;
  b[11] = (mux >> 8) & 0xff;
  b[12] = mux & 0xff;
  b[13] = 0xf8; // reserved, no stuffing
  return b;
}

function ptsBytes(prefix: number, pts90k: number): Buffer {
  const p = BigInt(Math.floor(pts90k)) & 0x1ffffffffn;
  return Buffer.from([
    Number((BigInt(prefix << 4) | (((p >> 30n) & 0x07n) << 1n) | 1n) & 0xffn),
    Number((p >> 22n) & 0xffn),
    Number(((((p >> 15n) & 0x7fn) << 1n) | 1n) & 0xffn),
    Number((p >> 7n) & 0xffn),
    Number((((p & 0x7fn) << 1n) | 1n) & 0xffn),
  ]);
}

function pesHeader(payload: number, pts90k: number | undefined, aligned: boolean, dts90k?: number): Buffer {
  const withPts = pts90k !== undefined;
  const withDts = withPts && dts90k !== undefined;
  const h = Buffer.alloc(9);
  h.writeUInt32BE(0x000001e0, 0);
  h.writeUInt16BE(payload + (withDts ? PES_HEAD_WITH_DTS : withPts ? PES_HEAD_WITH_PTS : PES_HEAD_PLAIN), 4);
  h[6] = 0x80 | (aligned ? 0x04 : 0); // '10', data_alignment_indicator on the unit's first PES
  h[7] = withDts ? 0xc0 : withPts ? 0x80 : 0x00;
  h[8] = withDts ? 10 : withPts ? 5 : 0;
  if (withDts) return Buffer.concat([h, ptsBytes(0x3, pts90k), ptsBytes(0x1, dts90k)]);
  return withPts ? Buffer.concat([h, ptsBytes(0x2, pts90k)]) : h;
}

const SYSTEM_HEADER = Buffer.from([
  0x00, 0x00, 0x01, 0xbb,
  0x00, 0x09, // header_length: 6 + one stream entry
  0x80 | ((MUX_RATE >> 15) & 0x7f), (MUX_RATE >> 7) & 0xff, ((MUX_RATE & 0x7f) << 1) | 0x01, // rate_bound
  0x00, // audio_bound 0, fixed 0, CSPS 0
  0xe1, // audio lock, video lock, marker, video_bound 1
  0x7f, // packet_rate_restriction 0, reserved
  0xe0, 0xe4, 0x00, // stream 0xE0: '11', P-STD scale 1 (1024-byte units), size 1024 (1 MiB)
]);

const PSM = (() => {
  const body = Buffer.from([
    0x00, 0x00, 0x01, 0xbc,
    0x00, 0x0e, // program_stream_map_length: 14
    0xe0, // current_next_indicator 1, reserved, version 0
    0xff, // reserved, marker
    0x00, 0x00, // program_stream_info_length
    0x00, 0x04, // elementary_stream_map_length
    0x1b, 0xe0, 0x00, 0x00, // H.264 on stream 0xE0, no descriptors
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(body), 0);
  return Buffer.concat([body, crc]);
})();

/** CRC-32/MPEG-2: polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final xor. */
export function crc32Mpeg2(buf: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buf) {
    crc ^= byte << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}
