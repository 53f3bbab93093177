import type { Fix } from '../protocol/fix.js';
import { enumType } from '../protocol/schema.js';
import type { CameraIdentity, CameraStatus, RecordingState } from '../drivers/camera/camera-driver.js';
import type { Constellation, GnssSummary } from '../drivers/nmea/types.js';

/** Bodies (without header) of the per-device messages, as plain objects for protocol/codec. */

export type EventName =
  | 'recording_started' | 'recording_stopped' | 'sos' | 'low_battery' | 'storage_full'
  | 'camera_connected' | 'camera_disconnected' | 'camera_docked' | 'tamper'
  | 'spot_check_started' | 'spot_check_ended' | 'clock_jump' | 'buffer_dropped' | 'gnss_discontinuity';

function enumValue(enumName: string, key: string): number {
  const v = enumType(enumName).values[key];
  if (v === undefined) throw new Error(`bwc.v1.${enumName} has no ${key}`);
  return v;
}

export function positionOf(fix: Fix): Record<string, unknown> {
  return {
    timeMs: fix.timeMs,
    latE7: Math.round(fix.lat * 1e7),
    lonE7: Math.round(fix.lon * 1e7),
    mode: fix.mode,
    ...(fix.alt !== undefined ? { altDm: Math.round(fix.alt * 10), hasAlt: true } : {}),
  };
}

export function eventBody(name: EventName, timeMs: number, last: Fix | undefined, detail?: string, value?: number, issuer?: string): Record<string, unknown> {
  return {
    type: enumValue('EventType', `EVENT_TYPE_${name.toUpperCase()}`),
    timeMs,
    ...(last ? { position: positionOf(last) } : {}),
    ...(detail ? { detail } : {}),
    ...(value !== undefined ? { value } : {}),
    ...(issuer ? { issuer } : {}),
  };
}

const RECORDING: Record<RecordingState, string> = { off: 'RECORDING_STATE_OFF', 'pre-record': 'RECORDING_STATE_PRE_RECORD', recording: 'RECORDING_STATE_RECORDING' };
const CONSTELLATION: Record<Constellation, string> = {
  gps: 'CONSTELLATION_GPS', glonass: 'CONSTELLATION_GLONASS', galileo: 'CONSTELLATION_GALILEO', beidou: 'CONSTELLATION_BEIDOU', qzss: 'CONSTELLATION_QZSS',
};

/**
 * The Status counters from the runtime's named counters (`nmea_*` from the
 * NMEA decoder, `filter_*` from the fix filter, `camera_*` from the control
 * channel; each summed over every reconnect of its port). Each counter says
 * exactly which of them it adds up, so none is a sum of good and bad things.
 */
const NMEA_REJECTED = ['nmea_too_long', 'nmea_bad_checksum', 'nmea_no_checksum', 'nmea_truncated', 'nmea_bad_char', 'nmea_rejected_fix'];
const DROPPED_INVALID = ['filter_mode', 'filter_time', 'filter_invalid'];

export function statusCounters(c: Record<string, number>, fixesIn: number, bufferDropped: number | undefined, ringLost?: number): Record<string, number> {
  const sum = (keys: string[]) => keys.reduce((n, k) => n + (c[k] ?? 0), 0);
  return {
    fixesIn,
    fixesDroppedInvalid: sum(DROPPED_INVALID),
    fixesDroppedHdop: c.filter_hdop ?? 0,
    fixesDroppedJump: c.filter_jump ?? 0,
    nmeaRejected: sum(NMEA_REJECTED),
    cameraFramesRejected: sumWhere(c, (k) => k.startsWith('camera_rejected.')),
    bufferDropped: bufferDropped ?? 0,
    fixesImplausibleFields: c.fixes_implausible_fields ?? 0,
    ...(ringLost !== undefined ? { fixesLostMemoryRing: ringLost } : {}),
  };
}

export interface StatusInput {
  /** When the state was observed (Unix ms, the agent's clock). */
  timeMs: number;
  /** The agent that holds the device: its retained state decides whether this status still holds. */
  agentId: string;
  status?: CameraStatus;
  identity?: CameraIdentity;
  gnss: GnssSummary;
  lastFixAgeMs?: number;
  skew: { systemMinusGnssMs?: number; cameraMinusGnssMs?: number; gnssValid: boolean };
  counters: Record<string, number>;
  fixesIn: number;
  online: boolean;
  bufferDropped?: number;
  ringLost?: number;
}

export function buildStatusBody(s: StatusInput): Record<string, unknown> {
  const counters = statusCounters(s.counters, s.fixesIn, s.bufferDropped, s.ringLost);
  return {
    recording: enumValue('RecordingState', RECORDING[s.status?.recording ?? 'off']),
    ...(s.status?.batteryPct !== undefined ? { batteryPct: s.status.batteryPct, hasBattery: true } : {}),
    charging: s.status?.charging ?? false,
    storageTotalBytes: s.status?.storageTotal ?? 0,
    storageFreeBytes: s.status?.storageFree ?? 0,
    clocks: {
      cameraOffsetMs: s.skew.cameraMinusGnssMs ?? 0,
      systemOffsetMs: s.skew.systemMinusGnssMs ?? 0,
      gnssTimeValid: s.skew.gnssValid,
    },
    gnss: {
      mode: s.gnss.mode,
      hdopX10: s.gnss.hdop !== undefined ? Math.round(s.gnss.hdop * 10) : 0,
      lastFixAgeMs: s.lastFixAgeMs !== undefined ? Math.min(s.lastFixAgeMs, 0xffffffff) : 0,
      sats: (Object.entries(s.gnss.sats) as [Constellation, { used: number; inView: number }][]).map(([c, v]) => ({
        constellation: enumValue('Constellation', CONSTELLATION[c]),
        used: v.used,
        inView: v.inView,
      })),
    },
    ...(s.identity
      ? {
          officer: { officerNumber: s.identity.officerNumber, name: s.identity.officerName, unitNumber: s.identity.unitNumber, unitName: s.identity.unitName },
          firmware: s.identity.firmware,
          model: s.identity.model,
          serial: s.identity.serial,
        }
      : {}),
    counters,
    online: s.online,
    timeMs: s.timeMs,
    agentId: s.agentId,
  };
}

function sumWhere(o: Record<string, number>, pred: (k: string) => boolean): number {
  let n = 0;
  for (const [k, v] of Object.entries(o)) if (pred(k)) n += v;
  return n;
}
