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

/** Timer H of RFC 3261: a 200 OK never ACKed ends the session. */
const ACK_TIMEOUT_MS = 32_000;
/** A viewer further behind than this (TCP) loses frames up to the next keyframe. */
const MAX_BACKLOG = 2_000_000;

interface Session {
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
  log: Logger;
  /** Told when a session sends its first packet: ms since its INVITE arrived (the benchmark's figure). */
  onFirstPacket?: (channelId: string, ms: number) => void;
}

/**
 * Live video sessions (GB/T 28181 §9.2 real-time play): INVITE with s=Play →
 * 200 OK with the SDP answer; after the ACK the channel's H.264 goes out as
 * PS over RTP to the address of the offer (UDP, or TCP in the role the offer
 * asks for) with the SSRC of its y= line, from a keyframe on; BYE ends it.
 * The device ends a session (with a BYE) when the viewer cannot be reached
 * or the camera's video stops. Every refusal is a SIP error with a Warning
 * and a log line.
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
  stats(): Array<{ channelId: string; packets: number; frames: number; firstPacketMs?: number }> {
    return [...this.sessions.values()].map((s) => ({ channelId: s.channelId, packets: s.packets, frames: s.frames, firstPacketMs: s.firstPacketMs }));
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
    if (!ch.online) return this.refuse(req, from, 480, 'Temporarily Unavailable', `channel ${channelId} (${ch.deviceId}) is offline`);
    let offer: GbOffer;
    try {
      offer = parseOffer(req.body.toString('utf8'));
    } catch (err) {
      return this.refuse(req, from, 488, 'Not Acceptable Here', err instanceof SdpError ? `SDP: ${err.message}` : 'SDP unreadable');
    }
    if (offer.session.toLowerCase() !== 'play') return this.refuse(req, from, 488, 'Not Acceptable Here', `s=${offer.session} is not supported (Play only)`);
    if (!offer.payloadTypes.includes(96)) return this.refuse(req, from, 488, 'Not Acceptable Here', 'the offer has no payload type 96 (PS)');
    const video = this.o.videoFor(ch.deviceId);
    if (!video) return this.refuse(req, from, 503, 'Service Unavailable', `camera ${ch.deviceId} has no video source`);
    if (this.sessions.size >= this.o.maxSessions) return this.refuse(req, from, 486, 'Busy Here', `${this.sessions.size} live sessions already (the most this device serves)`);

    this.sip.reply(req, from, 100, 'Trying');
    const s: Session = {
      key, callId, localTag: newTag(), remoteTag,
      remoteUri: headerUri(header(req, 'from')!),
      target: headerUri(header(req, 'contact') ?? header(req, 'from')!),
      channelId, cseq: 0, acked: false, ended: false, packets: 0, frames: 0, invitedAt,
    };
    this.sessions.set(key, s);
    const gone = (why: string) => void this.end(s, why, true);
    try {
      s.sender = offer.transport === 'UDP'
        ? await openUdpSender({ host: offer.host, port: offer.port, localHost: this.o.localHost, gone })
        : offer.setup === 'passive'
          ? await openTcpActiveSender({ host: offer.host, port: offer.port, localHost: this.o.localHost, gone })
          : await openTcpPassiveSender({ localHost: this.o.localHost, gone });
      const rtp = new RtpPacketizer(Number(offer.ssrc));
      let waitKey = false;
      s.leave = await this.o.hub.join(ch.deviceId, video, (u) => {
        if (!s.acked || s.ended || !s.sender) return;
        // A slow TCP viewer skips to the next keyframe rather than fall ever further behind.
        if (s.sender.backlog > MAX_BACKLOG) waitKey = true;
        if (waitKey && !u.keyframe) return;
        waitKey = false;
        const ts = Math.round((u.ptsUs * 9) / 100);
        const packets = rtp.packetize(muxPs({ data: u.data, keyframe: u.keyframe, pts90k: ts }), ts);
        s.sender.send(packets);
        if (s.packets === 0) {
          s.firstPacketMs = performance.now() - s.invitedAt;
          this.o.onFirstPacket?.(s.channelId, s.firstPacketMs);
        }
        s.packets += packets.length;
        s.frames++;
      }, (reason) => void this.end(s, `video source ended: ${reason}`, true));
    } catch (err) {
      this.sessions.delete(key);
      s.sender?.close();
      return this.refuse(req, from, 503, 'Service Unavailable', `cannot start the stream: ${(err as Error).message}`);
    }
    if (s.ended) return;
    const body = Buffer.from(answerSdp({ deviceId: channelId, host: this.o.advertisedHost(), port: s.sender.localPort, offer }));
    this.sip.reply(req, from, 200, 'OK', { toTag: s.localTag, body, contentType: 'application/sdp', headers: [['Contact', this.sip.contact]] });
    s.ackTimer = setTimeout(() => void this.end(s, 'no ACK for the 200 OK', false), ACK_TIMEOUT_MS);
    this.o.log.info({ channel: channelId, device: ch.deviceId, to: `${offer.transport}${offer.setup ? `-${offer.setup === 'passive' ? 'active' : 'passive'}` : ''} ${offer.host}:${offer.port}`, ssrc: offer.ssrc, callId }, 'live video session answered');
  }

  private ack(req: SipRequest): void {
    const s = this.sessions.get(`${header(req, 'call-id')}|${headerParam(header(req, 'from') ?? '', 'tag') ?? ''}`);
    if (!s) return;
    s.acked = true;
    clearTimeout(s.ackTimer);
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
    s.sender?.close();
    await s.leave?.();
    const log = bye ? this.o.log.warn.bind(this.o.log) : this.o.log.info.bind(this.o.log);
    log({ channel: s.channelId, callId: s.callId, packets: s.packets, frames: s.frames, why }, 'live video session ended');
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
