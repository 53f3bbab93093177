import { randomUUID } from 'node:crypto';
import type { CommandRole } from '../../protocol/command-signing.js';
import type { CommandLink, CommandRequest, MediaChunkMessage } from '../spot-check/command-link.js';
import { ObjectAssembler } from '../spot-check/media-assembly.js';
import type { ConsoleAudit } from './console-audit.js';
import type { CommandLinks } from './spot-service.js';

/** What the browser gets with each frame (the frame's bytes follow it). */
export interface FrameHeader {
  type: 'frame';
  live: string;
  device: string;
  frame: number;
  contentType: string;
  timeMs: number;
  keyframe?: boolean;
  codec?: string;
  ptsUs?: number;
  width?: number;
  height?: number;
  sha256Ok: boolean;
}

export interface LiveSession {
  id: string;
  device: string;
  user: string;
  role: CommandRole;
  startedMs: number;
  frames: number;
  bytes: number;
  ended?: string;
}

/** One binary WebSocket message: 4-byte big-endian header length, the JSON header, the frame. */
export function frameMessage(h: FrameHeader, data: Uint8Array): Buffer {
  const head = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(head.length);
  return Buffer.concat([len, head, data]);
}

type Sink = { frame(h: FrameHeader, data: Uint8Array): void; ended(id: string, why: string): void };

/**
 * Live views in the browser: the server asks the camera for a live feed
 * with the user's role key, keeps it alive while the page watches, and
 * relays each whole frame (checked against its SHA-256) to that page's
 * socket. Start and end are audited with the user, the frames and the time.
 */
export class LiveRelay {
  readonly sessions = new Map<string, LiveSession & { req?: CommandRequest; link?: CommandLink; keepalive?: NodeJS.Timeout }>();

  constructor(private readonly links: CommandLinks, private readonly audit: ConsoleAudit, private readonly keepaliveS = 5) {}

  async start(user: string, role: CommandRole, device: string, durationS: number, sink: Sink): Promise<LiveSession> {
    const link = await this.links.link(role);
    const s: LiveSession & { req?: CommandRequest; link?: CommandLink; keepalive?: NodeJS.Timeout } = { id: randomUUID(), device, user, role, startedMs: Date.now(), frames: 0, bytes: 0, link };
    this.sessions.set(s.id, s);
    this.audit.record({ user, role, action: 'live.start', device, live: s.id, keyId: link.keyId, durationS });
    const units = new Map<number, ObjectAssembler>();
    const onChunk = (c: MediaChunkMessage & Record<string, unknown>) => {
      let asm = units.get(c.frame);
      if (!asm) units.set(c.frame, (asm = new ObjectAssembler()));
      let obj;
      try {
        obj = asm.add(c);
      } catch {
        units.delete(c.frame);
        return;
      }
      if (!obj) return;
      units.delete(c.frame);
      // Units older than this one that never completed will not (QoS 0 video): forget them.
      for (const k of units.keys()) if (k < c.frame - 60) units.delete(k);
      s.frames++;
      s.bytes += obj.data.length;
      sink.frame({
        type: 'frame', live: s.id, device, frame: c.frame, contentType: c.contentType, timeMs: c.timeMs, sha256Ok: obj.announced === undefined || obj.announced === obj.sha256,
        ...(typeof c.keyframe === 'boolean' ? { keyframe: c.keyframe } : {}), ...(typeof c.codec === 'string' && c.codec ? { codec: c.codec } : {}),
        ...(typeof c.ptsUs === 'number' ? { ptsUs: c.ptsUs } : {}), ...(typeof c.width === 'number' && c.width ? { width: c.width, height: c.height as number } : {}),
      }, obj.data);
    };
    try {
      s.req = await link.command(device, 'liveFeed', { fps: 5, quality: 60, durationS, maxBitrateKbps: 0 }, { media: true, onChunk: onChunk as (c: MediaChunkMessage) => void });
    } catch (err) {
      this.end(s.id, `refused: ${(err as Error).message}`);
      sink.ended(s.id, (err as Error).message);
      throw err;
    }
    s.keepalive = setInterval(() => void link.fire(device, 'viewerKeepalive', { commandId: s.req!.commandId }).catch(() => undefined), this.keepaliveS * 1000);
    void s.req.waitFor(['done', 'failed'], (durationS + 60) * 1000).then((fin) => {
      if (this.end(s.id, fin ? `${fin.status}: ${fin.reason || fin.reasonCode}` : 'no end reply')) sink.ended(s.id, fin?.reason || 'ended');
    });
    return s;
  }

  /** Stops a session (the viewer pressed stop or left); false when it had ended already. */
  stop(id: string, why = 'stopped by the viewer'): boolean {
    const s = this.sessions.get(id);
    if (!s || s.ended) return false;
    if (s.req && s.link) void s.link.fire(s.device, 'cancel', { commandId: s.req.commandId }).catch(() => undefined);
    return this.end(id, why);
  }

  private end(id: string, why: string): boolean {
    const s = this.sessions.get(id);
    if (!s || s.ended) return false;
    s.ended = why;
    clearInterval(s.keepalive);
    if (s.req && s.link) void s.link.close(s.req);
    this.audit.record({ user: s.user, role: s.role, action: 'live.end', device: s.device, live: s.id, frames: s.frames, bytes: s.bytes, seconds: Math.round((Date.now() - s.startedMs) / 100) / 10, why });
    setTimeout(() => this.sessions.delete(id), 60_000).unref();
    return true;
  }
}
