import { access, constants } from 'node:fs/promises';
import { BwcError } from '../../common/errors.js';
import { AccessUnitSplitter, inspectUnit } from './annexb.js';
import { redactUrl, rtspArgs, v4l2Args, type V4l2Input } from './ffmpeg-args.js';
import { describeExit, FfmpegProcess } from './ffmpeg-process.js';
import type { AccessUnit, VideoEnd, VideoSource, VideoStream, VideoStreamOptions } from './video-source.js';

export interface FfmpegSourceOptions {
  ffmpegPath?: string;
  /** No unit for this long ends the stream (a frozen camera, a dead RTSP server), ms. */
  stallMs?: number;
  /** Runs before ffmpeg starts; throws when the source cannot be there (a V4L2 node that does not exist). */
  precheck?: () => Promise<void>;
}

/**
 * Presentation times for units stamped on arrival. A raw H.264 pipe carries
 * no timestamps, and units come in bursts (a loaded machine, a Wi-Fi
 * hiccup, ffmpeg writing two frames at once): bare arrival times would put
 * frames a millisecond apart. A unit is placed at its arrival, but at least
 * half the stream's average frame interval after the previous one; after a
 * burst the times catch up with arrival again, so they never drift.
 */
export class ArrivalClock {
  private first = -1;
  private last = -1;
  private n = 0;

  /** `nominalFps`: the rate asked for, used until the stream's own is known. */
  constructor(private readonly nominalFps: number) {}

  /** Microseconds since the first unit, for a unit arriving at `nowMs`. */
  pts(nowMs: number): number {
    if (this.first < 0) {
      this.first = nowMs;
      this.last = 0;
      this.n = 1;
      return 0;
    }
    const arrival = (nowMs - this.first) * 1000;
    const gap = this.n >= 5 ? arrival / this.n : 1_000_000 / Math.max(1, this.nominalFps);
    this.last = Math.round(Math.max(arrival, this.last + gap / 2));
    this.n++;
    return this.last;
  }
}

/**
 * A source read through an ffmpeg child process writing Annex B to stdout:
 * a V4L2/UVC device or an RTSP URL. ffmpeg runs in its own process group and
 * dies with the stream. Timestamps come from arrival (a raw H.264 pipe has
 * none): pts from the first unit (ArrivalClock), capture time = arrival
 * unless the camera stamps its units with the capture-time SEI. The stream
 * ending by itself is a failure with its reason: a live camera does not end.
 */
export class FfmpegVideoSource implements VideoSource {
  constructor(
    readonly kind: 'v4l2' | 'rtsp',
    readonly describe: string,
    private readonly args: (o: VideoStreamOptions) => string[],
    private readonly o: FfmpegSourceOptions = {},
  ) {}

  async open(opts: VideoStreamOptions, onUnit: (u: AccessUnit) => void): Promise<VideoStream> {
    await this.o.precheck?.();
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
    const clock = new ArrivalClock(opts.fps);
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
      onUnit({ data: au, keyframe: info.keyframe, ptsUs: clock.pts(now), captureMs: info.captureMs ?? now, index: index++ });
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
      // A live source does not end by itself: ffmpeg ending cleanly means the input did.
      const closed = this.kind === 'rtsp' ? 'the RTSP server closed it' : 'the device stopped sending';
      finish(x.code === 0
        ? { kind: 'failed', reason: `${this.kind} ${this.describe}: the stream ended (${closed})${x.stderrTail ? `: ${x.stderrTail}` : ''}` }
        : { kind: 'failed', reason: `${this.kind} ${this.describe}: ${describeExit(x)}` });
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
  return new FfmpegVideoSource('v4l2', device, (s) => v4l2Args({ device, input, fps: s.fps, kbps: s.maxKbps || 2000, ...(s.width && s.height ? { width: s.width, height: s.height } : {}) }), { precheck: () => checkV4l2Node(device), ...o });
}

/** A V4L2 node the agent can open, or an error that says what to do. */
export async function checkV4l2Node(device: string): Promise<void> {
  try {
    await access(device, constants.R_OK | constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') throw new BwcError('CAMERA_NOT_FOUND', `v4l2 device ${device} does not exist: is the camera plugged in? (bwc-agent devices lists the video nodes found)`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new BwcError('CAMERA_ERROR', `v4l2 device ${device} cannot be opened (${code}): add the agent's user to the video group`, { cause: err });
    throw new BwcError('CAMERA_ERROR', `v4l2 device ${device} cannot be opened (${code})`, { cause: err });
  }
}

export function rtspSource(url: string, o: FfmpegSourceOptions = {}): FfmpegVideoSource {
  return new FfmpegVideoSource('rtsp', redactUrl(url), () => rtspArgs({ url }), o);
}
