import type { Logger } from 'pino';
import type { Fix } from '../../protocol/fix.js';
import { header, headerParam, headerUri, type SipRequest } from './sip-message.js';
import { newTag } from './sip-ids.js';
import type { SipEndpoint } from './sip-endpoint.js';
import type { Peer } from './sip-transport.js';
import type { ChannelSource, GbChannel } from './channel-source.js';
import { childText, gbTime, manscdp, type XmlNode } from './manscdp-xml.js';

const DEFAULT_INTERVAL_S = 5;
const DEFAULT_EXPIRES_S = 3600;

interface Subscription {
  callId: string;
  localTag: string;
  remote: string;
  remoteTag: string;
  target: string;
  event: string;
  cseq: number;
  intervalS: number;
  expiresAtMs: number;
  /** Which channels: the device id (all) or one channel id. */
  scope: string;
  interval?: NodeJS.Timeout;
  expiry?: NodeJS.Timeout;
  /** Time of the last fix sent per channel: only newer fixes go out. */
  sent: Map<string, number>;
}

/**
 * Mobile position (GB/T 28181-2016 §9.11, A.2.5): the platform subscribes
 * (SUBSCRIBE, Event: presence, a MobilePosition query with Interval) and the
 * device sends a NOTIFY every Interval seconds for every channel that has a
 * fix newer than the last one sent (a camera without a fix sends nothing:
 * no position is ever made up or repeated). A refresh (SUBSCRIBE in the
 * dialog) changes the interval and expiry; Expires: 0 or expiry ends it with
 * a terminated NOTIFY. The MESSAGE query form gets one answer per channel.
 */
export class MobilePositions {
  private readonly subs = new Map<string, Subscription>();

  constructor(
    private readonly sip: SipEndpoint,
    private readonly o: { deviceId: string; source: ChannelSource; sn: () => number; log: Logger },
  ) {}

  get count(): number {
    return this.subs.size;
  }

  onSubscribe(req: SipRequest, from: Peer, query: XmlNode | undefined): void {
    const callId = header(req, 'call-id')!;
    const existing = this.subs.get(callId);
    const expiresS = Math.max(0, Number(header(req, 'expires') ?? DEFAULT_EXPIRES_S) || 0);
    const intervalS = Math.max(1, Number(query ? childText(query, 'Interval') : undefined) || existing?.intervalS || DEFAULT_INTERVAL_S);
    const scope = (query ? childText(query, 'DeviceID') : undefined) ?? existing?.scope ?? this.o.deviceId;
    if (!existing && !this.known(scope)) {
      this.o.log.warn({ deviceId: scope }, 'MobilePosition subscription for an unknown device or channel');
      this.sip.reply(req, from, 404, 'Not Found', { headers: [['Warning', `399 ${this.o.deviceId} "unknown device or channel ${scope}"`]] });
      return;
    }
    const localTag = existing?.localTag ?? newTag();
    this.sip.reply(req, from, 200, 'OK', { toTag: localTag, headers: [['Expires', String(expiresS)], ['Contact', this.sip.contact]] });
    const sub: Subscription = existing ?? {
      callId,
      localTag,
      remote: headerUri(header(req, 'from')!),
      remoteTag: headerParam(header(req, 'from')!, 'tag') ?? '',
      target: headerUri(header(req, 'contact') ?? header(req, 'from')!),
      event: header(req, 'event') ?? 'presence',
      cseq: 0,
      intervalS,
      expiresAtMs: 0,
      scope,
      sent: new Map(),
    };
    sub.intervalS = intervalS;
    sub.expiresAtMs = Date.now() + expiresS * 1000;
    this.subs.set(callId, sub);
    this.o.log.info({ callId, intervalS, expiresS, scope, refresh: Boolean(existing) }, expiresS === 0 ? 'MobilePosition subscription ended by the platform' : 'MobilePosition subscription');
    clearInterval(sub.interval);
    clearTimeout(sub.expiry);
    if (expiresS === 0) {
      void this.end(sub, 'terminated');
      return;
    }
    sub.interval = setInterval(() => void this.notifyAll(sub), intervalS * 1000);
    sub.expiry = setTimeout(() => void this.end(sub, 'terminated;reason=timeout'), expiresS * 1000);
    void this.notifyAll(sub);
  }

  /** The MESSAGE query form: one MobilePosition notification per channel that has a fix. */
  async onQuery(query: XmlNode): Promise<void> {
    const scope = childText(query, 'DeviceID') ?? this.o.deviceId;
    for (const ch of this.channels(scope)) {
      if (!ch.fix) continue;
      await this.sip.request({ method: 'MESSAGE', body: this.body(ch, ch.fix), timeoutMs: 10_000 }).catch((err: Error) => {
        this.o.log.warn({ err: err.message, channel: ch.channelId }, 'MobilePosition answer not acknowledged');
      });
    }
  }

  private known(scope: string): boolean {
    return scope === this.o.deviceId || this.o.source.channels().some((c) => c.channelId === scope);
  }

  private channels(scope: string): GbChannel[] {
    const all = this.o.source.channels();
    return scope === this.o.deviceId ? all : all.filter((c) => c.channelId === scope);
  }

  private body(ch: GbChannel, fix: Fix): Buffer {
    return manscdp('Notify', [
      ['CmdType', 'MobilePosition'],
      ['SN', this.o.sn()],
      ['DeviceID', ch.channelId],
      ['Time', gbTime(fix.timeMs)],
      ['Longitude', fix.lon.toFixed(7)],
      ['Latitude', fix.lat.toFixed(7)],
      ['Speed', fix.speed === undefined ? undefined : (fix.speed * 3.6).toFixed(1)],
      ['Direction', fix.course === undefined ? undefined : fix.course.toFixed(1)],
      ['Altitude', fix.alt === undefined ? undefined : fix.alt.toFixed(1)],
    ]);
  }

  private async notifyAll(sub: Subscription): Promise<void> {
    for (const ch of this.channels(sub.scope)) {
      const fix = ch.fix;
      if (!fix || (sub.sent.get(ch.channelId) ?? -Infinity) >= fix.timeMs) continue;
      sub.sent.set(ch.channelId, fix.timeMs);
      const remainingS = Math.max(0, Math.round((sub.expiresAtMs - Date.now()) / 1000));
      const ok = await this.notify(sub, `active;expires=${remainingS}`, this.body(ch, fix));
      if (!ok) return;
    }
  }

  private async notify(sub: Subscription, state: string, body?: Buffer): Promise<boolean> {
    try {
      const { response } = await this.sip.request({
        method: 'NOTIFY',
        uri: sub.target,
        to: sub.remote,
        toTag: sub.remoteTag,
        fromTag: sub.localTag,
        callId: sub.callId,
        cseq: ++sub.cseq,
        headers: [['Event', sub.event], ['Subscription-State', state], ['Contact', this.sip.contact]],
        body,
        timeoutMs: 10_000,
      });
      if (response.status === 481 || response.status === 404) {
        this.o.log.info({ callId: sub.callId, status: response.status }, 'MobilePosition subscription gone on the platform: dropped');
        this.drop(sub);
        return false;
      }
      return true;
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, callId: sub.callId }, 'MobilePosition NOTIFY not acknowledged');
      return true;
    }
  }

  private async end(sub: Subscription, state: string): Promise<void> {
    this.drop(sub);
    await this.notify(sub, state);
  }

  private drop(sub: Subscription): void {
    clearInterval(sub.interval);
    clearTimeout(sub.expiry);
    this.subs.delete(sub.callId);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.subs.values()].map((s) => this.end(s, 'terminated;reason=noresource')));
  }
}
