import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { header, headerParam, headers } from './sip-message.js';
import { newTag } from './sip-ids.js';
import type { SipEndpoint } from './sip-endpoint.js';
import { SipTimeoutError } from './sip-transactions.js';
import { manscdp, parseGbTime } from './manscdp-xml.js';

export type RegistrationState = 'unregistered' | 'registering' | 'registered' | 'refused' | 'offline';

export interface RegistrarOptions {
  deviceId: string;
  expiresS: number;
  keepaliveS: number;
  keepaliveRetries: number;
  /** Next serial number of a MANSCDP notification. */
  sn: () => number;
  log: Logger;
  /** Wait before registering again after a refusal (403, wrong credentials) or a failure. */
  retryMs?: number;
}

/**
 * Registration with the platform (GB/T 28181 §9.1) and the keepalive that
 * shows the device is alive (§9.6):
 * - REGISTER (one Call-ID and From tag for the whole registration, CSeq
 *   rising), answering the 401 digest challenge; refreshed at half the
 *   expiry granted; Expires: 0 on stop;
 * - 403, or a second 401 (wrong password): logged, tried again after retryMs;
 * - the Date of the 200 OK is reported (event 'clock'), never applied: the
 *   camera clocks follow GNSS time;
 * - a Keepalive MESSAGE every keepaliveS; keepaliveRetries unanswered in a
 *   row mean the platform lost the device: state 'offline', register again.
 * Emits 'state' (state, detail) and 'clock' ({ platformDate, offsetMs }).
 */
export class RegistrarClient extends EventEmitter {
  state: RegistrationState = 'unregistered';
  private regCallId: string | undefined;
  private readonly fromTag = newTag();
  private cseq = 0;
  private timer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private misses = 0;
  private stopped = false;
  private inFlight: Promise<void> | undefined;
  registrations = 0;

  constructor(
    private readonly sip: SipEndpoint,
    private readonly o: RegistrarOptions,
  ) {
    super();
  }

  start(): void {
    this.stopped = false;
    void this.register();
  }

  private setState(s: RegistrationState, detail?: Record<string, unknown>): void {
    this.state = s;
    this.emit('state', s, detail ?? {});
  }

  /** One registration attempt; schedules what comes next (refresh, retry). */
  register(): Promise<void> {
    this.inFlight ??= this.registerOnce().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async registerOnce(): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.stopKeepalive();
    this.setState('registering');
    const retryMs = this.o.retryMs ?? 30_000;
    try {
      const sent = await this.sendRegister(this.o.expiresS);
      const res = sent.response;
      if (this.stopped) return;
      if (res.status >= 200 && res.status < 300) {
        const granted = grantedExpiry(res, this.o.expiresS);
        this.registrations++;
        this.misses = 0;
        this.setState('registered', { expiresS: granted });
        this.o.log.info({ expiresS: granted, server: this.sip.serverUri }, 'registered with the GB/T 28181 platform');
        this.reportDate(header(res, 'date'));
        this.timer = setTimeout(() => void this.register(), (granted * 1000) / 2);
        this.startKeepalive();
        return;
      }
      const refused = res.status === 403 || res.status === 401 || res.status === 407;
      const why = res.status === 403 ? 'the platform refused the device (403 Forbidden): check gb28181.deviceId and the password on both sides'
        : refused ? `the platform did not accept the credentials (${res.status} after a digest answer): check gb28181.passwordFile`
          : `the platform answered ${res.status} ${res.reason}`;
      this.o.log.error({ status: res.status, reason: res.reason, retryInS: retryMs / 1000 }, `registration failed: ${why}`);
      this.setState(refused ? 'refused' : 'unregistered', { status: res.status, reason: why });
    } catch (err) {
      if (this.stopped) return;
      const why = err instanceof SipTimeoutError ? 'no answer from the platform' : (err as Error).message;
      this.o.log.warn({ err: why, retryInS: retryMs / 1000 }, 'registration failed');
      this.setState('unregistered', { reason: why });
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.register(), retryMs);
  }

  private sendRegister(expiresS: number) {
    return this.sip
      .request({
        method: 'REGISTER',
        uri: `sip:${this.sip.o.serverId}@${this.sip.o.domain}`,
        to: this.sip.localUri,
        fromTag: this.fromTag,
        callId: this.regCallId,
        cseq: ++this.cseq,
        headers: [['Contact', this.sip.contact], ['Expires', String(expiresS)]],
        authenticate: true,
        timeoutMs: 10_000,
      })
      .then((sent) => {
        this.regCallId = sent.callId;
        this.cseq = sent.cseq;
        return sent;
      });
  }

  private reportDate(date: string | undefined): void {
    if (!date) return;
    const ms = parseGbTime(date) ?? Date.parse(date);
    const offsetMs = Number.isFinite(ms) ? ms - Date.now() : undefined;
    this.o.log.info({ platformDate: date, offsetMs }, 'platform clock from the 200 OK (reported, not applied)');
    this.emit('clock', { platformDate: date, offsetMs });
  }

  private startKeepalive(): void {
    this.stopKeepalive();
    const tick = () => {
      void this.keepalive();
      this.keepaliveTimer = setTimeout(tick, this.o.keepaliveS * 1000);
    };
    this.keepaliveTimer = setTimeout(tick, this.o.keepaliveS * 1000);
  }

  private stopKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private async keepalive(): Promise<void> {
    const body = manscdp('Notify', [['CmdType', 'Keepalive'], ['SN', this.o.sn()], ['DeviceID', this.o.deviceId], ['Status', 'OK']]);
    let ok = false;
    let why = '';
    try {
      // Unanswered when the next one is due (or Timer F, whichever is first).
      const { response } = await this.sip.request({ method: 'MESSAGE', body, timeoutMs: Math.min(32_000, this.o.keepaliveS * 1000) });
      ok = response.status >= 200 && response.status < 300;
      why = `${response.status} ${response.reason}`;
    } catch (err) {
      why = (err as Error).message;
    }
    if (this.stopped || this.state !== 'registered') return;
    if (ok) {
      this.misses = 0;
      return;
    }
    this.misses++;
    this.o.log.warn({ misses: this.misses, of: this.o.keepaliveRetries, why }, 'keepalive not answered');
    if (this.misses >= this.o.keepaliveRetries) {
      this.o.log.error({ misses: this.misses }, 'platform lost: keepalives unanswered; registering again');
      this.setState('offline', { misses: this.misses });
      void this.register();
    }
  }

  /** Unregister (Expires: 0), waiting at most timeoutMs for the answer. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopKeepalive();
    if (this.state !== 'registered') {
      this.setState('unregistered');
      return;
    }
    try {
      const unregister = this.sendRegister(0);
      const res = await Promise.race([unregister, new Promise<undefined>((r) => setTimeout(r, timeoutMs))]);
      this.o.log.info({ status: res?.response.status }, res ? 'unregistered from the GB/T 28181 platform' : 'unregister not answered in time');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'unregister failed');
    }
    this.setState('unregistered');
  }
}

/** Expires of the 200 OK, else the contact's expires param, else what was asked. */
function grantedExpiry(res: Parameters<typeof header>[0], asked: number): number {
  const e = header(res, 'expires');
  if (e && /^\d+$/.test(e.trim())) return Math.max(1, Number(e));
  for (const c of headers(res, 'contact')) {
    const p = headerParam(c, 'expires');
    if (p && /^\d+$/.test(p)) return Math.max(1, Number(p));
  }
  return asked;
}
