import { existsSync } from 'node:fs';
import { AccessUnitSplitter, inspectUnit, stampUnit } from '../../drivers/video/annexb.js';
import { ANNEXB_OUT, x264LiveArgs } from '../../drivers/video/ffmpeg-args.js';
import { describeExit, FfmpegProcess } from '../../drivers/video/ffmpeg-process.js';

export interface SimLiveParams {
  width: number;
  height: number;
  fps: number;
  kbps: number;
}

export interface SimLiveUnit {
  index: number;
  captureMs: number;
  ptsUs: number;
  keyframe: boolean;
  data: Buffer;
}

/** The small picture the simulator paints; ffmpeg scales it up and burns the text in. */
const SRC_W = 64;
const SRC_H = 36;
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

/**
 * One encoder: ffmpeg reading raw frames on stdin. Started ahead of use
 * (loading ffmpeg takes half a second here; with frames from stdin it waits,
 * idle, until the first one), so a live start or a keyframe request costs
 * only the encoding of one frame. Its first output is an IDR.
 */
class Encoder {
  readonly proc: FfmpegProcess;
  /** Capture times of the frames written, in order: x264 (zerolatency, no B-frames) gives one unit per frame. */
  readonly inFlight: { index: number; captureMs: number }[] = [];
  onUnit: ((au: Buffer, frame: { index: number; captureMs: number } | undefined) => void) | undefined;

  constructor(readonly params: SimLiveParams, textFile: string, ffmpegPath: string) {
    const font = existsSync(FONT) ? `fontfile=${FONT}:` : '';
    const size = Math.max(12, Math.round(params.height / 20));
    const box = 'box=1:boxcolor=black@0.6:boxborderw=4:fontcolor=white';
    const vf = [
      `scale=${params.width}:${params.height}:flags=neighbor`,
      `drawtext=${font}textfile=${textFile.replace(/[\\:',;[\]=]/g, (c) => `\\${c}`)}:reload=1:x=8:y=8:fontsize=${size}:${box}`,
      `drawtext=${font}text=%{localtime}:x=8:y=h-${size * 2}:fontsize=${size}:${box}`,
    ].join(',');
    this.proc = new FfmpegProcess([
      '-probesize', '32', '-analyzeduration', '0', '-fflags', 'nobuffer',
      '-f', 'rawvideo', '-pix_fmt', 'gray', '-video_size', `${SRC_W}x${SRC_H}`, '-framerate', String(params.fps), '-i', 'pipe:0',
      '-vf', vf, '-fps_mode', 'passthrough',
      ...x264LiveArgs({ fps: params.fps, kbps: params.kbps }), ...ANNEXB_OUT,
    ], ffmpegPath);
    const splitter = new AccessUnitSplitter((au) => this.onUnit?.(au, this.inFlight.shift()));
    this.proc.child.stdout.on('data', (d: Buffer) => splitter.push(d));
    this.proc.child.stdout.on('end', () => splitter.flush());
  }

  fits(p: SimLiveParams): boolean {
    const q = this.params;
    return q.width === p.width && q.height === p.height && q.fps === p.fps && q.kbps === p.kbps;
  }

  write(frame: Buffer, index: number, captureMs: number): boolean {
    const stdin = this.proc.child.stdin;
    if (stdin.destroyed || !stdin.writable) return false;
    // More than a few frames waiting: the encoder cannot keep up; the camera skips the frame.
    if (stdin.writableLength > 4 * frame.length) return false;
    this.inFlight.push({ index, captureMs });
    stdin.write(frame);
    return true;
  }
}

export interface SimLiveVideoOptions {
  /** Burned-in text (officer, position), re-read by ffmpeg every frame. */
  textFile: string;
  ffmpegPath?: string;
  /** The camera clock, Unix ms. */
  clockMs: () => number;
  /** Parameters of the encoder kept ready. */
  ready: SimLiveParams;
}

/**
 * The simulated camera's live H.264: the simulator is the image sensor
 * (it paints a small moving pattern at the frame rate, so it knows each
 * frame's capture time exactly), ffmpeg is the encoder. Every unit gets an
 * SEI with its capture time (protocol/README.md, "Capture time in the stream").
 * A keyframe request switches to the encoder kept ready, whose first unit is an IDR.
 */
export class SimLiveVideo {
  private current: Encoder | undefined;
  private spare: Encoder | undefined;
  private timer: NodeJS.Timeout | undefined;
  private params: SimLiveParams | undefined;
  private index = 0;
  private startedAt = 0;
  private firstIndex = -1;
  private readonly frame = Buffer.alloc(SRC_W * SRC_H);
  private onUnit: ((u: SimLiveUnit) => void) | undefined;
  private onEnd: ((reason: string) => void) | undefined;
  private closed = false;
  /** Fault injection for chaos tests: a transform applied to each unit before it goes out. */
  mangle: ((u: SimLiveUnit) => SimLiveUnit | undefined) | undefined;
  readonly stats = { frames: 0, skipped: 0, units: 0, encoders: 0 };

  constructor(private readonly o: SimLiveVideoOptions) {
    this.spare = this.spawn(o.ready);
  }

  get active(): boolean {
    return this.params !== undefined;
  }

  private spawn(p: SimLiveParams): Encoder {
    this.stats.encoders++;
    const e = new Encoder(p, this.o.textFile, this.o.ffmpegPath ?? 'ffmpeg');
    void e.proc.exited.then((x) => {
      if (this.spare === e) this.spare = undefined;
      if (this.current === e && !x.stopped) this.fail(describeExit(x));
    });
    return e;
  }

  start(p: SimLiveParams, onUnit: (u: SimLiveUnit) => void, onEnd: (reason: string) => void): void {
    this.stop();
    this.params = p;
    this.onUnit = onUnit;
    this.onEnd = onEnd;
    this.index = 0;
    this.firstIndex = -1;
    this.switchEncoder();
    this.startedAt = Date.now();
    const period = 1000 / p.fps;
    let n = 0;
    const tick = () => {
      if (!this.params) return;
      this.paintAndWrite();
      n++;
      // Paced against the start time, so timer lateness does not accumulate.
      this.timer = setTimeout(tick, Math.max(0, this.startedAt + (n + 1) * period - Date.now()));
    };
    tick();
  }

  /** Makes the next unit an IDR: the next frames go to a fresh encoder. */
  requestKeyframe(): void {
    if (this.params) this.switchEncoder();
  }

  private switchEncoder(): void {
    const p = this.params!;
    const old = this.current;
    const spare = this.spare;
    this.spare = undefined;
    if (spare && spare.fits(p)) this.current = spare;
    else {
      // An encoder of other parameters is of no use here: it goes.
      if (spare) void spare.proc.stop();
      this.current = this.spawn(p);
    }
    if (old) {
      old.onUnit = undefined;
      void old.proc.stop();
    }
    const enc = this.current;
    enc.onUnit = (au, f) => this.deliver(enc, au, f);
    // The next keyframe request finds an encoder ready; spawned after the camera has answered
    // (a fork can take a while on a loaded machine).
    setImmediate(() => {
      if (!this.closed && this.current === enc && !this.spare) this.spare = this.spawn(p);
    });
  }

  private paintAndWrite(): void {
    const i = this.index++;
    // A bar moving down and a block moving across: motion for the encoder, cheap to paint.
    const f = this.frame;
    f.fill(40);
    f.fill(200, (i % SRC_H) * SRC_W, (i % SRC_H) * SRC_W + SRC_W);
    const x = i % SRC_W;
    for (let y = 10; y < 26; y++) f.fill(250, y * SRC_W + x, y * SRC_W + Math.min(SRC_W, x + 6));
    this.stats.frames++;
    if (!this.current?.write(f, i, this.o.clockMs())) this.stats.skipped++;
  }

  private deliver(enc: Encoder, au: Buffer, f: { index: number; captureMs: number } | undefined): void {
    if (enc !== this.current || !this.params || !this.onUnit) return;
    const info = inspectUnit(au);
    const frame = f ?? { index: this.index, captureMs: this.o.clockMs() };
    if (this.firstIndex < 0) this.firstIndex = frame.index;
    let u: SimLiveUnit | undefined = {
      index: frame.index,
      captureMs: frame.captureMs,
      ptsUs: Math.round(((frame.index - this.firstIndex) * 1_000_000) / this.params.fps),
      keyframe: info.keyframe,
      data: stampUnit(au, frame.captureMs),
    };
    if (this.mangle) u = this.mangle(u);
    if (!u) return;
    this.stats.units++;
    this.onUnit(u);
  }

  private fail(reason: string): void {
    const onEnd = this.onEnd;
    this.stop();
    onEnd?.(reason);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.params = undefined;
    this.onUnit = undefined;
    this.onEnd = undefined;
    const cur = this.current;
    this.current = undefined;
    if (cur) {
      cur.onUnit = undefined;
      void cur.proc.stop();
    }
    // The next feed finds an encoder of the usual parameters ready.
    if (!this.closed && this.spare && !this.spare.fits(this.o.ready)) {
      void this.spare.proc.stop();
      this.spare = this.spawn(this.o.ready);
    }
  }

  /** The sensor changes resolution mid-stream (chaos tests): a new encoder, whose first unit is an IDR with the new SPS. */
  changeSize(width: number, height: number): void {
    if (!this.params) return;
    this.params = { ...this.params, width, height };
    this.switchEncoder();
  }

  /** Kills the current encoder as if it crashed (chaos tests). */
  killEncoder(): void {
    const pid = this.current?.proc.pid;
    if (pid) process.kill(pid, 'SIGKILL');
  }

  async close(): Promise<void> {
    this.closed = true;
    const procs = [this.current, this.spare].filter((e): e is Encoder => e !== undefined);
    this.stop();
    this.spare = undefined;
    await Promise.all(procs.map((e) => e.proc.stop()));
  }
}
