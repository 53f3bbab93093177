import { ANNEXB_OUT, x264LiveArgs } from '../../drivers/video/ffmpeg-args.js';
import { FfmpegProcess, describeExit } from '../../drivers/video/ffmpeg-process.js';
import { AccessUnitSplitter, inspectUnit } from '../../drivers/video/annexb.js';
import type { AccessUnit, VideoEnd, VideoSource, VideoStream, VideoStreamOptions } from '../../drivers/video/video-source.js';

/**
 * A moving test pattern (ffmpeg lavfi testsrc2, libx264, paced to real
 * time): the video of a channel whose camera has no video of its own, and
 * of the GB/T 28181 tests and benchmarks. Keyframe every second; an IDR on
 * request is not possible (the next one is at most a second away).
 */
export class LavfiVideoSource implements VideoSource {
  readonly kind = 'lavfi';
  readonly describe: string;

  constructor(private readonly o: { width?: number; height?: number; label?: string } = {}) {
    this.describe = `testsrc2 ${o.width ?? 640}x${o.height ?? 360}${o.label ? ` (${o.label})` : ''}`;
  }

  async open(opts: VideoStreamOptions, onUnit: (u: AccessUnit) => void): Promise<VideoStream> {
    const fps = Math.max(1, opts.fps);
    const w = opts.width ?? this.o.width ?? 640;
    const h = opts.height ?? this.o.height ?? 360;
    const proc = new FfmpegProcess([
      '-re', '-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=${fps}`,
      ...x264LiveArgs({ fps, kbps: opts.maxKbps || 1000 }),
      ...ANNEXB_OUT,
    ]);
    let index = 0;
    let started = false;
    const t0 = Date.now();
    const splitter = new AccessUnitSplitter((au) => {
      const info = inspectUnit(au);
      if (info.slices === 0) return;
      if (!started && !info.keyframe) return;
      started = true;
      const i = index++;
      onUnit({ data: au, keyframe: info.keyframe, ptsUs: Math.round((i * 1_000_000) / fps), captureMs: t0 + (i * 1000) / fps, index: i });
    });
    proc.child.stdout.on('data', (c: Buffer) => splitter.push(c));
    const ended: Promise<VideoEnd> = proc.exited.then((e) => {
      splitter.flush();
      return e.stopped ? { kind: 'stopped', reason: 'stopped' } : { kind: e.code === 0 ? 'ended' : 'failed', reason: describeExit(e) };
    });
    return {
      requestKeyframe: () => false,
      stop: async () => {
        await proc.stop();
      },
      ended,
    };
  }
}
