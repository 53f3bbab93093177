/**
 * What the agent asks of a body camera, whatever its make. Vendor drivers
 * implement CameraDriver (one file per vendor); the reference protocol of
 * README.md is implemented by reference-driver.ts and spoken by the
 * simulator. test/camera/camera-driver.contract.ts is the contract every
 * implementation must pass.
 */
export type RecordingState = 'off' | 'pre-record' | 'recording';
export const RECORDING_STATES: readonly RecordingState[] = ['off', 'pre-record', 'recording'];

/** As GA/T 947 docking software reads it from the camera. */
export interface CameraIdentity {
  /** product serial, 7 characters */
  serial: string;
  model: string;
  firmware: string;
  /** police/officer number, 6 digits */
  officerNumber: string;
  officerName: string;
  /** unit (organisation) number, 12 characters */
  unitNumber: string;
  unitName: string;
}

export interface OfficerBinding {
  officerNumber: string;
  officerName: string;
  unitNumber: string;
  unitName: string;
}

export interface CameraStatus {
  recording: RecordingState;
  batteryPct?: number;
  charging?: boolean;
  storageTotal?: number;
  storageFree?: number;
  /** the camera's own clock, ms since 1970 UTC */
  clockMs?: number;
}

export type RecordingTrigger = 'manual' | 'sos' | 'remote' | 'scheduled';
export const RECORDING_TRIGGERS: readonly RecordingTrigger[] = ['manual', 'sos', 'remote', 'scheduled'];

/** One recording on the camera (the RecordingManifest of bwc.v1 media.proto). */
export interface RecordingInfo {
  id: string;
  startMs: number;
  endMs: number;
  size: number;
  /** hex */
  sha256: string;
  officerNumber: string;
  trigger: RecordingTrigger;
  contentType: string;
}

export type CameraNotification =
  | { type: 'recording'; state: RecordingState }
  | { type: 'sos' }
  | { type: 'tamper' }
  | { type: 'battery'; pct: number; charging: boolean }
  | { type: 'storage'; free: number; total: number };

export interface LiveFrame {
  jpeg: Buffer;
  /** capture time on the camera clock */
  timeMs: number;
  index: number;
}

/** One H.264 access unit of a camera's live video (reference protocol LIVE_START with FORMAT 1). */
export interface LiveVideoFrame {
  /** Annex B */
  data: Buffer;
  keyframe: boolean;
  ptsUs: number;
  /** capture time on the camera clock */
  timeMs: number;
  index: number;
}

export interface LiveVideoOptions {
  fps: number;
  /** kbit/s; 0: the camera's default */
  kbps: number;
  width?: number;
  height?: number;
}

export type OfficerAlert = 'beep' | 'vibrate' | 'led';
export const OFFICER_ALERTS: readonly OfficerAlert[] = ['beep', 'vibrate', 'led'];

export type SettingValue = string | number | boolean;

/** Footage wherever it is read from: the control channel or a mounted storage folder. */
export interface FootageSource {
  listRecordings(range?: { fromMs?: number; toMs?: number }): Promise<RecordingInfo[]>;
  readClip(id: string, offset: number, length: number): Promise<Buffer>;
}

export interface CameraDriver extends FootageSource {
  identify(): Promise<CameraIdentity>;
  status(): Promise<CameraStatus>;
  readClock(): Promise<number>;
  setClock(ms: number): Promise<void>;
  bindOfficer(b: OfficerBinding): Promise<void>;
  snapshot(opts?: { quality?: number }): Promise<Buffer>;
  /** Frames go to `onFrame` until stopLive() or close(). */
  startLive(opts: { fps: number; quality: number }, onFrame: (f: LiveFrame) => void): Promise<void>;
  stopLive(): Promise<void>;
  /**
   * Live H.264 until stopLive() or close(); `onEnd` is told when the camera
   * ends it (its encoder failed). Cameras without video refuse with
   * CAMERA_UNSUPPORTED (then JPEG frames through startLive are what they give).
   */
  startVideo?(opts: LiveVideoOptions, onFrame: (f: LiveVideoFrame) => void, onEnd: (reason: string) => void): Promise<void>;
  /** Asks for an IDR now (live video). */
  requestKeyframe?(): Promise<void>;
  /** Recordings overlapping the range (either bound optional). */
  listRecordings(range?: { fromMs?: number; toMs?: number }): Promise<RecordingInfo[]>;
  /** Up to `length` bytes from `offset`; shorter only at the end of the recording. */
  readClip(id: string, offset: number, length: number): Promise<Buffer>;
  notify(kind: OfficerAlert, durationMs?: number): Promise<void>;
  writeSettings(settings: Record<string, SettingValue>): Promise<void>;
  onNotification(cb: (n: CameraNotification) => void): void;
  /** Called once, when the link goes away or close() is called. */
  onClose(cb: (reason: string) => void): void;
  close(): Promise<void>;
  /** Rejected frames by reason ("rejected.bad-crc" …), timeouts: for status and metrics. */
  readonly counters: Record<string, number>;
}
