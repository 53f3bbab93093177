import { randomUUID } from 'node:crypto';
import type { FleetRecord } from '../fleet/fleet-decoder.js';
import { accuracyM, type StoredFix } from '../store/track-store.js';
import type { Alarm, DeviceView } from '../fleet/fleet-view.js';

/** Events that raise an alarm banner, by the decoder's event names. */
export const ALARM_EVENTS = ['sos', 'low_battery', 'storage_full', 'tamper', 'camera_disconnected'] as const;

export type { Alarm, DeviceView } from '../fleet/fleet-view.js';

/**
 * What the console knows of the fleet now: each device's status and newest
 * position, and the alarms. Changes are collected for the next push to the
 * browsers (`drain`).
 */
export class FleetState {
  readonly devices = new Map<string, DeviceView>();
  readonly alarms = new Map<string, Alarm>();
  private readonly agents = new Map<string, { online: boolean; devices: string[] }>();
  private dirty = new Set<string>();
  private dirtyAlarms = new Set<string>();

  private view(device: string): DeviceView {
    let v = this.devices.get(device);
    if (!v) this.devices.set(device, (v = { device, online: true, recording: 'off', lastSeenMs: 0 }));
    return v;
  }

  /** A fix moves the marker only when it is newer than the one shown: late and historical fixes go to the track only. */
  fix(f: StoredFix, seenMs = Date.now()): void {
    const v = this.view(f.device);
    if (!f.historical) v.lastSeenMs = Math.max(v.lastSeenMs, seenMs);
    if (v.fix && v.fix.timeMs >= f.timeMs) return;
    const acc = accuracyM(f.hdop);
    v.fix = { timeMs: f.timeMs, lat: f.lat, lon: f.lon, ...(acc !== undefined ? { accM: acc } : {}), ...(f.speed !== undefined ? { speed: f.speed } : {}), ...(f.course !== undefined ? { course: f.course } : {}) };
    this.dirty.add(f.device);
  }

  apply(r: FleetRecord, nowMs = Date.now()): void {
    if (r.type === 'agent') {
      const agent = String(r.agent);
      const devices = (r.devices as string[]) ?? [];
      this.agents.set(agent, { online: r.online === true, devices });
      for (const d of devices) {
        const v = this.view(d);
        v.agent = agent;
        if (r.online !== true) v.online = false;
        this.dirty.add(d);
      }
      return;
    }
    if (!r.device) return;
    if (r.type === 'status') {
      const v = this.view(r.device);
      const o = r.officer as { officerNumber?: string; name?: string; unitNumber?: string; unitName?: string } | undefined;
      const g = r.gnss as { mode: number; hdop: number; sats: Record<string, { used: number }> } | undefined;
      v.online = r.online === true && this.agents.get(v.agent ?? '')?.online !== false;
      v.recording = String(r.recording ?? 'off');
      if (typeof r.battery === 'number') v.battery = r.battery;
      v.charging = r.charging === true;
      if (typeof r.storageFree === 'number') v.storageFree = r.storageFree;
      if (typeof r.storageTotal === 'number') v.storageTotal = r.storageTotal;
      if (g) v.gnss = { mode: g.mode, hdop: g.hdop, used: Object.values(g.sats ?? {}).reduce((n, s) => n + (s.used ?? 0), 0) };
      if (o) v.officer = { number: o.officerNumber ?? '', name: o.name ?? '', unit: o.unitNumber ?? '', unitName: o.unitName ?? '' };
      if (typeof r.serial === 'string') {
        v.serial = r.serial;
        v.model = String(r.model ?? '');
      }
      v.lastSeenMs = Math.max(v.lastSeenMs, nowMs);
      this.dirty.add(r.device);
    } else if (r.type === 'event') {
      const v = this.view(r.device);
      v.lastSeenMs = Math.max(v.lastSeenMs, nowMs);
      const event = String(r.event);
      if (event === 'recording_started') v.recording = 'recording';
      this.dirty.add(r.device);
      if ((ALARM_EVENTS as readonly string[]).includes(event)) {
        const a: Alarm = { id: randomUUID(), device: r.device, event, timeMs: Date.parse(String(r.time)) || nowMs, ...(typeof r.detail === 'string' ? { detail: r.detail } : {}) };
        this.alarms.set(a.id, a);
        this.dirtyAlarms.add(a.id);
        // Bounded: the oldest acknowledged alarms go first.
        if (this.alarms.size > 1000) for (const [id, old] of this.alarms) if (old.ack && this.alarms.size > 1000) this.alarms.delete(id);
      }
    }
  }

  acknowledge(id: string, by: string): Alarm | undefined {
    const a = this.alarms.get(id);
    if (!a || a.ack) return a;
    a.ack = { by, atMs: Date.now() };
    this.dirtyAlarms.add(id);
    return a;
  }

  openAlarms(): Alarm[] {
    return [...this.alarms.values()].filter((a) => !a.ack);
  }

  /** Changes since the last drain. */
  drain(): { devices: DeviceView[]; alarms: Alarm[] } {
    const devices = [...this.dirty].map((d) => this.devices.get(d)!).filter(Boolean);
    const alarms = [...this.dirtyAlarms].map((id) => this.alarms.get(id)!).filter(Boolean);
    this.dirty = new Set();
    this.dirtyAlarms = new Set();
    return { devices, alarms };
  }
}
