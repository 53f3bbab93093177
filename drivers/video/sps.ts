import type { VideoFormat } from './video-source.js';
import { removeEmulationPrevention } from './annexb.js';

/** Reads bits of an RBSP, exp-Golomb included. */
class BitReader {
  private bit = 0;
  constructor(private readonly b: Buffer) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.b[this.bit >> 3];
      if (byte === undefined) throw new Error('SPS ends early');
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new Error('exp-Golomb code too long');
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }
  se(): number {
    const k = this.ue();
    return k % 2 ? (k + 1) / 2 : -k / 2;
  }
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/**
 * Picture size and RFC 6381 codec string of an SPS NAL (header byte
 * included, no start code). Throws on a truncated or absurd SPS, which the
 * agent reports as a corrupt stream.
 */
export function parseSps(nal: Buffer): VideoFormat {
  if (nal.length < 4) throw new Error('SPS too short');
  const codec = `avc1.${nal.subarray(1, 4).toString('hex').toUpperCase()}`;
  const r = new BitReader(removeEmulationPrevention(nal.subarray(1)));
  const profile = r.u(8);
  r.u(8); // constraint flags
  r.u(8); // level
  r.ue(); // seq_parameter_set_id
  let chromaFormat = 1;
  let separateColourPlanes = 0;
  if (HIGH_PROFILES.has(profile)) {
    chromaFormat = r.ue();
    if (chromaFormat === 3) separateColourPlanes = r.u(1);
    r.ue(); // bit_depth_luma_minus8
    r.ue(); // bit_depth_chroma_minus8
    r.u(1); // qpprime_y_zero_transform_bypass_flag
    if (r.u(1)) {
      for (let i = 0; i < (chromaFormat !== 3 ? 8 : 12); i++) {
        if (r.u(1)) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.ue(); // log2_max_frame_num_minus4
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.u(1);
    r.se();
    r.se();
    const n = r.ue();
    for (let i = 0; i < n; i++) r.se();
  }
  r.ue(); // max_num_ref_frames
  r.u(1); // gaps_in_frame_num_value_allowed_flag
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.u(1);
  if (!frameMbsOnly) r.u(1); // mb_adaptive_frame_field_flag
  r.u(1); // direct_8x8_inference_flag
  let crop = { l: 0, r: 0, t: 0, b: 0 };
  if (r.u(1)) crop = { l: r.ue(), r: r.ue(), t: r.ue(), b: r.ue() };
  const chromaArray = separateColourPlanes ? 0 : chromaFormat;
  const cropX = chromaArray === 0 ? 1 : chromaFormat === 3 ? 1 : 2;
  const cropY = (chromaArray === 0 ? 1 : chromaFormat === 1 ? 2 : 1) * (2 - frameMbsOnly);
  const width = widthMbs * 16 - cropX * (crop.l + crop.r);
  const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (crop.t + crop.b);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw new Error(`SPS gives an impossible picture size ${width}x${height}`);
  return { codec, width, height };
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}
