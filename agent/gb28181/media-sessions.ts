import type { Logger } from 'pino';
import type { VideoSource } from '../../drivers/video/video-source.js';
import { header, headerParam, headerUri, uriUser, type SipRequest } from './sip-message.js';
import { newTag } from './sip-ids.js';
import type { SipEndpoint } from './sip-endpoint.js';
import type { Peer } from './sip-transport.js';
import type { ChannelSource } from './channel-source.js';
import { answerSdp, parseOffer, SdpError, type GbOffer } from './sdp.js';
import { muxPs } from './ps-muxer.js';
import { RtpPacketizer } from './rtp-packetizer.js';
import { openTcpActiveSender, openTcpPassiveSender, openUdpSender, type RtpSender } from './rtp-sender.js';
import type { VideoHub } from './video-hub.js';
import { manscdp } from './manscdp-xml.js';
import { planPlayback, PlaybackRefused, RecordingStream, type PlaybackSegment } from './recording-playback.js';

/** Timer H of RFC 3261: a 200 OK never ACKed ends the session. */
const ACK_TIMEOUT_MS = 32_000;
/** A viewer further behind than this (TCP) loses frames up to the next keyframe (live); a recording waits for it. */
const MAX_BACKLOG = 2_000_000;
/** After MediaStatus 121 the platform ends the session with a BYE; without one the device ends it after this. */
const BYE_AFTER_END_MS = 30_000;
/** Download speeds (a=downloadspeed) beyond this are served at this speed. */
export const MAX_DOWNLOAD_SPEED = 16;

export type MediaKind = 'Play' | 'Playback' | 'Download';
const KINDS: Record<string, MediaKind> = { play: 'Play', playback: 'Playback', download: 'Download' };

/** What a unit carries into a session, live or recorded. */
interface OutUnit {
  data: Buffer;
  keyframe: boolean;
  ptsUs: number;
  /** Decode time, when it differs (recordings with B-frames): the RTP timestamp and the pack's SCR. */
  dtsUs?: number;
}

interface Session {
  kind: MediaKind;
  key: string;
  callId: string;
  localTag: string;
  remoteTag: string;
  remoteUri: string;
  target: string;
  channelId: string;
  cseq: number;
  sender?: RtpSender;
  leave?: () => Promise<void>;
  acked: boolean;
  ackTimer?: NodeJS.Timeout;
  ended: boolean;
  packets: number;
  frames: number;
  /** Set when the INVITE arrived, for the INVITE → first packet figure. */
  invitedAt: number;
  firstPacketMs?: number;
  /** Playback and Download: the recording going out, started once ACKed (and, TCP, connected). */
  player?: RecordingStream;
  /** The recording was played to its end (MediaStatus 121 sent). */
  fileEnded?: boolean;
  endTimer?: NodeJS.Timeout;
  onAck?: () => void;
}

export interface MediaSessionsOptions {
  deviceId: string;
  source: ChannelSource;
  videoFor: (deviceId: string) => VideoSource | undefined;
  hub: VideoHub;
  /** Address RTP sockets bind to, and the one put in the SDP answer. */
  localHost: string;
  advertisedHost: () => string;
  maxSessions: number;
  /** Next serial number of a MANSCDP notification (MediaStatus). */
  sn: () => number;
  log: Logger;
  /** Told when a session sends its first packet: ms since its INVITE arrived (the benchmark's figure). */
  onFirstPacket?: (channelId: string, ms: number) => void;
}

/**
 * Media sessions. Live video (GB/T 28181 §9.2 real-time play): INVITE with s=Play →
 * 200 OK with the SDP answer; after the ACK the channel's H.264 goes out as
 * PS over RTP to the address of the offer (UDP, or TCP in the role the offer
 * asks for) with the SSRC of its y= line, from a keyframe on; BYE ends it.
 * The device ends a session (with a BYE) when the viewer cannot be reached
 * or the camera's video stops. Playback and Download of recordings (§9.8,
 * §9.9): INVITE with s=Playback or s=Download and the time range in t=
 * (Unix seconds); the recordings of that range go out the same way, paced
 * to their timestamps (Download: a=downloadspeed times faster, without
 * dropping a frame), and when the last frame is out the device sends a
 * MediaStatus MESSAGE (NotifyType 121) in the dialog and waits for the
 * platform's BYE. Every refusal is a SIP error with a Warning and a log line.
 */
export class MediaSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly sip: SipEndpoint,
    private readonly o: MediaSessionsOptions,
  ) {}

  get count(): number {
    return this.sessions.size;
  }

  /** Sessions for the figures: INVITE → first RTP packet, packets sent. */
  stats(): Array<{ kind: MediaKind; channelId: string; packets: number; frames: number; firstPacketMs?: number }> {
    return [...this.sessions.values()].map((s) => ({ kind: s.kind, channelId: s.channelId, packets: s.packets, frames: s.frames, firstPacketMs: s.firstPacketMs }));
  }

  handle(req: SipRequest, from: Peer): void {
    switch (req.method) {
      case 'INVITE':
        void this.invite(req, from);
        return;
      case 'ACK':
        return this.ack(req);
      case 'BYE':
        return this.bye(req, from);
      case 'CANCEL':
        this.sip.reply(req, from, 481, 'Call/Transaction Does Not Exist');
        return;
      case 'INFO':
        // MANSRTSP (pause, seek, scale of a playback): not acted on, and not answered as if it were.
        this.o.log.warn({ callId: header(req, 'call-id') }, 'INFO (MANSRTSP playback control) refused: not supported');
        this.sip.reply(req, from, 501, 'Not Implemented', { headers: [['Warning', `399 ${this.o.deviceId} "playback control (MANSRTSP PAUSE/PLAY/scale) is not supported"`]] });
        return;
      default:
        this.sip.reply(req, from, 200, 'OK');
    }
  }

  private refuse(req: SipRequest, from: Peer, status: number, reason: string, why: string): void {
    this.o.log.warn({ status, why, callId: header(req, 'call-id') }, 'INVITE refused');
    this.sip.reply(req, from, status, reason, { headers: [['Warning', `399 ${this.o.deviceId} "${why.replace(/"/g, "'")}"`]] });
  }

  private async invite(req: SipRequest, from: Peer): Promise<void> {
    const invitedAt = performance.now();
    const callId = header(req, 'call-id')!;
    const remoteTag = headerParam(header(req, 'from')!, 'tag') ?? '';
    const key = `${callId}|${remoteTag}`;
    if (this.sessions.has(key)) {
      this.refuse(req, from, 491, 'Request Pending', 're-INVITE is not supported');
      return;
    }
    const channelId = uriUser(req.uri) ?? '';
    const ch = this.o.source.channels().find((c) => c.channelId === channelId);
    if (!ch) return this.refuse(req, from, 404, 'Not Found', `no channel ${channelId}`);
    let offer: GbOffer;
    try {
      offer = parseOffer(req.body.toString('utf8'));
    } catch (err) {
      return this.refuse(req, from, 488, 'Not Acceptable Here', err instanceof SdpError ? `SDP: ${err.message}` : 'SDP unreadable');
    }
    const kind = KINDS[offer.session.toLowerCase()];
    if (!kind) return this.refuse(req, from, 488, 'Not Acceptable Here', `s=${offer.session} is not supported (Play, Playback, Download)`);
    // Recordings may still be read from a docked camera's mounted footage; live video needs the camera.
    if (kind === 'Play' && !ch.online) return this.refuse(req, from, 480, 'Temporarily Unavailable', `channel ${channelId} (${ch.deviceId}) is offline`);
    if (!offer.payloadTypes.includes(96)) return this.refuse(req, from, 488, 'Not Acceptable Here', 'the offer has no payload type 96 (PS)');
    const video = kind === 'Play' ? this.o.videoFor(ch.deviceId) : undefined;
    if (kind === 'Play' && !video) return this.refuse(req, from, 503, 'Service Unavailable', `camera ${ch.deviceId} has no video source`);
    if (kind !== 'Play' && !(offer.startS !== undefined && offer.stopS !== undefined && offer.stopS > offer.startS)) {
      return this.refuse(req, from, 488, 'Not Acceptable Here', `s=${kind} needs its time range: t= start stop in Unix seconds, start before stop (got t=${offer.startS ?? '?'} ${offer.stopS ?? '?'})`);
    }
    if (this.sessions.size >= this.o.maxSessions) return this.refuse(req, from, 486, 'Busy Here', `${this.sessions.size} media sessions already (the most this device serves)`);

    this.sip.reply(req, from, 100, 'Trying');
    const s: Session = {
      kind, key, callId, localTag: newTag(), remoteTag,
      remoteUri: headerUri(header(req, 'from')!),
      target: headerUri(header(req, 'contact') ?? header(req, 'from')!),
      channelId, cseq: 0, acked: false, ended: false, packets: 0, frames: 0, invitedAt,
    };
    this.sessions.set(key, s);
    let segments: PlaybackSegment[] | undefined;
    if (kind !== 'Play') {
      try {
        segments = await planPlayback({ source: this.o.source, deviceId: ch.deviceId, channelId, fromMs: offer.startS! * 1000, toMs: offer.stopS! * 1000, log: this.o.log });
      } catch (err) {
        this.sessions.delete(key);
        if (err instanceof PlaybackRefused) return this.refuse(req, from, err.status, err.reason, err.message);
        return this.refuse(req, from, 500, 'Server Internal Error', `cannot plan the ${kind.toLowerCase()}: ${(err as Error).message}`);
      }
      if (s.ended) return;
    }
    const gone = (why: string) => void this.end(s, why, true);
    let connected: Promise<void> = Promise.resolve();
    try {
      if (offer.transport === 'UDP') s.sender = await openUdpSender({ host: offer.host, port: offer.port, localHost: this.o.localHost, gone });
      else if (offer.setup === 'passive') s.sender = await openTcpActiveSender({ host: offer.host, port: offer.port, localHost: this.o.localHost, gone });
      else {
        const passive = await openTcpPassiveSender({ localHost: this.o.localHost, gone });
        s.sender = passive;
        connected = passive.connected;
      }
      const rtp = new RtpPacketizer(Number(offer.ssrc));
      if (segments) {
        const speed = kind === 'Download' ? Math.min(MAX_DOWNLOAD_SPEED, Math.max(1, offer.downloadSpeed || 1)) : 1;
        const player = new RecordingStream({ segments, speed, blocked: () => (s.sender?.backlog ?? 0) > MAX_BACKLOG / 2, onUnit: (u) => this.send(s, rtp, u) });
        s.player = player;
        void player.ended.then((e) => {
          if (e.kind === 'ended') void this.fileEnded(s);
          else if (e.kind === 'failed') void this.end(s, `recording not readable: ${e.reason}`, true);
        });
        // A recording starts once the platform has ACKed (and, TCP passive, connected): no frame of it is lost.
        s.onAck = () => void connected.then(() => player.start());
      } else {
        let waitKey = false;
        s.leave = await this.o.hub.join(ch.deviceId, video!, (u) => {
          if (!s.acked || s.ended || !s.sender) return;
          // A slow TCP viewer skips to the next keyframe rather than fall ever further behind.
          if (s.sender.backlog > MAX_BACKLOG) waitKey = true;
          if (waitKey && !u.keyframe) return;
          waitKey = false;
          this.send(s, rtp, u);
        }, (reason) => void this.end(s, `video source ended: ${reason}`, true));
      }
    } catch (err) {
      this.sessions.delete(key);
      s.sender?.close();
      return this.refuse(req, from, 503, 'Service Unavailable', `cannot start the stream: ${(err as Error).message}`);
    }
    if (s.ended) return;
    const extra = kind === 'Download' ? [`a=filesize:${segments!.reduce((n, seg) => n + seg.rec.size, 0)}`] : [];
    const body = Buffer.from(answerSdp({ deviceId: channelId, host: this.o.advertisedHost(), port: s.sender.localPort, offer, extra }));
    this.sip.reply(req, from, 200, 'OK', { toTag: s.localTag, body, contentType: 'application/sdp', headers: [['Contact', this.sip.contact]] });
    s.ackTimer = setTimeout(() => void this.end(s, 'no ACK for the 200 OK', false), ACK_TIMEOUT_MS);
    const to = `${offer.transport}${offer.setup ? `-${offer.setup === 'passive' ? 'active' : 'passive'}` : ''} ${offer.host}:${offer.port}`;
    if (segments) {
      this.o.log.info({ channel: channelId, device: ch.deviceId, kind, to, ssrc: offer.ssrc, callId, from: offer.startS, until: offer.stopS, recordings: segments.map((g) => g.rec.id), frames: segments.reduce((n, g) => n + g.last - g.first + 1, 0), speed: kind === 'Download' ? Math.min(MAX_DOWNLOAD_SPEED, Math.max(1, offer.downloadSpeed || 1)) : 1 }, `${kind.toLowerCase()} session answered`);
    } else {
      this.o.log.info({ channel: channelId, device: ch.deviceId, to, ssrc: offer.ssrc, callId }, 'live video session answered');
    }
  }

  /** One unit out to a session's viewer: PS over RTP. */
  private send(s: Session, rtp: RtpPacketizer, u: OutUnit): void {
    if (s.ended || !s.sender) return;
    const pts = Math.round((u.ptsUs * 9) / 100);
    const ts = u.dtsUs === undefined ? pts : Math.round((u.dtsUs * 9) / 100);
    const packets = rtp.packetize(muxPs({ data: u.data, keyframe: u.keyframe, pts90k: pts, dts90k: ts }), ts);
    s.sender.send(packets);
    if (s.packets === 0) {
      s.firstPacketMs = performance.now() - s.invitedAt;
      this.o.onFirstPacket?.(s.channelId, s.firstPacketMs);
    }
    s.packets += packets.length;
    s.frames++;
  }

  /** The recording is out to its last frame: MediaStatus 121 in the dialog, then the platform's BYE is awaited. */
  private async fileEnded(s: Session): Promise<void> {
    if (s.ended) return;
    s.fileEnded = true;
    this.o.log.info({ channel: s.channelId, callId: s.callId, kind: s.kind, frames: s.frames, packets: s.packets }, 'recording sent to its end: MediaStatus 121');
    const body = manscdp('Notify', [['CmdType', 'MediaStatus'], ['SN', this.o.sn()], ['DeviceID', s.channelId], ['NotifyType', 121]]);
    s.endTimer = setTimeout(() => void this.end(s, `no BYE within ${BYE_AFTER_END_MS / 1000} s of the end of the recording`, true), BYE_AFTER_END_MS);
    try {
      const { response } = await this.sip.request({ method: 'MESSAGE', uri: s.target, to: s.remoteUri, toTag: s.remoteTag, fromTag: s.localTag, callId: s.callId, cseq: ++s.cseq + 100, body, timeoutMs: 10_000 });
      if (response.status >= 300) this.o.log.warn({ status: response.status, callId: s.callId }, 'platform refused the MediaStatus');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, callId: s.callId }, 'MediaStatus not acknowledged by the platform');
    }
  }

  private ack(req: SipRequest): void {
    const s = this.sessions.get(`${header(req, 'call-id')}|${headerParam(header(req, 'from') ?? '', 'tag') ?? ''}`);
    if (!s || s.acked) return;
    s.acked = true;
    clearTimeout(s.ackTimer);
    s.onAck?.();
  }

  private bye(req: SipRequest, from: Peer): void {
    const s = this.sessions.get(`${header(req, 'call-id')}|${headerParam(header(req, 'from') ?? '', 'tag') ?? ''}`);
    if (!s) {
      this.o.log.warn({ callId: header(req, 'call-id') }, 'BYE for no session');
      this.sip.reply(req, from, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    this.sip.reply(req, from, 200, 'OK');
    void this.end(s, 'BYE from the platform', false);
  }

  /** Ends a session; `bye`: tell the platform (the device ends it). */
  private async end(s: Session, why: string, bye: boolean): Promise<void> {
    if (s.ended) return;
    s.ended = true;
    this.sessions.delete(s.key);
    clearTimeout(s.ackTimer);
    clearTimeout(s.endTimer);
    s.player?.stop();
    s.sender?.close();
    await s.leave?.();
    const log = bye && !s.fileEnded ? this.o.log.warn.bind(this.o.log) : this.o.log.info.bind(this.o.log);
    const what = s.kind === 'Play' ? 'live video' : s.kind.toLowerCase();
    log({ channel: s.channelId, callId: s.callId, packets: s.packets, frames: s.frames, ...(s.player ? { complete: !!s.fileEnded } : {}), why }, `${what} session ended`);
    if (bye && s.acked) {
      await this.sip
        .request({ method: 'BYE', uri: s.target, to: s.remoteUri, toTag: s.remoteTag, fromTag: s.localTag, callId: s.callId, cseq: ++s.cseq + 100, timeoutMs: 5000 })
        .catch((err: Error) => this.o.log.warn({ err: err.message, callId: s.callId }, 'BYE not answered'));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.end(s, 'device stopping', true)));
  }
}
