import type {
  CameraIdentity, CameraNotification, RecordingState, RecordingTrigger,
} from '../../drivers/camera/camera-driver.js';
import type { Fix } from '../../protocol/fix.js';
import { SeededRandom } from '../gnss/random.js';
import { DEFAULT_QUALITY, FramePainter } from '../media/frame-painter.js';
import { FootageRecorder } from './footage-recorder.js';
import { Mp4Recorder } from '../video/mp4-recorder.js';

/** Recording as real MP4 through ffmpeg (the simulator's video option). */
export interface ModelVideoRecording {
  width: number;
  height: number;
  fps: number;
  textFile: string;
  ffmpegPath?: string;
  onError?: (reason: string) => void;
}

/**
 * The state of one simulated camera, changed by its behaviours (recording
 * plan, battery, storage, clock) and by requests. Notifications go out
 * through `emit`, which the SimCamera wires to its link.
 */
export class CameraModel {
  readonly rng: SeededRandom;
  readonly painter = new FramePainter();
  identity: CameraIdentity;
  recording: RecordingState = 'off';
  batteryPct: number;
  charging: boolean;
  readonly storageTotal: number;
  /** Bytes used by things other than our recordings (seeded). */
  storageUsedBase: number;
  storageWritten = 0;
  /** camera clock = host clock + offset (drift moves the offset) */
  clockOffsetMs = 0;
  position: Fix | undefined;
  recorder: FootageRecorder | Mp4Recorder | undefined;
  /** Set: recordings are MP4 files made by ffmpeg; unset: MJPEG painted here. */
  videoRecording: ModelVideoRecording | undefined;
  /** MP4 recordings whose file is being closed and hashed. */
  private readonly finishing = new Set<Promise<unknown>>();
  private recordingSeq = 0;
  /** The number the next footage frame gets in its recording. */
  footageQuality = DEFAULT_QUALITY;
  /** Listeners of notifications (the link). */
  emit: (n: CameraNotification) => void = () => {};
  /** Why recording stopped on its own, for people watching the simulator. */
  lastAutoStop: string | undefined;

  constructor(
    readonly deviceId: string,
    identity: CameraIdentity,
    readonly footageDir: string,
    seed: number,
    readonly now: () => number,
    opts: { batteryPct?: number; charging?: boolean; storageTotal?: number } = {},
  ) {
    this.rng = new SeededRandom(seed);
    this.identity = { ...identity };
    this.batteryPct = opts.batteryPct ?? this.rng.range(60, 100);
    this.charging = opts.charging ?? false;
    this.storageTotal = opts.storageTotal ?? 32 * 1024 ** 3;
    this.storageUsedBase = Math.floor(this.storageTotal * this.rng.range(0.05, 0.4));
  }

  clockMs(): number {
    return Math.round(this.now() + this.clockOffsetMs);
  }

  get storageFree(): number {
    return Math.max(0, this.storageTotal - this.storageUsedBase - this.storageWritten);
  }

  /** Moves to a recording state; opening or closing footage as needed. */
  setRecording(state: RecordingState, trigger: RecordingTrigger = 'manual'): void {
    if (state === this.recording) return;
    if (this.recording === 'recording') this.finishFootage();
    this.recording = state;
    if (state === 'recording') {
      const t = this.clockMs();
      const stamp = new Date(t).toISOString().replace(/[-:T]/g, '').slice(0, 14);
      const id = `${this.identity.serial}_${stamp}_${String(++this.recordingSeq).padStart(4, '0')}`;
      this.recorder = this.videoRecording
        ? new Mp4Recorder(this.footageDir, id, t, this.identity.officerNumber, trigger, this.videoRecording)
        : new FootageRecorder(this.footageDir, id, t, this.identity.officerNumber, trigger);
      this.recordFrame();
    }
    this.emit({ type: 'recording', state });
  }

  /** Paints one frame of "now" (snapshots, live frames, footage). */
  paint(index: number, quality: number): Buffer {
    const content = { deviceId: this.deviceId, timeMs: this.clockMs(), index };
    return this.painter.paintJpeg(this.position ? { ...content, fix: this.position } : content, quality);
  }

  recordFrame(): void {
    const rec = this.recorder;
    if (!rec) return;
    if (rec instanceof Mp4Recorder) {
      // ffmpeg draws and writes the frames; here only the storage is watched.
      rec.frames++;
      if (rec.bytes > this.storageFree) {
        this.lastAutoStop = 'storage full';
        this.setRecording('off');
      }
      return;
    }
    const jpeg = this.paint(rec.frames, this.footageQuality);
    if (jpeg.length > this.storageFree) {
      this.lastAutoStop = 'storage full';
      this.setRecording('off');
      return;
    }
    rec.append(jpeg);
    this.storageWritten += jpeg.length;
  }

  private finishFootage(): void {
    const rec = this.recorder;
    if (!rec) return;
    this.recorder = undefined;
    if (rec instanceof Mp4Recorder) {
      const p = rec.finish(this.clockMs()).then((m) => {
        if (m) this.storageWritten += m.size;
        this.emit({ type: 'storage', free: this.storageFree, total: this.storageTotal });
      });
      this.finishing.add(p);
      void p.finally(() => this.finishing.delete(p));
      return;
    }
    rec.finish(this.clockMs());
    this.emit({ type: 'storage', free: this.storageFree, total: this.storageTotal });
  }

  /** Resolves when every MP4 recording that ended has its file and manifest. */
  async settled(): Promise<void> {
    while (this.finishing.size > 0) await Promise.all([...this.finishing]);
  }

  /** Closes an open recording (the simulator stops). */
  shutdown(): void {
    if (this.recording === 'recording') this.finishFootage();
  }
}
