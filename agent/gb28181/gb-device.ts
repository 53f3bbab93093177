import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { header, type SipRequest } from './sip-message.js';
import { SipEndpoint } from './sip-endpoint.js';
import { SipTransport, type Peer } from './sip-transport.js';
import { RegistrarClient } from './registrar-client.js';
import { MobilePositions } from './mobile-position.js';
import { channelName, type ChannelSource } from './channel-source.js';
import { catalogAnswers, deviceInfoAnswer, deviceStatusAnswer, recordInfoAnswers, type DeviceIdentity } from './manscdp-answers.js';
import type { VideoSource } from '../../drivers/video/video-source.js';
import { MediaSessions } from './media-sessions.js';
import { VideoHub } from './video-hub.js';
import { childText, decodeBody, gbTime, manscdp, ManscdpError, parseGbTime, parseXml, type XmlNode } from './manscdp-xml.js';

export interface GbDeviceOptions {
  server: { id: string; domain: string; host: string; port: number; transport: 'UDP' | 'TCP' };
  deviceId: string;
  password?: string;
  localHost: string;
  localPort: number;
  advertisedHost?: string;
  registerExpiresS: number;
  keepaliveS: number;
  keepaliveRetries: number;
  manufacturer: string;
  civilCode?: string;
  /** Shown as the device name (the agent id). */
  name: string;
  source: ChannelSource;
  log: Logger;
  retryMs?: number;
  /** The video of a camera for live sessions; without it every INVITE is refused (488). */
  videoFor?: (deviceId: string) => VideoSource | undefined;
  /** Media sessions at once (live, playback, download), all channels together. */
  maxLiveSessions?: number;
  /** Frame rate and bitrate asked of the camera for live sessions. */
  liveFps?: number;
  liveKbps?: number;
}


/**
 * The agent as a GB/T 28181 device: registers and keeps alive, answers the
 * platform's MESSAGE queries (Catalog, DeviceInfo, DeviceStatus, RecordInfo,
 * MobilePosition), keeps MobilePosition subscriptions, raises SOS as an
 * Alarm notification, and hands INVITE/BYE to the media side. Every request
 * it cannot serve gets a SIP error and a log line; nothing here throws into
 * the agent.
 */
export class GbDevice extends EventEmitter {
  readonly transport: SipTransport;
  readonly sip: SipEndpoint;
  readonly registrar: RegistrarClient;
  readonly positions: MobilePositions;
  private snCounter = 1;
  private stopped = false;
  private offSos: (() => void) | undefined;
  readonly media: MediaSessions | undefined;
  readonly hub: VideoHub | undefined;
  private readonly identity: DeviceIdentity;
  readonly log: Logger;

  constructor(readonly o: GbDeviceOptions) {
    super();
    this.log = o.log;
    this.transport = new SipTransport({
      transport: o.server.transport,
      server: { host: o.server.host, port: o.server.port },
      localHost: o.localHost,
      localPort: o.localPort,
      advertisedHost: o.advertisedHost,
      log: o.log,
    });
    this.sip = new SipEndpoint(this.transport, { deviceId: o.deviceId, domain: o.server.domain, serverId: o.server.id, password: o.password, log: o.log });
    this.registrar = new RegistrarClient(this.sip, {
      deviceId: o.deviceId,
      expiresS: o.registerExpiresS,
      keepaliveS: o.keepaliveS,
      keepaliveRetries: o.keepaliveRetries,
      sn: () => this.sn(),
      log: o.log,
      retryMs: o.retryMs,
    });
    this.registrar.on('state', (s, d) => this.emit('state', s, d));
    this.positions = new MobilePositions(this.sip, { deviceId: o.deviceId, source: o.source, sn: () => this.sn(), log: o.log });
    this.identity = { deviceId: o.deviceId, manufacturer: o.manufacturer, civilCode: o.civilCode ?? o.deviceId.slice(0, 6), name: o.name };
    if (o.videoFor) {
      this.hub = new VideoHub({ log: o.log, fps: o.liveFps ?? 25, maxKbps: o.liveKbps ?? 1000 });
      this.media = new MediaSessions(this.sip, {
        deviceId: o.deviceId,
        source: o.source,
        videoFor: o.videoFor,
        hub: this.hub,
        localHost: o.localHost,
        advertisedHost: () => this.transport.advertisedHost,
        maxSessions: o.maxLiveSessions ?? 8,
        sn: () => this.sn(),
        log: o.log,
        onFirstPacket: (channelId, ms) => this.emit('first-rtp', channelId, ms),
      });
    }
    this.sip.onRequestHandler((req, from) => this.onRequest(req, from));
  }

  sn(): number {
    return this.snCounter++;
  }

  async start(): Promise<void> {
    await this.transport.open();
    this.log.info({ local: `${this.transport.advertisedHost}:${this.transport.localPort}`, server: `${this.o.server.host}:${this.o.server.port}`, transport: this.o.server.transport }, 'GB/T 28181 device started');
    this.offSos = this.o.source.onSos((deviceId) => void this.alarm(deviceId));
    this.registrar.start();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.offSos?.();
    await this.positions.stop().catch(() => {});
    await this.media?.stop().catch(() => {});
    await this.registrar.stop();
    this.sip.close();
    await this.transport.close();
  }

  private onRequest(req: SipRequest, from: Peer): void {
    switch (req.method) {
      case 'MESSAGE':
        return this.onMessage(req, from);
      case 'SUBSCRIBE':
        return this.onSubscribe(req, from);
      case 'OPTIONS':
        this.sip.reply(req, from, 200, 'OK', { headers: [['Allow', 'INVITE, ACK, BYE, CANCEL, MESSAGE, SUBSCRIBE, NOTIFY, OPTIONS, INFO']] });
        return;
      case 'INVITE':
      case 'ACK':
      case 'BYE':
      case 'CANCEL':
      case 'INFO':
        if (this.media) return this.media.handle(req, from);
        if (req.method === 'ACK') return;
        this.log.warn({ method: req.method }, 'media request refused: live video is not enabled');
        this.sip.reply(req, from, req.method === 'INVITE' ? 488 : 481, req.method === 'INVITE' ? 'Not Acceptable Here' : 'Call/Transaction Does Not Exist');
        return;
      default:
        this.log.warn({ method: req.method }, 'SIP method not supported');
        this.sip.reply(req, from, 501, 'Not Implemented', { headers: [['Allow', 'INVITE, ACK, BYE, CANCEL, MESSAGE, SUBSCRIBE, NOTIFY, OPTIONS, INFO']] });
    }
  }

  /** The MANSCDP body of a request, or a 400 (with the reason) already sent. */
  private body(req: SipRequest, from: Peer): XmlNode | undefined {
    if (req.body.length === 0) {
      this.bad(req, from, 400, 'Bad Request', 'empty MANSCDP body');
      return undefined;
    }
    try {
      return parseXml(decodeBody(req.body));
    } catch (err) {
      this.bad(req, from, 400, 'Bad Request', err instanceof ManscdpError ? err.message : `unreadable body: ${(err as Error).message}`);
      return undefined;
    }
  }

  private bad(req: SipRequest, from: Peer, status: number, reason: string, why: string): void {
    this.log.warn({ method: req.method, status, why, callId: header(req, 'call-id') }, 'request refused');
    this.sip.reply(req, from, status, reason, { headers: [['Warning', `399 ${this.o.deviceId} "${why.replace(/"/g, "'")}"`]] });
  }

  private onMessage(req: SipRequest, from: Peer): void {
    const doc = this.body(req, from);
    if (!doc) return;
    const cmd = childText(doc, 'CmdType') ?? '';
    const sn = childText(doc, 'SN') ?? '';
    const target = childText(doc, 'DeviceID') ?? '';
    if (doc.name === 'Response' || doc.name === 'Notify') {
      // Answers to our notifications (the platform's Alarm response): acknowledged, nothing else to do.
      this.sip.reply(req, from, 200, 'OK');
      return;
    }
    const known = ['Catalog', 'DeviceInfo', 'DeviceStatus', 'RecordInfo', 'MobilePosition'];
    if (doc.name !== 'Query' || !known.includes(cmd)) {
      this.bad(req, from, 400, 'Bad Request', doc.name !== 'Query' ? `${doc.name} ${cmd} is not supported` : `CmdType ${JSON.stringify(cmd)} is not supported`);
      return;
    }
    const channel = this.o.source.channels().find((c) => c.channelId === target);
    if (target !== this.o.deviceId && !channel) {
      this.bad(req, from, 404, 'Not Found', `unknown device or channel ${target}`);
      return;
    }
    this.sip.reply(req, from, 200, 'OK');
    this.emit('query', cmd, sn);
    void this.answer(cmd, sn, target, doc).catch((err: Error) => this.log.warn({ err: err.message, cmd, sn }, 'query answer failed'));
  }

  private async answer(cmd: string, sn: string, target: string, q: XmlNode): Promise<void> {
    const channels = this.o.source.channels();
    let docs: Array<Parameters<typeof manscdp>[1]>;
    switch (cmd) {
      case 'Catalog':
        docs = catalogAnswers(this.identity, sn, target === this.o.deviceId ? channels : channels.filter((c) => c.channelId === target));
        break;
      case 'DeviceInfo':
        docs = [deviceInfoAnswer(this.identity, sn, channels.length)];
        break;
      case 'DeviceStatus':
        docs = [deviceStatusAnswer(target, sn, channels.find((c) => c.channelId === target), Date.now())];
        break;
      case 'RecordInfo': {
        const ch = channels.find((c) => c.channelId === target);
        const fromMs = parseGbTime(childText(q, 'StartTime') ?? '') ?? 0;
        const toMs = parseGbTime(childText(q, 'EndTime') ?? '') ?? Date.now();
        const recs = ch ? await this.o.source.recordings(ch.deviceId, { fromMs, toMs }).catch((err: Error) => {
          this.log.warn({ err: err.message, device: ch.deviceId }, 'recordings not readable: answering an empty list');
          return [];
        }) : [];
        docs = recordInfoAnswers(target, sn, ch ? channelName(ch) : this.o.name, recs);
        break;
      }
      case 'MobilePosition':
        return this.positions.onQuery(q);
      default:
        return;
    }
    for (const children of docs) {
      const { response } = await this.sip.request({ method: 'MESSAGE', body: manscdp('Response', children), timeoutMs: 10_000 });
      if (response.status >= 300) this.log.warn({ cmd, sn, status: response.status }, 'platform refused the query answer');
    }
    this.emit('answered', cmd, sn);
  }

  private onSubscribe(req: SipRequest, from: Peer): void {
    const event = (header(req, 'event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (event !== 'presence') {
      this.bad(req, from, 489, 'Bad Event', `event package ${JSON.stringify(event)} is not supported (presence only)`);
      return;
    }
    let q: XmlNode | undefined;
    if (req.body.length > 0) {
      q = this.body(req, from);
      if (!q) return;
      const cmd = childText(q, 'CmdType');
      if (cmd !== 'MobilePosition') {
        this.bad(req, from, 400, 'Bad Request', `subscription to CmdType ${JSON.stringify(cmd)} is not supported (MobilePosition only)`);
        return;
      }
    }
    this.positions.onSubscribe(req, from, q);
  }

  /** SOS of a camera: a GB/T 28181 Alarm notification (A.2.5.5) with the camera's last position. */
  async alarm(deviceId: string): Promise<void> {
    const ch = this.o.source.channels().find((c) => c.deviceId === deviceId);
    if (!ch) return;
    const now = Date.now();
    const body = manscdp('Notify', [
      ['CmdType', 'Alarm'],
      ['SN', this.sn()],
      ['DeviceID', ch.channelId],
      ['AlarmPriority', 1],
      // 7: other alarm (an officer's SOS button is none of the device, video or GPS alarm kinds).
      ['AlarmMethod', 7],
      ['AlarmTime', gbTime(now)],
      ['AlarmDescription', `SOS ${channelName(ch)}`],
      ['Longitude', ch.fix?.lon.toFixed(7)],
      ['Latitude', ch.fix?.lat.toFixed(7)],
    ]);
    this.log.info({ device: deviceId, channel: ch.channelId }, 'SOS sent to the GB/T 28181 platform as an Alarm');
    try {
      const { response } = await this.sip.request({ method: 'MESSAGE', body, timeoutMs: 10_000 });
      if (response.status >= 300) this.log.warn({ status: response.status }, 'platform refused the Alarm');
    } catch (err) {
      this.log.warn({ err: (err as Error).message, device: deviceId }, 'Alarm not acknowledged by the platform');
    }
  }
}
