import { randomUUID } from 'node:crypto';
import type { CommandRole } from '../../protocol/command-signing.js';
import type { FrameHeader } from '../fleet/live-frame.js';
import type { CommandLink, CommandRequest, MediaChunkMessage } from '../spot-check/command-link.js';
import { ObjectAssembler } from '../spot-check/media-assembly.js';
import type { ConsoleAudit } from './console-audit.js';
import type { CommandLinks } from './spot-service.js';

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

type Sink = { frame(h: FrameHeader, data: Uint8Array): void; ended(id: string, why: string): void };

type Session = LiveSession & { req?: CommandRequest; link?: CommandLink; keepalive?: NodeJS.Timeout; done: AbortController; sink: Sink };

/**
 * Live views in the browser: the server asks the camera for a live feed
 * with the user's role key, keeps it alive while the page watches, and
 * relays each whole frame (checked against its SHA-256) to that page's
 * socket. Start and end are audited with the user, the frames and the time.
 */
export class LiveRelay {
  readonly sessions = new Map<string, Session>();

  constructor(private readonly links: CommandLinks, private readonly audit: ConsoleAudit, private readonly keepaliveS = 5) {}

  async start(user: string, role: CommandRole, device: string, durationS: number, sink: Sink): Promise<LiveSession> {
    const link = await this.links.link(role);
    const s: Session = { id: randomUUID(), device, user, role, startedMs: Date.now(), frames: 0, bytes: 0, link, done: new AbortController(), sink };
    this.sessions.set(s.id, s);
    this.audit.record({ user, role, action: 'live.start', device, live: s.id, keyId: link.keyId, durationS });
    const units = new Map<number, ObjectAssembler>();
    const onChunk = (c: MediaChunkMessage & Record<string, unknown>) => {
      if (s.ended) return;
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
      this.end(s.id, `refused: ${(err as Error).message}`, (err as Error).message);
      throw err;
    }
    if (s.ended) {
      // Stopped while the camera was still accepting: it is told now.
      void this.cancel(s);
      void link.close(s.req);
      return s;
    }
    s.keepalive = setInterval(() => void link.fire(device, 'viewerKeepalive', { commandId: s.req!.commandId }).catch(() => undefined), this.keepaliveS * 1000);
    // Aborted when the session ends otherwise (stopped, the console closing): its final reply
    // is not awaited then, and no timer is left to hold the process for minutes.
    void s.req.waitFor(['done', 'failed'], (durationS + 60) * 1000, s.done.signal).then((fin) => {
      if (!s.done.signal.aborted) this.end(s.id, fin ? `${fin.status}: ${fin.reason || fin.reasonCode}` : 'no end reply', fin?.reason || 'ended');
    });
    return s;
  }

  /** Stops a session (the viewer pressed stop or left); false when it had ended already. */
  stop(id: string, why = 'stopped by the viewer'): boolean {
    const s = this.sessions.get(id);
    if (!s || s.ended) return false;
    void this.cancel(s);
    return this.end(id, why);
  }

  /**
   * Stops every open session (the console is stopping): each is audited and
   * cancelled on its camera, the cancels given up to `waitMs` to reach the
   * broker before the links close.
   */
  async close(why = 'console stopping', waitMs = 2000): Promise<void> {
    const open = [...this.sessions.values()].filter((s) => !s.ended);
    const cancels = open.map((s) => this.cancel(s));
    for (const s of open) this.end(s.id, why);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(cancels), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private async cancel(s: Session): Promise<void> {
    if (s.req && s.link) await s.link.fire(s.device, 'cancel', { commandId: s.req.commandId }).catch(() => undefined);
  }

  /**
   * Ends a session once, whatever ended it: audited with `why`, and its
   * viewer told (`viewerWhy`) after its last frame: nothing of the session
   * reaches the viewer's socket after that.
   */
  private end(id: string, why: string, viewerWhy = why): boolean {
    const s = this.sessions.get(id);
    if (!s || s.ended) return false;
    s.ended = why;
    s.done.abort();
    clearInterval(s.keepalive);
    if (s.req && s.link) void s.link.close(s.req);
    s.sink.ended(s.id, viewerWhy);
    this.audit.record({ user: s.user, role: s.role, action: 'live.end', device: s.device, live: s.id, frames: s.frames, bytes: s.bytes, seconds: Math.round((Date.now() - s.startedMs) / 100) / 10, why });
    setTimeout(() => this.sessions.delete(id), 60_000).unref();
    return true;
  }
}
