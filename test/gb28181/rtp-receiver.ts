import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** What a viewer received: RTP packets as they came (TCP: de-framed per RFC 4571). */
export class RtpReceiver {
  readonly packets: Buffer[] = [];
  private closers: Array<() => void> = [];
  private pending: Buffer = Buffer.alloc(0);
  connections = 0;

  static async udp(port: number): Promise<RtpReceiver> {
    const r = new RtpReceiver();
    const s = createSocket('udp4');
    await new Promise<void>((res) => s.bind(port, '127.0.0.1', () => res()));
    s.on('message', (m) => r.packets.push(m));
    r.closers.push(() => s.close());
    return r;
  }

  /** The platform is passive: it listens, the device connects. */
  static async tcpListen(port: number): Promise<RtpReceiver> {
    const r = new RtpReceiver();
    const server: Server = createServer((sock) => r.attach(sock));
    await new Promise<void>((res) => server.listen(port, '127.0.0.1', () => res()));
    r.closers.push(() => server.close());
    return r;
  }

  /** The platform is active: it connects to the port of the device's answer. */
  static async tcpConnect(port: number): Promise<RtpReceiver> {
    const r = new RtpReceiver();
    const sock = await new Promise<Socket>((res, rej) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => res(c));
      c.once('error', rej);
    });
    r.attach(sock);
    return r;
  }

  private attach(sock: Socket): void {
    this.connections++;
    sock.on('data', (d: Buffer) => {
      this.pending = Buffer.concat([this.pending, d]);
      while (this.pending.length >= 2) {
        const n = this.pending.readUInt16BE(0);
        if (this.pending.length < 2 + n) break;
        this.packets.push(Buffer.from(this.pending.subarray(2, 2 + n)));
        this.pending = this.pending.subarray(2 + n);
      }
    });
    sock.on('error', () => {});
    this.closers.push(() => sock.destroy());
  }

  close(): void {
    for (const c of this.closers) c();
  }
}

export interface RtpCheck {
  ok: boolean;
  problems: string[];
  frames: number;
  payload: Buffer;
  maxSize: number;
}

/** Checks every packet against what GB/T 28181 asks and joins the payloads (the PS stream). */
export function checkRtp(packets: Buffer[], ssrc: number): RtpCheck {
  const problems: string[] = [];
  let frames = 0;
  let maxSize = 0;
  let prevSeq: number | undefined;
  let prevTs: number | undefined;
  let prevMarker = true;
  const payloads: Buffer[] = [];
  for (const [i, p] of packets.entries()) {
    maxSize = Math.max(maxSize, p.length);
    if (p.length < 12) { problems.push(`packet ${i}: ${p.length} bytes`); continue; }
    if (p[0]! >> 6 !== 2) problems.push(`packet ${i}: version ${p[0]! >> 6}`);
    if ((p[1]! & 0x7f) !== 96) problems.push(`packet ${i}: payload type ${p[1]! & 0x7f}`);
    if (p.readUInt32BE(8) !== ssrc) problems.push(`packet ${i}: SSRC ${p.readUInt32BE(8)}`);
    if (p.length > 1400) problems.push(`packet ${i}: ${p.length} bytes > 1400`);
    const seq = p.readUInt16BE(2);
    if (prevSeq !== undefined && seq !== ((prevSeq + 1) & 0xffff)) problems.push(`packet ${i}: seq ${seq} after ${prevSeq}`);
    prevSeq = seq;
    const ts = p.readUInt32BE(4);
    if (prevTs !== undefined && ts !== prevTs && !prevMarker) problems.push(`packet ${i}: timestamp changed without a marker`);
    prevTs = ts;
    prevMarker = (p[1]! & 0x80) !== 0;
    if (prevMarker) frames++;
    payloads.push(p.subarray(12));
  }
  return { ok: problems.length === 0, problems: problems.slice(0, 10), frames, payload: Buffer.concat(payloads), maxSize };
}

/**
 * ffprobe of a received PS stream, read as MPEG-PS (as platforms do: a
 * camera's SEI text can fool format detection), every frame counted.
 */
export function probePs(file: string): { format: string; codec: string; width: number; height: number; frames: number } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-f', 'mpeg', '-count_frames', '-select_streams', 'v:0',
    '-show_entries', 'stream=codec_name,width,height,nb_read_frames:format=format_name', '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe failed on ${file}: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { streams: Array<Record<string, string | number>>; format: Record<string, string> };
  const s = j.streams[0];
  if (!s) throw new Error(`${file}: no video stream`);
  return { format: String(j.format.format_name), codec: String(s.codec_name), width: Number(s.width), height: Number(s.height), frames: Number(s.nb_read_frames) };
}
