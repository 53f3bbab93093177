import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type {
  CameraIdentity, CameraNotification, OfficerAlert, RecordingState, SettingValue,
} from '../../drivers/camera/camera-driver.js';
import { encodeFrame, Flag, FrameDecoder, type Frame } from '../../drivers/camera/frame-codec.js';
import { checkBinding, checkIdentity } from '../../drivers/camera/identity-rules.js';
import { MassStorageFootage } from '../../drivers/camera/mass-storage.js';
import {
  MAX_CLIP_READ, Msg, Tag, notificationType, readAlert, readBinding, readSettingsPayload, textEncodingOf,
  writeError, writeIdentity, writeLiveFrame, writeNotification, writeRecording, writeStatus, type CameraErrorCode,
} from '../../drivers/camera/messages.js';
import type { TextEncoding } from '../../drivers/camera/text-encoding.js';
import { TlvReader, TlvWriter } from '../../drivers/camera/tlv.js';
import { BwcError, describeError } from '../../common/errors.js';
import type { Fix } from '../../protocol/fix.js';
import { battery, footageWriter, recordingPlan, type CameraBehaviour, type Outgoing } from './camera-behaviours.js';
import { fault, type FaultOptions, type SimCameraFault } from './camera-faults.js';
import { CameraModel } from './camera-model.js';
import { SimLiveVideo, type SimLiveParams } from '../video/sim-live-video.js';
import { LIVE_FORMAT_H264, writeLiveVideoUnit } from '../../drivers/camera/messages.js';

export type { SimCameraFault } from './camera-faults.js';

export interface SimCameraOptions {
  deviceId: string;
  identity: CameraIdentity;
  /** The camera's storage: recordings and their manifests are written here. */
  footageDir: string;
  seed: number;
  /** The host clock (default Date.now); the camera clock is this plus an offset. */
  now?: () => number;
  faults?: SimCameraFault[];
  faultOptions?: FaultOptions;
  /** default 'auto' */
  recordingPlan?: 'auto' | 'off' | 'always';
  /** How names are sent (default UTF-8; many GA/T 947 cameras use GBK). */
  textEncoding?: TextEncoding;
  /** Footage frame rate (default 2 fps: enough to view, cheap to make). */
  footageFps?: number;
  /** Simulation step (default 200 ms). */
  tickMs?: number;
  batteryPct?: number;
  charging?: boolean;
  storageTotal?: number;
  /** Real video through ffmpeg (libx264): MP4 recordings and live H.264. Left out: MJPEG footage and JPEG live frames only. */
  video?: SimVideoOptions;
}

export interface SimVideoOptions {
  /** The live stream's usual parameters (an encoder with them is kept ready). Default 1280x720, 25 fps, 1000 kbit/s. */
  live?: Partial<SimLiveParams>;
  /** Recordings: picture size and rate. Default 640x360 at 15 fps; false: MJPEG recordings as without video. */
  record?: { width: number; height: number; fps: number } | false;
  ffmpegPath?: string;
  /** Told when an encoder fails (the camera carries on). */
  onError?: (reason: string) => void;
}

let overlaySeq = 0;

export interface SimCameraState {
  recording: RecordingState;
  batteryPct: number;
  charging: boolean;
  storageFree: number;
  storageTotal: number;
  clockMs: number;
}

/** Backlog on the link past which live frames are skipped, as a camera on a slow link would. */
const LIVE_BACKLOG_BYTES = 256 * 1024;

/**
 * A simulated body camera speaking the reference control protocol on any
 * byte stream (a pseudo-terminal for tests and people, or TCP). State and
 * behaviours live in CameraModel and camera-behaviours.ts; this class is the
 * link: it decodes requests, answers them and sends notifications, passing
 * everything it sends through the behaviours so faults can bend it.
 */
export class SimCamera {
  private readonly model: CameraModel;
  private readonly behaviours: CameraBehaviour[];
  private readonly footage: Promise<MassStorageFootage>;
  private readonly textEncoding: TextEncoding;
  private stream: Duplex | undefined;
  private decoder: FrameDecoder | undefined;
  private streamListeners: (() => void) | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly tickTimer: NodeJS.Timeout;
  private lastTick: number;
  private live: { timer: NodeJS.Timeout; quality: number; index: number } | undefined;
  private readonly pending = new Set<NodeJS.Timeout>();
  private dead = false;
  private stopped = false;
  /** Officer alerts received (beep, vibrate, LED), for tests and the console. */
  readonly alerts: { kind: OfficerAlert; durationMs?: number; atMs: number }[] = [];
  /** Settings written by the host. */
  readonly settings: Record<string, SettingValue> = {};
  private readonly stats: Record<string, number> = { requests: 0, refused: 0, unexpected: 0, liveFramesSent: 0, liveFramesSkipped: 0, snapshots: 0 };
  private retiredDecoderRejects: Record<string, number> = {};
  /** Live H.264 (with opts.video). */
  readonly video: SimLiveVideo | undefined;
  private readonly overlayFile: string | undefined;
  private overlayAt = 0;

  constructor(readonly opts: SimCameraOptions) {
    checkIdentity(opts.identity);
    mkdirSync(opts.footageDir, { recursive: true });
    const now = opts.now ?? Date.now;
    this.textEncoding = opts.textEncoding ?? 'utf8';
    this.model = new CameraModel(opts.deviceId, opts.identity, opts.footageDir, opts.seed, now, opts);
    this.model.emit = (n) => this.sendNotification(n);
    if (opts.video) {
      const v = opts.video;
      this.overlayFile = join(tmpdir(), `bwc-sim-${opts.deviceId}-${process.pid}-${++overlaySeq}.txt`);
      this.writeOverlay(true);
      const live: SimLiveParams = { width: 1280, height: 720, fps: 25, kbps: 1000, ...v.live };
      this.video = new SimLiveVideo({ textFile: this.overlayFile, clockMs: () => this.model.clockMs(), ready: live, ...(v.ffmpegPath ? { ffmpegPath: v.ffmpegPath } : {}) });
      if (v.record !== false) {
        const rec = v.record ?? { width: 640, height: 360, fps: 15 };
        this.model.videoRecording = { ...rec, textFile: this.overlayFile, ...(v.ffmpegPath ? { ffmpegPath: v.ffmpegPath } : {}), ...(v.onError ? { onError: v.onError } : {}) };
      }
    }
    this.footage = MassStorageFootage.open(opts.footageDir);
    this.footage.catch(() => {});
    this.behaviours = [
      recordingPlan(opts.recordingPlan ?? 'auto'),
      footageWriter(opts.footageFps ?? 2),
      battery({ liveActive: () => this.live !== undefined }),
      ...(opts.faults ?? []).map((f) => fault(f, opts.faultOptions)),
    ];
    for (const b of this.behaviours) b.init?.(this.model);
    this.lastTick = now();
    this.tickTimer = setInterval(() => this.tick(), opts.tickMs ?? 200);
    this.tickTimer.unref();
    // 'always' starts recording at once, not on the first tick.
    this.tick();
  }

  get deviceId(): string {
    return this.opts.deviceId;
  }

  get identity(): CameraIdentity {
    return { ...this.model.identity };
  }

  /**
   * A binding written by other docking software, without this camera's
   * checks: what a real camera may hold when it arrives (a right-to-left
   * override in a name, a name of invisible characters). Seen by the agent
   * at its next identify.
   */
  bindElsewhere(b: Partial<Pick<CameraIdentity, 'officerNumber' | 'officerName' | 'unitNumber' | 'unitName'>>): void {
    this.model.identity = { ...this.model.identity, ...b };
  }

  get state(): SimCameraState {
    const m = this.model;
    return { recording: m.recording, batteryPct: Math.floor(m.batteryPct), charging: m.charging, storageFree: m.storageFree, storageTotal: m.storageTotal, clockMs: m.clockMs() };
  }

  /** Frames rejected by reason and what the camera did, for tests and status. */
  get counters(): Record<string, number> {
    const out: Record<string, number> = { ...this.stats };
    const live: Record<string, number> = this.decoder?.counters ?? {};
    for (const [k, v] of Object.entries(this.retiredDecoderRejects)) out[`rejected.${k}`] = v;
    for (const [k, v] of Object.entries(live)) out[`rejected.${k}`] = (out[`rejected.${k}`] ?? 0) + v;
    return out;
  }

  private tick(): void {
    if (this.stopped) return;
    const t = this.model.now();
    const dt = Math.max(0, t - this.lastTick);
    this.lastTick = t;
    for (const b of this.behaviours) {
      try {
        b.tick?.(this.model, dt);
      } catch {
        // A simulator fault (e.g. the footage disk vanished) must not kill the host process.
        this.stats.behaviourErrors = (this.stats.behaviourErrors ?? 0) + 1;
      }
    }
  }

  // what a person or a test does to the camera ------------------------------
  pressSos(): void {
    this.sendNotification({ type: 'sos' });
    if (this.model.recording !== 'recording') this.model.setRecording('recording', 'sos');
  }

  setRecording(s: RecordingState): void {
    this.model.lastAutoStop = undefined;
    this.model.setRecording(s, 'manual');
  }

  tamper(): void {
    this.sendNotification({ type: 'tamper' });
  }

  /** Docked (charging) or not. */
  setCharging(charging: boolean): void {
    this.model.charging = charging;
    this.sendNotification({ type: 'battery', pct: Math.floor(this.model.batteryPct), charging });
  }

  /** The last GNSS fix, drawn on frames. */
  setPosition(fix: Fix): void {
    this.model.position = fix;
    this.writeOverlay(false);
  }

  /** The text ffmpeg burns into the picture: officer and position (the clock it draws itself). Written at most twice a second, atomically. */
  private writeOverlay(force: boolean): void {
    if (!this.overlayFile) return;
    const now = Date.now();
    if (!force && now - this.overlayAt < 500) return;
    this.overlayAt = now;
    const id = this.model.identity;
    const p = this.model.position;
    const pos = p ? `${p.lat.toFixed(6)} ${p.lon.toFixed(6)}` : 'no fix';
    try {
      writeFileSync(`${this.overlayFile}.tmp`, `${this.opts.deviceId}  officer ${id.officerNumber}\n${pos}`);
      renameSync(`${this.overlayFile}.tmp`, this.overlayFile);
    } catch {
      // a full or missing tmp dir only costs the overlay
    }
  }

  // the link ----------------------------------------------------------------
  /** Speaks the protocol on `stream` (replacing any previous link). A dead camera comes back. */
  serve(stream: Duplex): void {
    this.detach();
    this.dead = false;
    const decoder = new FrameDecoder((f) => {
      this.queue = this.queue.then(() => this.handle(f)).catch(() => {});
    });
    const onData = (d: Buffer) => decoder.push(d);
    const onClose = () => {
      if (this.stream === stream) this.detach();
    };
    const onError = () => {};
    stream.on('data', onData);
    stream.on('close', onClose);
    stream.on('end', onClose);
    stream.on('error', onError);
    this.stream = stream;
    this.decoder = decoder;
    this.streamListeners = () => {
      stream.off('data', onData);
      stream.off('close', onClose);
      stream.off('end', onClose);
    };
  }

  /** The cable is pulled: the camera keeps running but talks to nobody. */
  detach(): void {
    this.stopLive();
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    this.streamListeners?.();
    this.streamListeners = undefined;
    if (this.decoder) {
      for (const [k, v] of Object.entries(this.decoder.counters)) this.retiredDecoderRejects[k] = (this.retiredDecoderRejects[k] ?? 0) + v;
    }
    this.decoder = undefined;
    this.stream = undefined;
  }

  /** Switches the camera off: closes any open recording. Does not close the stream. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.detach();
    await this.queue;
    this.model.shutdown();
    await this.model.settled();
    await this.video?.close();
    if (this.overlayFile) rmSync(this.overlayFile, { force: true });
  }

  private send(frame: Frame, kind: Outgoing['kind']): void {
    if (!this.stream || this.dead || this.stopped) return;
    const out: Outgoing = { bytes: encodeFrame(frame), kind, delayMs: 0, drop: false };
    for (const b of this.behaviours) b.outgoing?.(this.model, out);
    if (out.drop) return;
    const stream = this.stream;
    const write = () => {
      if (this.stream !== stream || this.dead || stream.destroyed) return;
      if (out.dieAfterBytes !== undefined) {
        stream.write(out.bytes.subarray(0, out.dieAfterBytes));
        this.dead = true;
        this.stopLive();
        return;
      }
      stream.write(out.bytes);
    };
    if (out.delayMs > 0) {
      const t = setTimeout(() => {
        this.pending.delete(t);
        write();
      }, out.delayMs);
      this.pending.add(t);
    } else write();
  }

  private sendNotification(n: CameraNotification): void {
    const w = writeNotification(new TlvWriter(this.textEncoding), n);
    this.send({ type: notificationType(n), flags: Flag.NOTIFICATION, requestId: 0, payload: w.toBuffer() }, 'notification');
  }

  private textFlags(): number {
    return this.textEncoding === 'gbk' ? Flag.TEXT_GBK : 0;
  }

  private async handle(req: Frame): Promise<void> {
    if (this.dead || this.stopped) return;
    if (req.flags & (Flag.RESPONSE | Flag.NOTIFICATION | Flag.ERROR)) {
      this.stats.unexpected!++;
      return;
    }
    this.stats.requests!++;
    let w = new TlvWriter(this.textEncoding);
    let flags = Flag.RESPONSE | this.textFlags();
    try {
      const r = new TlvReader(req.payload, textEncodingOf(req.flags), `request type ${req.type}`);
      await this.dispatch(req.type, r, w);
    } catch (err) {
      this.stats.refused!++;
      flags |= Flag.ERROR;
      w = writeError(new TlvWriter(this.textEncoding), errorCodeOf(err), describeError(err));
    }
    this.send({ type: req.type, flags, requestId: req.requestId, payload: w.toBuffer() }, 'response');
  }

  private async dispatch(type: number, r: TlvReader, w: TlvWriter): Promise<void> {
    const m = this.model;
    switch (type) {
      case Msg.IDENTIFY:
        writeIdentity(w, m.identity);
        return;
      case Msg.STATUS:
        writeStatus(w, { recording: m.recording, batteryPct: Math.floor(m.batteryPct), charging: m.charging, storageTotal: m.storageTotal, storageFree: m.storageFree, clockMs: m.clockMs() });
        return;
      case Msg.CLOCK_READ:
        w.i64(Tag.CLOCK, m.clockMs());
        return;
      case Msg.CLOCK_SET: {
        const ms = r.i64(Tag.CLOCK, 'clock');
        m.clockOffsetMs = ms - m.now();
        return;
      }
      case Msg.BIND_OFFICER: {
        const b = readBinding(r);
        checkBinding(b);
        m.identity = { ...m.identity, ...b };
        this.writeOverlay(true);
        return;
      }
      case Msg.SNAPSHOT: {
        const q = r.opt(Tag.QUALITY, r.u8, 'quality') ?? 60;
        if (q < 1 || q > 100) throw new BwcError('CAMERA_BAD_ARGUMENT', `quality must be 1..100, got ${q}`);
        w.bytes(Tag.JPEG, m.paint(this.stats.snapshots!++, q));
        return;
      }
      case Msg.LIVE_START: {
        if (r.has(Tag.FORMAT)) return this.startVideo(r);
        const fps = r.u8(Tag.FPS, 'fps');
        const quality = r.u8(Tag.QUALITY, 'quality');
        if (fps < 1 || fps > 30) throw new BwcError('CAMERA_BAD_ARGUMENT', `fps must be 1..30, got ${fps}`);
        if (quality < 1 || quality > 100) throw new BwcError('CAMERA_BAD_ARGUMENT', `quality must be 1..100, got ${quality}`);
        this.stopLive();
        const live = { timer: setInterval(() => this.sendLiveFrame(), 1000 / fps), quality, index: 0 };
        live.timer.unref();
        this.live = live;
        // The first frame right after the answer, not one period later.
        setImmediate(() => this.sendLiveFrame());
        return;
      }
      case Msg.LIVE_STOP:
        this.stopLive();
        return;
      case Msg.LIVE_KEYFRAME:
        if (!this.video?.active) throw new BwcError('CAMERA_BAD_REQUEST', 'no live video is running');
        this.liveVideo!.needKey = false;
        this.video.requestKeyframe();
        return;
      case Msg.LIST_RECORDINGS: {
        const fromMs = r.opt(Tag.FROM, r.i64, 'from');
        const toMs = r.opt(Tag.TO, r.i64, 'to');
        const range: { fromMs?: number; toMs?: number } = {};
        if (fromMs !== undefined) range.fromMs = fromMs;
        if (toMs !== undefined) range.toMs = toMs;
        for (const rec of await (await this.footage).listRecordings(range)) writeRecording(w, rec);
        return;
      }
      case Msg.READ_CLIP: {
        const id = r.str(Tag.ID, 'id');
        const offset = r.i64(Tag.OFFSET, 'offset');
        const length = r.u32(Tag.LENGTH, 'length');
        if (length > MAX_CLIP_READ) throw new BwcError('CAMERA_BAD_ARGUMENT', `a clip read is at most ${MAX_CLIP_READ} bytes, got ${length}`);
        w.bytes(Tag.DATA, await (await this.footage).readClip(id, offset, length));
        return;
      }
      case Msg.NOTIFY_OFFICER: {
        const a = readAlert(r);
        this.alerts.push({ ...a, atMs: m.clockMs() });
        return;
      }
      case Msg.WRITE_SETTINGS:
        Object.assign(this.settings, readSettingsPayload(r));
        return;
      default:
        throw new BwcError('CAMERA_UNSUPPORTED', `message type ${type} is not supported`);
    }
  }

  private sendLiveFrame(): void {
    const live = this.live;
    if (!live || !this.stream) return;
    if (this.stream.writableLength > LIVE_BACKLOG_BYTES) {
      this.stats.liveFramesSkipped!++;
      return;
    }
    const f = { index: live.index++, timeMs: this.model.clockMs(), jpeg: this.model.paint(live.index - 1, live.quality) };
    this.stats.liveFramesSent!++;
    const w = writeLiveFrame(new TlvWriter(this.textEncoding), f);
    this.send({ type: Msg.N_LIVE_FRAME, flags: Flag.NOTIFICATION, requestId: 0, payload: w.toBuffer() }, 'notification');
  }

  private stopLive(): void {
    if (this.live) clearInterval(this.live.timer);
    this.live = undefined;
    this.video?.stop();
    this.liveVideo = undefined;
  }

  private liveVideo: { needKey: boolean } | undefined;

  private startVideo(r: TlvReader): void {
    const format = r.u8(Tag.FORMAT, 'format');
    if (format !== LIVE_FORMAT_H264) throw new BwcError('CAMERA_BAD_ARGUMENT', `live format ${format} is not known`);
    if (!this.video) throw new BwcError('CAMERA_UNSUPPORTED', 'this camera has no video encoder (ffmpeg missing): JPEG live frames only');
    const fps = r.u8(Tag.FPS, 'fps');
    if (fps < 1 || fps > 30) throw new BwcError('CAMERA_BAD_ARGUMENT', `fps must be 1..30, got ${fps}`);
    const kbps = r.opt(Tag.BITRATE, r.u32, 'bitrate');
    const width = r.opt(Tag.WIDTH, r.u32, 'width');
    const height = r.opt(Tag.HEIGHT, r.u32, 'height');
    this.stopLive();
    const ready = { width: 1280, height: 720, fps: 25, kbps: 1000, ...this.opts.video?.live };
    const params: SimLiveParams = {
      width: width && height ? width : ready.width,
      height: width && height ? height : ready.height,
      fps,
      kbps: kbps && kbps > 0 ? Math.min(kbps, ready.kbps) : ready.kbps,
    };
    const state = { needKey: false };
    this.liveVideo = state;
    this.video.start(params, (u) => {
      const stream = this.stream;
      if (!stream) return;
      // A link that cannot keep up loses whole GOPs: skip to the next keyframe, which is asked for at once.
      if (state.needKey && !u.keyframe) {
        this.stats.liveFramesSkipped!++;
        return;
      }
      if (stream.writableLength > LIVE_BACKLOG_BYTES) {
        this.stats.liveFramesSkipped!++;
        if (!state.needKey) {
          state.needKey = true;
          this.video?.requestKeyframe();
        }
        return;
      }
      state.needKey = false;
      this.stats.liveFramesSent!++;
      const w = writeLiveVideoUnit(new TlvWriter(this.textEncoding), { index: u.index, timeMs: u.captureMs, ptsUs: u.ptsUs, keyframe: u.keyframe, data: u.data });
      this.send({ type: Msg.N_LIVE_FRAME, flags: Flag.NOTIFICATION, requestId: 0, payload: w.toBuffer() }, 'notification');
    }, (reason) => {
      this.liveVideo = undefined;
      this.opts.video?.onError?.(reason);
      const w = new TlvWriter(this.textEncoding).str(Tag.ERROR_MESSAGE, reason);
      this.send({ type: Msg.N_LIVE_END, flags: Flag.NOTIFICATION, requestId: 0, payload: w.toBuffer() }, 'notification');
    });
  }
}

const ANSWERABLE: readonly CameraErrorCode[] = ['BAD_REQUEST', 'BAD_ARGUMENT', 'NOT_FOUND', 'BUSY', 'UNSUPPORTED', 'INTERNAL'];

function errorCodeOf(err: unknown): CameraErrorCode {
  if (!(err instanceof BwcError)) return 'INTERNAL';
  switch (err.code) {
    case 'CAMERA_BAD_PAYLOAD': return 'BAD_REQUEST';
    case 'FOOTAGE_NOT_FOUND': return 'NOT_FOUND';
    case 'FOOTAGE_BAD_ID': case 'FOOTAGE_BAD_PATH': case 'FOOTAGE_BAD_RANGE': return 'BAD_ARGUMENT';
  }
  const c = err.code.replace(/^CAMERA_/, '') as CameraErrorCode;
  return ANSWERABLE.includes(c) ? c : 'INTERNAL';
}
