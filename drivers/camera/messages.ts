import { BwcError } from '../../common/errors.js';
import {
  RECORDING_STATES, RECORDING_TRIGGERS, OFFICER_ALERTS,
  type CameraIdentity, type CameraNotification, type CameraStatus, type LiveFrame, type OfficerAlert,
  type OfficerBinding, type RecordingInfo, type RecordingState, type SettingValue,
} from './camera-driver.js';
import { Flag } from './frame-codec.js';
import type { TextEncoding } from './text-encoding.js';
import { TlvReader, TlvWriter } from './tlv.js';

/**
 * Message types and payload codecs of the reference protocol, shared by the
 * driver and the simulator so the two cannot disagree. Requests carry the
 * type; the response has the same type with the RESPONSE flag (and ERROR
 * when refused). Notifications have their own types and request id 0.
 */
export const Msg = {
  IDENTIFY: 0x01,
  STATUS: 0x02,
  CLOCK_READ: 0x03,
  CLOCK_SET: 0x04,
  BIND_OFFICER: 0x05,
  SNAPSHOT: 0x06,
  LIVE_START: 0x07,
  LIVE_STOP: 0x08,
  LIST_RECORDINGS: 0x09,
  READ_CLIP: 0x0a,
  NOTIFY_OFFICER: 0x0b,
  WRITE_SETTINGS: 0x0c,
  /** Live H.264: make an IDR now. */
  LIVE_KEYFRAME: 0x0d,
  // notifications, camera → host
  N_RECORDING: 0x40,
  N_SOS: 0x41,
  N_TAMPER: 0x42,
  N_BATTERY: 0x43,
  N_STORAGE: 0x44,
  N_LIVE_FRAME: 0x45,
  /** The live stream ended on the camera's side (its encoder failed): ERROR_MESSAGE says why. */
  N_LIVE_END: 0x46,
} as const;

export const REQUEST_NAMES: Record<number, string> = {
  0x01: 'identify', 0x02: 'status', 0x03: 'clock read', 0x04: 'clock set', 0x05: 'bind officer', 0x06: 'snapshot',
  0x07: 'live start', 0x08: 'live stop', 0x09: 'recording list', 0x0a: 'clip read', 0x0b: 'notify officer', 0x0c: 'write settings', 0x0d: 'live keyframe',
};

/** Field tags: one namespace for all messages. */
export const Tag = {
  SERIAL: 1, MODEL: 2, FIRMWARE: 3, OFFICER_NUMBER: 4, OFFICER_NAME: 5, UNIT_NUMBER: 6, UNIT_NAME: 7,
  RECORDING: 10, BATTERY: 11, CHARGING: 12, STORAGE_TOTAL: 13, STORAGE_FREE: 14, CLOCK: 15,
  QUALITY: 20, FPS: 21, JPEG: 22, INDEX: 23, TIME: 24,
  /** live video: FORMAT 1 = H.264 in LIVE_START; frames carry H264 (one access unit, Annex B), KEYFRAME and PTS (µs). */
  FORMAT: 25, BITRATE: 26, WIDTH: 27, HEIGHT: 28, H264: 29, KEYFRAME: 30, PTS: 31,
  FROM: 30, TO: 31, RECORDING_ENTRY: 32, ID: 33, START: 34, END: 35, SIZE: 36, SHA256: 37, TRIGGER: 38, CONTENT_TYPE: 39,
  OFFSET: 40, LENGTH: 41, DATA: 42,
  ALERT: 50, DURATION: 51,
  SETTING: 60, KEY: 61, VALUE_STR: 62, VALUE_NUM: 63, VALUE_BOOL: 64,
  ERROR_CODE: 70, ERROR_MESSAGE: 71,
} as const;

/** Largest clip range one READ_CLIP may ask for; the driver splits longer reads. */
export const MAX_CLIP_READ = 256 * 1024;

export function textEncodingOf(flags: number): TextEncoding {
  return flags & Flag.TEXT_GBK ? 'gbk' : 'utf8';
}

function enumIndex<T>(values: readonly T[], v: T, what: string): number {
  const i = values.indexOf(v);
  if (i < 0) throw new BwcError('CAMERA_BAD_ARGUMENT', `unknown ${what} ${JSON.stringify(v)}`);
  return i;
}
function enumValue<T>(r: TlvReader, values: readonly T[], tag: number, name: string): T {
  const i = r.u8(tag, name);
  const v = values[i];
  if (v === undefined) throw r.bad(`${name} ${i} is not one of ${values.join(', ')}`);
  return v;
}

// identity ------------------------------------------------------------------
export function writeIdentity(w: TlvWriter, id: CameraIdentity): TlvWriter {
  return w.str(Tag.SERIAL, id.serial).str(Tag.MODEL, id.model).str(Tag.FIRMWARE, id.firmware)
    .str(Tag.OFFICER_NUMBER, id.officerNumber).str(Tag.OFFICER_NAME, id.officerName)
    .str(Tag.UNIT_NUMBER, id.unitNumber).str(Tag.UNIT_NAME, id.unitName);
}
export function readIdentity(r: TlvReader): CameraIdentity {
  return {
    serial: r.str(Tag.SERIAL, 'serial'), model: r.str(Tag.MODEL, 'model'), firmware: r.str(Tag.FIRMWARE, 'firmware'),
    ...readBinding(r),
  };
}
export function writeBinding(w: TlvWriter, b: OfficerBinding): TlvWriter {
  return w.str(Tag.OFFICER_NUMBER, b.officerNumber).str(Tag.OFFICER_NAME, b.officerName)
    .str(Tag.UNIT_NUMBER, b.unitNumber).str(Tag.UNIT_NAME, b.unitName);
}
export function readBinding(r: TlvReader): OfficerBinding {
  return {
    officerNumber: r.str(Tag.OFFICER_NUMBER, 'officer number'), officerName: r.str(Tag.OFFICER_NAME, 'officer name'),
    unitNumber: r.str(Tag.UNIT_NUMBER, 'unit number'), unitName: r.str(Tag.UNIT_NAME, 'unit name'),
  };
}

// status --------------------------------------------------------------------
export function writeStatus(w: TlvWriter, s: CameraStatus): TlvWriter {
  w.u8(Tag.RECORDING, enumIndex(RECORDING_STATES, s.recording, 'recording state'));
  if (s.batteryPct !== undefined) w.u8(Tag.BATTERY, s.batteryPct);
  if (s.charging !== undefined) w.bool(Tag.CHARGING, s.charging);
  if (s.storageTotal !== undefined) w.i64(Tag.STORAGE_TOTAL, s.storageTotal);
  if (s.storageFree !== undefined) w.i64(Tag.STORAGE_FREE, s.storageFree);
  if (s.clockMs !== undefined) w.i64(Tag.CLOCK, s.clockMs);
  return w;
}
export function readStatus(r: TlvReader): CameraStatus {
  const s: CameraStatus = { recording: enumValue(r, RECORDING_STATES, Tag.RECORDING, 'recording state') };
  const battery = r.opt(Tag.BATTERY, r.u8, 'battery');
  if (battery !== undefined) {
    if (battery > 100) throw r.bad(`battery ${battery}% is over 100`);
    s.batteryPct = battery;
  }
  const charging = r.opt(Tag.CHARGING, r.bool, 'charging');
  if (charging !== undefined) s.charging = charging;
  const total = r.opt(Tag.STORAGE_TOTAL, r.i64, 'storage total');
  const free = r.opt(Tag.STORAGE_FREE, r.i64, 'storage free');
  if ((total !== undefined && total < 0) || (free !== undefined && free < 0)) throw r.bad('storage sizes must not be negative');
  if (total !== undefined && free !== undefined && free > total) throw r.bad(`storage free ${free} exceeds total ${total}`);
  if (total !== undefined) s.storageTotal = total;
  if (free !== undefined) s.storageFree = free;
  const clock = r.opt(Tag.CLOCK, r.i64, 'clock');
  if (clock !== undefined) s.clockMs = clock;
  return s;
}

// recordings ----------------------------------------------------------------
export function writeRecording(w: TlvWriter, rec: RecordingInfo): TlvWriter {
  const e = new TlvWriter(w.encoding)
    .str(Tag.ID, rec.id).i64(Tag.START, rec.startMs).i64(Tag.END, rec.endMs).i64(Tag.SIZE, rec.size)
    .bytes(Tag.SHA256, Buffer.from(rec.sha256, 'hex')).str(Tag.OFFICER_NUMBER, rec.officerNumber)
    .u8(Tag.TRIGGER, enumIndex(RECORDING_TRIGGERS, rec.trigger, 'trigger')).str(Tag.CONTENT_TYPE, rec.contentType);
  return w.nested(Tag.RECORDING_ENTRY, e);
}
export function readRecordings(r: TlvReader): RecordingInfo[] {
  return r.all(Tag.RECORDING_ENTRY).map((buf, i) => {
    const e = new TlvReader(buf, r.encoding, `${r.what} entry ${i}`);
    const sha = e.bytes(Tag.SHA256, 'sha256');
    if (sha.length !== 32) throw e.bad(`sha256 must be 32 bytes, got ${sha.length}`);
    const rec: RecordingInfo = {
      id: e.str(Tag.ID, 'id'), startMs: e.i64(Tag.START, 'start'), endMs: e.i64(Tag.END, 'end'), size: e.i64(Tag.SIZE, 'size'),
      sha256: sha.toString('hex'), officerNumber: e.str(Tag.OFFICER_NUMBER, 'officer number'),
      trigger: enumValue(e, RECORDING_TRIGGERS, Tag.TRIGGER, 'trigger'), contentType: e.str(Tag.CONTENT_TYPE, 'content type'),
    };
    if (rec.size < 0 || rec.endMs < rec.startMs) throw e.bad('size must not be negative and end must not precede start');
    return rec;
  });
}

// settings ------------------------------------------------------------------
export function writeSettingsPayload(w: TlvWriter, settings: Record<string, SettingValue>): TlvWriter {
  for (const [key, value] of Object.entries(settings)) {
    const e = new TlvWriter(w.encoding).str(Tag.KEY, key);
    if (typeof value === 'string') e.str(Tag.VALUE_STR, value);
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new BwcError('CAMERA_BAD_ARGUMENT', `setting ${key} must be a finite number`);
      e.f64(Tag.VALUE_NUM, value);
    } else if (typeof value === 'boolean') e.bool(Tag.VALUE_BOOL, value);
    else throw new BwcError('CAMERA_BAD_ARGUMENT', `setting ${key} must be a string, number or boolean`);
    w.nested(Tag.SETTING, e);
  }
  return w;
}
export function readSettingsPayload(r: TlvReader): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  r.all(Tag.SETTING).forEach((buf, i) => {
    const e = new TlvReader(buf, r.encoding, `${r.what} setting ${i}`);
    const key = e.str(Tag.KEY, 'key');
    if (e.has(Tag.VALUE_STR)) out[key] = e.str(Tag.VALUE_STR, 'value');
    else if (e.has(Tag.VALUE_NUM)) out[key] = e.f64(Tag.VALUE_NUM, 'value');
    else out[key] = e.bool(Tag.VALUE_BOOL, 'value');
  });
  return out;
}

// officer alerts ------------------------------------------------------------
export function writeAlert(w: TlvWriter, kind: OfficerAlert, durationMs?: number): TlvWriter {
  w.u8(Tag.ALERT, enumIndex(OFFICER_ALERTS, kind, 'alert'));
  if (durationMs !== undefined) w.u32(Tag.DURATION, durationMs);
  return w;
}
export function readAlert(r: TlvReader): { kind: OfficerAlert; durationMs?: number } {
  const kind = enumValue(r, OFFICER_ALERTS, Tag.ALERT, 'alert');
  const durationMs = r.opt(Tag.DURATION, r.u32, 'duration');
  return durationMs === undefined ? { kind } : { kind, durationMs };
}

// live frames ---------------------------------------------------------------
export function writeLiveFrame(w: TlvWriter, f: LiveFrame): TlvWriter {
  return w.u32(Tag.INDEX, f.index).i64(Tag.TIME, f.timeMs).bytes(Tag.JPEG, f.jpeg);
}
export function readLiveFrame(r: TlvReader): LiveFrame {
  return { index: r.u32(Tag.INDEX, 'index'), timeMs: r.i64(Tag.TIME, 'time'), jpeg: r.bytes(Tag.JPEG, 'jpeg') };
}

// live video ----------------------------------------------------------------
export const LIVE_FORMAT_H264 = 1;

export interface LiveVideoUnit {
  index: number;
  /** capture time on the camera clock, ms */
  timeMs: number;
  ptsUs: number;
  keyframe: boolean;
  /** one access unit, Annex B */
  data: Buffer;
}
export function writeLiveVideoUnit(w: TlvWriter, u: LiveVideoUnit): TlvWriter {
  return w.u32(Tag.INDEX, u.index).i64(Tag.TIME, u.timeMs).i64(Tag.PTS, u.ptsUs).bool(Tag.KEYFRAME, u.keyframe).bytes(Tag.H264, u.data);
}
export function readLiveVideoUnit(r: TlvReader): LiveVideoUnit {
  return { index: r.u32(Tag.INDEX, 'index'), timeMs: r.i64(Tag.TIME, 'time'), ptsUs: r.i64(Tag.PTS, 'pts'), keyframe: r.bool(Tag.KEYFRAME, 'keyframe'), data: r.bytes(Tag.H264, 'h264') };
}

// notifications -------------------------------------------------------------
export function notificationType(n: CameraNotification): number {
  switch (n.type) {
    case 'recording': return Msg.N_RECORDING;
    case 'sos': return Msg.N_SOS;
    case 'tamper': return Msg.N_TAMPER;
    case 'battery': return Msg.N_BATTERY;
    case 'storage': return Msg.N_STORAGE;
  }
}
export function writeNotification(w: TlvWriter, n: CameraNotification): TlvWriter {
  switch (n.type) {
    case 'recording': return w.u8(Tag.RECORDING, enumIndex(RECORDING_STATES, n.state, 'recording state'));
    case 'battery': return w.u8(Tag.BATTERY, n.pct).bool(Tag.CHARGING, n.charging);
    case 'storage': return w.i64(Tag.STORAGE_FREE, n.free).i64(Tag.STORAGE_TOTAL, n.total);
    default: return w;
  }
}
/** undefined for a type that is not a notification. */
export function readNotification(type: number, r: TlvReader): CameraNotification | undefined {
  switch (type) {
    case Msg.N_RECORDING: return { type: 'recording', state: enumValue(r, RECORDING_STATES, Tag.RECORDING, 'recording state') };
    case Msg.N_SOS: return { type: 'sos' };
    case Msg.N_TAMPER: return { type: 'tamper' };
    case Msg.N_BATTERY: {
      const pct = r.u8(Tag.BATTERY, 'battery');
      if (pct > 100) throw r.bad(`battery ${pct}% is over 100`);
      return { type: 'battery', pct, charging: r.bool(Tag.CHARGING, 'charging') };
    }
    case Msg.N_STORAGE: {
      const free = r.i64(Tag.STORAGE_FREE, 'storage free');
      const total = r.i64(Tag.STORAGE_TOTAL, 'storage total');
      if (free < 0 || total < 0 || free > total) throw r.bad(`storage free ${free} / total ${total} is impossible`);
      return { type: 'storage', free, total };
    }
    default: return undefined;
  }
}

// errors --------------------------------------------------------------------
/** Codes a camera may answer with; the driver raises them as CAMERA_<code>. */
export type CameraErrorCode = 'BAD_REQUEST' | 'BAD_ARGUMENT' | 'NOT_FOUND' | 'BUSY' | 'UNSUPPORTED' | 'INTERNAL';
export function writeError(w: TlvWriter, code: CameraErrorCode, message: string): TlvWriter {
  return w.str(Tag.ERROR_CODE, code).str(Tag.ERROR_MESSAGE, message);
}
export function readError(r: TlvReader): { code: string; message: string } {
  const code = r.str(Tag.ERROR_CODE, 'error code');
  if (!/^[A-Z_]{1,32}$/.test(code)) throw r.bad(`error code ${JSON.stringify(code)} is malformed`);
  return { code, message: r.str(Tag.ERROR_MESSAGE, 'error message') };
}
