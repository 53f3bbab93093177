import type { Logger } from 'pino';
import type { Fix } from '../protocol/fix.js';
import { describeError } from '../common/errors.js';
import { encodeBody } from '../protocol/codec.js';
import { NmeaDecoder } from '../drivers/nmea/nmea-decoder.js';
import type { Epoch, GnssSummary } from '../drivers/nmea/types.js';
import { openTransport, parsePortSpec, type Transport } from '../drivers/transport/index.js';
import { Backoff } from '../drivers/transport/index.js';
import { openReferenceCamera } from '../drivers/camera/reference-driver.js';
import { shownIdentity } from '../drivers/camera/identity-rules.js';
import type { CameraDriver, CameraIdentity, CameraNotification, CameraStatus, RecordingState } from '../drivers/camera/camera-driver.js';
import { FixFilter, type Discontinuity, type FieldBounds } from './pipeline/fix-filter.js';
import { ReportingPolicy } from './pipeline/reporting-policy.js';
import { ClockSkew } from './pipeline/clock-skew.js';
import type { NewMessage } from './buffer/message-buffer.js';
import { encodeFixPayload } from './fix-payload.js';
import { buildStatusBody, eventBody, positionOf, type EventName } from './device-messages.js';
import type { AgentMetrics } from './metrics/agent-metrics.js';

/** The reference control protocol runs at 115200 8N1 (drivers/camera/README.md). */
const CONTROL_BAUD = 115_200;

export interface DeviceSettings {
  id: string;
  gnss?: string;
  baud?: number | 'auto';
  control?: string;
  profile: 'foot' | 'vehicle';
}

export interface DeviceRuntimeDeps {
  log: Logger;
  metrics: AgentMetrics;
  /** Writes messages to the buffer (assigning seq) and wakes the publisher. */
  write: (msgs: NewMessage[]) => void;
  filter: { minMode: 2 | 3; maxHdop: number; maxSpeedMps: number; bounds?: FieldBounds };
  /** Named in discontinuity events (the speed limit a jump broke). */
  profile?: string;
  reporting: ConstructorParameters<typeof ReportingPolicy>[0];
  reconnect: { minMs: number; maxMs: number; factor: number };
  statusIntervalMs: number;
  lowBatteryPct: number;
  /** How long a control-channel request may take. */
  controlTimeoutMs: number;
  /** Messages of this device the buffer dropped to stay within its bounds (reported in status). */
  bufferDropped?: () => number;
  /** Told of every event written (the GB/T 28181 device raises SOS as an alarm). */
  onEvent?: (deviceId: string, name: EventName) => void;
  /** The agent's id, carried by every status (its retained state decides availability). */
  agentId: string;
  /** Fixes of this device lost off the buffer's memory ring while the disk was full. */
  ringLost?: () => number;
}

/**
 * One camera: its GNSS port and its control channel, each reopened with
 * exponential backoff and jitter when it goes away (the drivers never retry:
 * a transport is single-use). Fixes pass the filter and the reporting policy
 * and are written to the buffer; camera notifications become events; status
 * is written on change and every statusIntervalMs.
 */
export class DeviceRuntime {
  private stopped = false;
  private gnssTransport: Transport | undefined;
  private controlTransport: Transport | undefined;
  camera: CameraDriver | undefined;
  identity: CameraIdentity | undefined;
  cameraStatus: CameraStatus | undefined;
  private readonly filter: FixFilter;
  private readonly policy: ReportingPolicy;
  readonly skew = new ClockSkew();
  private gnss: GnssSummary = { mode: 0, sats: {} };
  lastFix: Fix | undefined;
  lastFixSystemMs: number | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private pendingTemporary: { intervalS: number; durationS: number } | undefined;
  /** The GNSS port's current (or last) decoder: its counters are read when status is written, not per chunk. */
  private decoder: NmeaDecoder | undefined;
  /** Counters of the decoders and camera links of earlier connections: status counts since the agent started. */
  private readonly retired: Record<string, number> = {};
  fixesIn = 0;
  fixesReported = 0;
  gnssConnected = false;
  controlConnected = false;
  private readonly log: Logger;

  constructor(readonly settings: DeviceSettings, private readonly deps: DeviceRuntimeDeps) {
    this.log = deps.log.child({ device: settings.id });
    this.filter = new FixFilter(deps.filter);
    this.policy = new ReportingPolicy(deps.reporting);
  }

  /**
   * When the open recording started (system ms), as this agent saw it: the
   * change to recording, or the connect to a camera already recording.
   */
  recordingSinceMs: number | undefined;

  get recording(): RecordingState {
    return this.cameraStatus?.recording ?? 'off';
  }

  start(): void {
    this.deps.metrics.addDevice(this.settings.id);
    if (this.settings.gnss) this.loop('gnss', this.settings.gnss, (t) => this.runGnss(t));
    if (this.settings.control) this.loop('control', this.settings.control, (t) => this.runControl(t));
    this.every(this.deps.statusIntervalMs, () => this.writeStatus());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.camera?.close().catch(() => {});
    await this.gnssTransport?.close().catch(() => {});
    await this.controlTransport?.close().catch(() => {});
  }

  /**
   * Temporary tracking by command (JT/T 808 0x8202). Its clock is GNSS time:
   * before the first fix it starts with the first fix.
   */
  setTemporaryTracking(intervalS: number, durationS: number): void {
    if (this.lastFix) this.policy.setTemporary(intervalS, durationS, this.lastFix.timeMs);
    else this.pendingTemporary = { intervalS, durationS };
  }

  /**
   * The next fix is reported whatever the policy says, and the last known one
   * right now unless it already went out (then it would be the same fix again
   * under a new seq).
   */
  requestImmediateReport(reason: 'sos' | 'recording' | 'query'): void {
    const last = this.policy.requestImmediate(reason);
    if (last) {
      this.fixesReported++;
      this.deps.write([{ deviceId: this.settings.id, kind: 'fix', timeMs: last.timeMs, payload: encodeFixPayload(last) }]);
    }
  }

  private reportClockJumps(): void {
    for (const jump of this.skew.detectJump()) {
      this.log.warn(jump, 'clock jump');
      this.event('clock_jump', `${jump.clock} offset moved by ${jump.deltaMs} ms`, jump.deltaMs);
    }
  }

  counters(): Record<string, number> {
    const out = { ...this.retired };
    const add = (o: Record<string, number>) => {
      for (const [k, v] of Object.entries(o)) out[k] = (out[k] ?? 0) + v;
    };
    if (this.decoder) add(prefixed('nmea_', this.decoder.counters()));
    if (this.camera) add(prefixed('camera_', this.camera.counters));
    add(prefixed('filter_', this.filter.drops));
    out.fixes_implausible_fields = this.filter.fixesWithImplausibleFields;
    return out;
  }

  /** A port's decoder or driver is replaced: its counts stay in the totals. */
  private retire(counters: Record<string, number>): void {
    for (const [k, v] of Object.entries(counters)) this.retired[k] = (this.retired[k] ?? 0) + v;
  }

  private every(ms: number, fn: () => void): void {
    const tick = () => {
      if (this.stopped) return;
      fn();
      const t = setTimeout(tick, ms);
      this.timers.add(t);
    };
    const t = setTimeout(tick, ms);
    this.timers.add(t);
  }

  /** Open → run until closed → back off → open again, until stopped. */
  private loop(kind: 'gnss' | 'control', port: string, run: (t: Transport) => Promise<void>): void {
    const backoff = new Backoff(this.deps.reconnect);
    const attempt = async () => {
      if (this.stopped) return;
      try {
        const spec = parsePortSpec(port);
        // Baud detection listens for NMEA: only the GNSS port speaks it.
        const baud = kind === 'gnss' ? (this.settings.baud ?? 'auto') : CONTROL_BAUD;
        const transport = await openTransport(spec, { baud });
        if (this.stopped) {
          await transport.close();
          return;
        }
        backoff.reset();
        const closed = new Promise<string>((resolve) => transport.onClose(resolve));
        await run(transport);
        const reason = await closed;
        // Closing our own ports on stop is routine; anything else is worth a warning.
        if (this.stopped) this.log.info({ port: kind, reason }, `${kind} port closed`);
        else this.log.warn({ port: kind, reason }, `${kind} port closed`);
      } catch (err) {
        this.log.warn({ port: kind, err: describeError(err) }, `cannot use ${kind} port`);
      }
      if (this.stopped) return;
      const delay = backoff.next();
      const t = setTimeout(() => {
        this.timers.delete(t);
        void attempt();
      }, delay);
      this.timers.add(t);
    };
    void attempt();
  }

  private async runGnss(transport: Transport): Promise<void> {
    this.gnssTransport = transport;
    this.gnssConnected = true;
    const decoder = new NmeaDecoder();
    if (this.decoder) this.retire(prefixed('nmea_', this.decoder.counters()));
    this.decoder = decoder;
    transport.stream.on('data', (chunk: Buffer) => this.onEpochs(decoder.push(chunk)));
    transport.onClose(() => {
      this.onEpochs(decoder.end());
      this.gnssConnected = false;
      this.gnssTransport = undefined;
    });
  }

  private onEpochs(epochs: Epoch[]): void {
    const out: NewMessage[] = [];
    for (const epoch of epochs) {
      this.gnss = epoch.gnss;
      if (!epoch.fix) continue;
      this.fixesIn++;
      this.deps.metrics.fixIn(this.settings.id);
      const now = Date.now();
      const verdict = this.filter.check(epoch.fix, now);
      if (!verdict.ok) {
        this.deps.metrics.fixDropped(this.settings.id, verdict.reason);
        continue;
      }
      // The fix as the filter passed it: without fields its profile cannot report.
      const fix = verdict.fix;
      if (verdict.dropped) for (const field of verdict.dropped) this.deps.metrics.fixFieldDropped(this.settings.id, field);
      if (verdict.discontinuity) {
        // Before the fix, in the same write: a subscriber learns of the jump before it sees the new track.
        if (out.length > 0) this.deps.write(out.splice(0));
        this.reportDiscontinuity(verdict.discontinuity);
      }
      // Only accepted fixes tell the time: a rejected one may carry a garbage date.
      this.skew.observeGnss(fix.timeMs, now);
      this.reportClockJumps();
      if (this.pendingTemporary) {
        this.policy.setTemporary(this.pendingTemporary.intervalS, this.pendingTemporary.durationS, fix.timeMs);
        this.pendingTemporary = undefined;
      }
      this.lastFix = fix;
      this.lastFixSystemMs = now;
      this.deps.metrics.fixAccepted(this.settings.id, now);
      if (!this.policy.offer(fix, { recording: this.recording === 'recording' })) continue;
      this.fixesReported++;
      out.push({ deviceId: this.settings.id, kind: 'fix', timeMs: fix.timeMs, payload: encodeFixPayload(fix) });
    }
    if (out.length > 0) this.deps.write(out);
  }

  /** A confirmed jump, as an event with both positions (never passed off as movement). */
  private reportDiscontinuity(d: Discontinuity): void {
    const km = (d.distanceM / 1000).toFixed(1);
    const s = (d.dtMs / 1000).toFixed(1);
    const speed = d.dtMs > 0 ? `${Math.round(d.distanceM / (d.dtMs / 1000))} m/s` : 'no time between them';
    const detail = `${km} km in ${s} s (${speed}; ${this.deps.profile ?? 'the'} profile allows ${this.deps.filter.maxSpeedMps} m/s)`;
    this.log.warn({ from: { lat: d.from.lat, lon: d.from.lon, timeMs: d.from.timeMs }, to: { lat: d.to.lat, lon: d.to.lon, timeMs: d.to.timeMs }, distanceM: Math.round(d.distanceM) }, `GNSS discontinuity: ${detail}`);
    this.deps.metrics.discontinuities.inc({ device: this.settings.id });
    const body = { ...eventBody('gnss_discontinuity', d.to.timeMs, d.from, detail, Math.round(d.distanceM)), newPosition: positionOf(d.to) };
    this.deps.write([{ deviceId: this.settings.id, kind: 'event', timeMs: d.to.timeMs, payload: encodeBody('Event', body) }]);
  }

  private async runControl(transport: Transport): Promise<void> {
    this.controlTransport = transport;
    const camera = openReferenceCamera(transport.stream, { timeoutMs: this.deps.controlTimeoutMs });
    this.camera = camera;
    camera.onClose(() => {
      if (this.camera === camera) {
        this.retire(prefixed('camera_', camera.counters));
        this.camera = undefined;
      }
      if (this.controlConnected) this.event('camera_disconnected');
      this.controlConnected = false;
      void transport.close();
    });
    camera.onNotification((n) => this.onNotification(n));
    try {
      const shown = shownIdentity(await camera.identify());
      this.identity = shown.identity;
      for (const problem of shown.problems) this.log.error({ problem }, 'camera reports text that would show differently from what it is: published in visible form (<U+XXXX>); bind the camera again with provision');
      this.cameraStatus = await camera.status();
      this.recordingSinceMs = this.cameraStatus.recording === 'recording' ? Date.now() : undefined;
      this.controlConnected = true;
      this.log.info({ serial: this.identity.serial, officer: this.identity.officerNumber }, 'camera connected');
      this.event('camera_connected', this.identity.serial);
      this.observeCameraClock(this.cameraStatus);
      this.writeStatus();
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'camera does not answer on its control port');
      await camera.close().catch(() => {});
      await transport.close();
      return;
    }
    this.every(this.deps.statusIntervalMs, () => void this.pollStatus(camera));
  }

  private async pollStatus(camera: CameraDriver): Promise<void> {
    if (this.camera !== camera) return;
    try {
      const status = await camera.status();
      this.applyStatus(status);
    } catch (err) {
      this.log.debug({ err: describeError(err) }, 'status poll failed');
    }
  }

  private observeCameraClock(status: CameraStatus): void {
    if (status.clockMs !== undefined) {
      this.skew.observeCamera(status.clockMs, Date.now());
      this.reportClockJumps();
    }
  }

  private applyStatus(status: CameraStatus): void {
    const before = this.cameraStatus;
    this.cameraStatus = status;
    this.observeCameraClock(status);
    if (before && before.recording !== status.recording) this.onRecordingChange(before.recording, status.recording);
    if (status.batteryPct !== undefined && before?.batteryPct !== undefined && before.batteryPct > this.deps.lowBatteryPct && status.batteryPct <= this.deps.lowBatteryPct) {
      this.event('low_battery', undefined, status.batteryPct);
    }
    if (status.storageFree === 0 && before?.storageFree !== 0) this.event('storage_full');
  }

  private onRecordingChange(from: RecordingState, to: RecordingState): void {
    this.recordingSinceMs = to === 'recording' ? Date.now() : undefined;
    if (to === 'recording') this.event('recording_started');
    else if (from === 'recording') this.event('recording_stopped');
    this.requestImmediateReport('recording');
    this.writeStatus();
  }

  private onNotification(n: CameraNotification): void {
    switch (n.type) {
      case 'recording': {
        const before = this.cameraStatus?.recording ?? 'off';
        this.cameraStatus = { ...(this.cameraStatus ?? { recording: 'off' }), recording: n.state };
        if (before !== n.state) this.onRecordingChange(before, n.state);
        break;
      }
      case 'sos':
        this.event('sos');
        this.requestImmediateReport('sos');
        break;
      case 'tamper':
        this.event('tamper');
        break;
      case 'battery':
        this.applyStatus({ ...(this.cameraStatus ?? { recording: 'off' }), batteryPct: n.pct, charging: n.charging });
        break;
      case 'storage':
        this.applyStatus({ ...(this.cameraStatus ?? { recording: 'off' }), storageFree: n.free, storageTotal: n.total });
        break;
    }
  }

  /** Writes an event with the last known position; `detail` and `value` as the event needs. */
  event(name: EventName, detail?: string, value?: number, issuer?: string): void {
    const timeMs = this.lastFix ? this.lastFix.timeMs + (Date.now() - (this.lastFixSystemMs ?? Date.now())) : Date.now();
    const body = eventBody(name, timeMs, this.lastFix, detail, value, issuer);
    this.deps.write([{ deviceId: this.settings.id, kind: 'event', timeMs, payload: encodeBody('Event', body) }]);
    this.deps.onEvent?.(this.settings.id, name);
  }

  writeStatus(): void {
    const now = Date.now();
    const body = buildStatusBody({
      timeMs: now,
      agentId: this.deps.agentId,
      fixesIn: this.fixesIn,
      status: this.cameraStatus,
      identity: this.identity,
      gnss: this.gnss,
      lastFixAgeMs: this.lastFixSystemMs === undefined ? undefined : now - this.lastFixSystemMs,
      skew: this.skew.snapshot(now),
      counters: this.counters(),
      online: this.gnssConnected || this.controlConnected,
      bufferDropped: this.deps.bufferDropped?.(),
      ringLost: this.deps.ringLost?.(),
    });
    this.deps.write([{ deviceId: this.settings.id, kind: 'status', timeMs: now, payload: encodeBody('Status', body) }]);
  }
}

function prefixed(prefix: string, o: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) out[prefix + k] = v;
  return out;
}
