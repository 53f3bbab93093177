import { NmeaDecoder } from '../../drivers/nmea/nmea-decoder.js';
import { CONSTELLATIONS, type Epoch } from '../../drivers/nmea/types.js';
import type { CameraDriver, CameraStatus } from '../../drivers/camera/camera-driver.js';
import { openReferenceCamera } from '../../drivers/camera/reference-driver.js';
import { openTransport, parsePortSpec, type Transport } from '../../drivers/transport/index.js';
import { fixToJson } from '../../protocol/fix.js';
import { describeError } from '../../common/errors.js';
import { openControl } from './camera-link.js';

export interface LiveTarget {
  device: string;
  gnss?: string;
  control?: string;
  baud?: number | 'auto';
}

/** One line of the live view: an epoch with the camera's last known state. */
export interface LiveRecord {
  device: string;
  /** Epoch time (GNSS), ISO. */
  time?: string;
  fix?: ReturnType<typeof fixToJson>;
  mode: number;
  hdop?: number;
  sats: Record<string, { used: number; inView: number }>;
  recording?: string;
  batteryPct?: number;
  charging?: boolean;
  /** Notices: camera connected, SOS, port closed … */
  note?: string;
}

/**
 * Watches cameras directly on their ports (the agent must not hold them):
 * each GNSS epoch becomes a record with the fix, HDOP, satellites per
 * constellation and the camera's recording state and battery, which the
 * control channel reports by notification and a status poll.
 */
export class LiveView {
  private readonly closers: (() => Promise<void>)[] = [];
  private readonly state = new Map<string, Partial<CameraStatus>>();
  private stopped = false;

  constructor(private readonly emit: (r: LiveRecord) => void) {}

  async watch(t: LiveTarget): Promise<void> {
    this.state.set(t.device, {});
    if (t.control) await this.watchCamera(t);
    if (t.gnss) {
      const transport = await openTransport(parsePortSpec(t.gnss), { baud: t.baud ?? 'auto' });
      this.closers.push(() => transport.close());
      const decoder = new NmeaDecoder();
      transport.stream.on('data', (chunk: Buffer) => {
        for (const e of decoder.push(chunk)) this.emitEpoch(t.device, e);
      });
      transport.onClose((reason) => this.note(t.device, `GNSS port closed: ${reason}`));
    } else {
      this.note(t.device, 'no GNSS port configured: this camera reports no positions (find it with bwc-agent devices, then bwc-agent provision --gnss PORT)');
    }
  }

  private async watchCamera(t: LiveTarget): Promise<void> {
    let transport: Transport;
    try {
      transport = await openControl(t.control!);
    } catch (err) {
      this.note(t.device, `camera control port: ${describeError(err)}`);
      return;
    }
    const cam: CameraDriver = openReferenceCamera(transport.stream, { timeoutMs: 3000 });
    this.closers.push(async () => {
      await cam.close().catch(() => {});
      await transport.close().catch(() => {});
    });
    const st = this.state.get(t.device)!;
    cam.onNotification((n) => {
      if (n.type === 'recording') st.recording = n.state;
      else if (n.type === 'battery') Object.assign(st, { batteryPct: n.pct, charging: n.charging });
      else this.note(t.device, `camera: ${n.type}`);
    });
    cam.onClose((reason) => {
      if (!this.stopped) this.note(t.device, `camera link closed: ${reason}`);
    });
    const poll = async () => {
      try {
        Object.assign(st, await cam.status());
      } catch (err) {
        if (!this.stopped) this.note(t.device, `camera status: ${describeError(err)}`);
      }
    };
    try {
      const id = await cam.identify();
      this.note(t.device, `camera ${id.serial} officer ${id.officerNumber} ${id.officerName}`);
    } catch (err) {
      this.note(t.device, `camera does not answer on ${t.control}: ${describeError(err)}`);
    }
    await poll();
    const timer = setInterval(() => void poll(), 5000);
    timer.unref();
    this.closers.push(async () => clearInterval(timer));
  }

  private emitEpoch(device: string, e: Epoch): void {
    const st = this.state.get(device) ?? {};
    const sats: LiveRecord['sats'] = {};
    for (const c of CONSTELLATIONS) if (e.gnss.sats[c]) sats[c] = e.gnss.sats[c]!;
    this.emit({
      device,
      ...(e.timeMs !== undefined ? { time: new Date(e.timeMs).toISOString() } : {}),
      ...(e.fix ? { fix: fixToJson(e.fix, { device }) } : {}),
      mode: e.gnss.mode,
      ...(e.gnss.hdop !== undefined ? { hdop: e.gnss.hdop } : {}),
      sats,
      ...(st.recording ? { recording: st.recording } : {}),
      ...(st.batteryPct !== undefined ? { batteryPct: st.batteryPct } : {}),
      ...(st.charging !== undefined ? { charging: st.charging } : {}),
    });
  }

  private note(device: string, note: string): void {
    if (!this.stopped) this.emit({ device, mode: 0, sats: {}, note });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.closers.splice(0).map((c) => c().catch(() => {})));
  }
}

const SHORT: Record<string, string> = { gps: 'GPS', glonass: 'GLO', galileo: 'GAL', beidou: 'BDS', qzss: 'QZS' };

/** The human line: device, time, position, fix mode, HDOP, satellites used/in view per constellation, recording, battery. */
export function renderLive(r: LiveRecord): string {
  if (r.note) return `${r.device}  -- ${r.note}\n`;
  const time = r.time ? r.time.slice(11, 23) + 'Z' : '--:--:--.---Z';
  const pos = r.fix ? `${r.fix.lat.toFixed(6)},${r.fix.lon.toFixed(6)}` : 'no fix'.padEnd(21);
  const mode = r.mode >= 2 ? `${r.mode}D` : 'NF';
  const hdop = r.hdop !== undefined ? `hdop ${r.hdop.toFixed(1)}` : 'hdop -';
  const sats = Object.entries(r.sats).map(([c, s]) => `${SHORT[c] ?? c} ${s.used}/${s.inView}`).join(' ') || 'sats -';
  const cam = `${r.recording ?? '-'}${r.batteryPct !== undefined ? ` bat ${r.batteryPct}%${r.charging ? '+' : ''}` : ''}`;
  return `${r.device}  ${time}  ${pos}  ${mode}  ${hdop}  ${sats}  ${cam}\n`;
}
