/**
 * RTP (RFC 3550) for a GB/T 28181 PS stream: payload type 96, 90 kHz clock,
 * the SSRC the platform gave in the SDP `y=` line, the marker bit on the last
 * packet of a frame, each packet at most maxPacket bytes including its
 * 12-byte header. Over TCP each packet is framed by a 2-byte length (RFC 4571).
 */
export const RTP_HEADER = 12;
export const MAX_RTP_PACKET = 1400;
export const PS_PAYLOAD_TYPE = 96;

export class RtpPacketizer {
  private seq: number;

  constructor(
    readonly ssrc: number,
    private readonly maxPacket = MAX_RTP_PACKET,
    firstSeq = Math.floor(Math.random() * 0x10000),
  ) {
    this.seq = firstSeq & 0xffff;
  }

  /** The packets of one frame (one PS pack). */
  packetize(payload: Buffer, ts90k: number): Buffer[] {
    const room = this.maxPacket - RTP_HEADER;
    const out: Buffer[] = [];
    for (let off = 0; off < payload.length; off += room) {
      const n = Math.min(room, payload.length - off);
      const p = Buffer.allocUnsafe(RTP_HEADER + n);
      p[0] = 0x80; // V=2, no padding, no extension, no CSRC
      p[1] = PS_PAYLOAD_TYPE | (off + n >= payload.length ? 0x80 : 0);
      p.writeUInt16BE(this.seq, 2);
      this.seq = (this.seq + 1) & 0xffff;
      p.writeUInt32BE(Math.floor(ts90k) >>> 0, 4);
      p.writeUInt32BE(this.ssrc >>> 0, 8);
      payload.copy(p, RTP_HEADER, off, off + n);
      out.push(p);
    }
    return out;
  }
}

/** RFC 4571 framing for RTP over TCP. */
export function frame4571(packet: Buffer): Buffer {
  const b = Buffer.allocUnsafe(2 + packet.length);
  b.writeUInt16BE(packet.length, 0);
  packet.copy(b, 2);
  return b;
}
