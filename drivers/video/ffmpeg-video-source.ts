import { AccessUnitSplitter, inspectUnit } from './annexb.js';
import { redactUrl, rtspArgs, v4l2Args, type V4l2Input } from './ffmpeg-args.js';
import { describeExit, FfmpegProcess } from './ffmpeg-process.js';
import type { AccessUnit, VideoEnd, VideoSource, VideoStream, VideoStreamOptions } from './video-source.js';

export interface FfmpegSourceOptions {
  ffmpegPath?: string;
  /** No unit for this long ends the stream (a frozen camera, a dead RTSP server), ms. */
  stallMs?: number;
}

/**
 * A source read through an ffmpeg child process writing Annex B to stdout:
 * a V4L2/UVC device or an RTSP URL. ffmpeg runs in its own process group and
 * dies with the stream. Timestamps come from arrival (a raw H.264 pipe has
 * none): pts from the first unit, capture time = arrival unless the camera
 * stamps its units with the capture-time SEI.
 */
export class FfmpegVideoSource implements VideoSource {
  constructor(
    readonly kind: 'v4l2' | 'rtsp',
    readonly describe: string,
    private readonly args: (o: VideoStreamOptions) => string[],
    private readonly o: FfmpegSourceOptions = {},
  ) {}

  async open(opts: VideoStreamOptions, onUnit: (u: AccessUnit) => void): Promise<VideoStream> {
    const proc = new FfmpegProcess(this.args(opts), this.o.ffmpegPath);
    let settle!: (e: VideoEnd) => void;
    const ended = new Promise<VideoEnd>((r) => (settle = r));
    let over = false;
    const finish = (e: VideoEnd) => {
      if (over) return;
      over = true;
      clearInterval(watchdog);
      settle(e);
    };
    let first = -1;
    let index = 0;
    let lastUnitAt = Date.now();
    let keyed = false;
    const splitter = new AccessUnitSplitter((au) => {
      if (over) return;
      const now = Date.now();
      lastUnitAt = now;
      const info = inspectUnit(au);
      if (!keyed && !info.keyframe) return;
      keyed = true;
      if (first < 0) first = now;
      onUnit({ data: au, keyframe: info.keyframe, ptsUs: (now - first) * 1000, captureMs: info.captureMs ?? now, index: index++ });
    });
    proc.child.stdout.on('data', (d: Buffer) => splitter.push(d));
    proc.child.stdout.on('end', () => splitter.flush());
    const stallMs = this.o.stallMs ?? 5000;
    const watchdog = setInterval(() => {
      if (Date.now() - lastUnitAt > stallMs) {
        finish({ kind: 'failed', reason: `${this.kind} ${this.describe}: no video for ${Math.round(stallMs / 1000)} s` });
        void proc.stop();
      }
    }, 250);
    void proc.exited.then((x) => {
      if (x.stopped) return;
      finish(x.code === 0 ? { kind: 'ended', reason: `${this.kind} ${this.describe} ended` } : { kind: 'failed', reason: `${this.kind} ${this.describe}: ${describeExit(x)}` });
    });
    return {
      // A passed-through stream cannot be told to make an IDR: its next GOP starts with one.
      requestKeyframe: () => false,
      stop: async () => {
        finish({ kind: 'stopped', reason: 'stopped' });
        await proc.stop();
      },
      ended,
    };
  }
}

export function v4l2Source(device: string, input: V4l2Input, o: FfmpegSourceOptions = {}): FfmpegVideoSource {
  return new FfmpegVideoSource('v4l2', device, (s) => v4l2Args({ device, input, fps: s.fps, kbps: s.maxKbps || 2000, ...(s.width && s.height ? { width: s.width, height: s.height } : {}) }), o);
}

export function rtspSource(url: string, o: FfmpegSourceOptions = {}): FfmpegVideoSource {
  return new FfmpegVideoSource('rtsp', redactUrl(url), () => rtspArgs({ url }), o);
}
