import { BwcError } from '../../common/errors.js';
import { describeExit, FfmpegProcess } from './ffmpeg-process.js';
import type { AccessUnit, VideoSource } from './video-source.js';

/**
 * A snapshot of a video source: its first keyframe, decoded to JPEG by
 * ffmpeg. What the picture shows is what a live feed would show.
 */
export async function keyframeSnapshot(source: VideoSource, opts: { quality?: number; ffmpegPath?: string; timeoutMs?: number } = {}): Promise<{ jpeg: Buffer; captureMs: number }> {
  let got: (u: AccessUnit) => void = () => {};
  const first = new Promise<AccessUnit>((r) => (got = r));
  const stream = await source.open({ fps: 5, maxKbps: 0 }, (u) => {
    if (u.keyframe) got(u);
  });
  let unit: AccessUnit;
  try {
    const timeoutMs = opts.timeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      first,
      stream.ended.then((e) => e),
      new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new BwcError('CAMERA_TIMEOUT', `no keyframe from the ${source.kind} source within ${timeoutMs / 1000} s`);
    if ('kind' in outcome && !('data' in outcome)) throw new BwcError('CAMERA_ERROR', `the ${source.kind} source ended before a keyframe: ${outcome.reason}`);
    unit = outcome as AccessUnit;
  } finally {
    await stream.stop();
  }
  return { jpeg: await decodeToJpeg(unit.data, opts.quality ?? 80, opts.ffmpegPath), captureMs: unit.captureMs };
}

/** One H.264 keyframe (Annex B, SPS/PPS in front) to a JPEG. */
export async function decodeToJpeg(keyframe: Buffer, quality: number, ffmpegPath?: string): Promise<Buffer> {
  // JPEG quality 1..100 onto ffmpeg's mjpeg qscale 31..2.
  const q = Math.round(31 - ((Math.max(1, Math.min(100, quality)) - 1) / 99) * 29);
  const p = new FfmpegProcess(['-f', 'h264', '-i', 'pipe:0', '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', String(q), '-f', 'image2pipe', 'pipe:1'], ffmpegPath);
  const out: Buffer[] = [];
  p.child.stdout.on('data', (d: Buffer) => out.push(d));
  p.child.stdin.end(keyframe);
  const timer = setTimeout(() => void p.stop(), 10_000);
  const exit = await p.exited;
  clearTimeout(timer);
  const jpeg = Buffer.concat(out);
  if (exit.code !== 0 || jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new BwcError('CAMERA_ERROR', `the keyframe did not decode to a JPEG: ${describeExit(exit)}`);
  return jpeg;
}
