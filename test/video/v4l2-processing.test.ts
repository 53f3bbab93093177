import t from 'tap';
import { spawnSync } from 'node:child_process';
import { inspectUnit, nalType, NalType, splitNals } from '../../drivers/video/annexb.js';
import { v4l2Args, v4l2CaptureArgs, v4l2ProcessingArgs } from '../../drivers/video/ffmpeg-args.js';
import { accessUnits as units } from './encode-sample.js';

/**
 * The V4L2/UVC path past the device. This kernel has no V4L2 (no
 * /dev/video*, no v4l2loopback), so the capture half (`-f v4l2 … -i
 * /dev/videoN`) is checked as arguments only; what the agent does with the
 * camera's frames runs in real ffmpeg on input in the formats UVC cameras
 * deliver: a sequence of JPEG frames (MJPEG), or an H.264 elementary stream
 * whose SPS/PPS come once, at the start (as many UVC H.264 cameras send it).
 */

const W = 1280;
const H = 720;

function ffmpeg(args: string[], input?: Buffer): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args], { input, maxBuffer: 512 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

/** ffmpeg's own decoder on a stream: every error it reports. */
function decodeErrors(annexB: Buffer): string {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-f', 'h264', '-i', 'pipe:0', '-f', 'null', '-'], { input: annexB, maxBuffer: 64 * 1024 * 1024 });
  return `${r.status === 0 ? '' : `exit ${r.status} `}${r.stderr.toString().trim()}`;
}

const START = Buffer.from([0, 0, 0, 1]);
const vcl = (au: Buffer) => splitNals(au).filter((n) => nalType(n) === NalType.IDR || nalType(n) === NalType.SLICE);

t.test('capture and processing make the whole V4L2 command line', async (t) => {
  for (const input of ['h264', 'mjpeg'] as const) {
    const o = { device: '/dev/video0', input, fps: 25, width: W, height: H, kbps: 1000 };
    t.same(v4l2Args(o), [...v4l2CaptureArgs(o), ...v4l2ProcessingArgs(o)], input);
  }
});

t.test('an MJPEG camera: transcoded to H.264 under the cap, a keyframe each second, SPS/PPS on every keyframe', async (t) => {
  const FPS = 15;
  const FRAMES = 10 * FPS;
  const KBPS = 800;
  // What a UVC camera in MJPEG mode delivers: one JPEG per frame, about 100 KB each at 720p.
  const mjpeg = ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=${FPS}`, '-frames:v', String(FRAMES), '-c:v', 'mjpeg', '-q:v', '3', '-f', 'mjpeg', 'pipe:1']);
  const inKbps = (mjpeg.length * 8) / (FRAMES / FPS) / 1000;
  const out = ffmpeg(['-f', 'mjpeg', '-framerate', String(FPS), '-i', 'pipe:0', '-an', ...v4l2ProcessingArgs({ input: 'mjpeg', fps: FPS, kbps: KBPS })], mjpeg);
  const aus = units(out);
  t.equal(aus.length, FRAMES, 'one access unit per camera frame');
  const infos = aus.map(inspectUnit);
  t.same(infos.filter((i) => i.defect).map((i) => i.defect), [], 'every unit fit to send');
  t.ok(infos[0]!.keyframe, 'the stream opens with a keyframe');
  const keyAt = infos.flatMap((i, n) => (i.keyframe ? [n] : []));
  t.same(keyAt, Array.from({ length: FRAMES / FPS }, (_, k) => k * FPS), 'a keyframe every second, each with SPS/PPS (else a defect above)');
  const outKbps = (out.length * 8) / (FRAMES / FPS) / 1000;
  // The encoder's rate control (VBV of half a second) keeps the average within a few percent of the cap.
  t.ok(outKbps <= KBPS * 1.05, `bitrate ${outKbps.toFixed(0)} kbit/s for a ${KBPS} kbit/s cap (the camera gave ${inKbps.toFixed(0)} kbit/s of MJPEG)`);
  t.equal(decodeErrors(out), '', 'ffmpeg decodes it without an error');
  const fromSecond = Buffer.concat(aus.slice(keyAt[1]!));
  t.equal(decodeErrors(fromSecond), '', 'and so does a viewer who joins at the second keyframe');
});

t.test('an H.264 camera: passed through unchanged, SPS/PPS added in front of every keyframe', async (t) => {
  const FPS = 25;
  const FRAMES = 3 * FPS;
  // The camera's own encoder: SPS/PPS once, at the start, no AUDs (x264 repeats them on every
  // keyframe, so they are taken out of all but the first).
  const encoded = units(ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=${FPS}`, '-frames:v', String(FRAMES), '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'main', '-g', String(FPS), '-bf', '0', '-b:v', '2M', '-f', 'h264', 'pipe:1']));
  const paramSet = (n: Buffer) => nalType(n) === NalType.SPS || nalType(n) === NalType.PPS || nalType(n) === NalType.AUD;
  const camera = Buffer.concat(encoded.flatMap((u, i) => splitNals(u).filter((n) => i === 0 || !paramSet(n)).flatMap((n) => [START, n])));
  const camUnits = units(camera);
  const camKeys = camUnits.map(inspectUnit).filter((i) => i.keyframe);
  t.equal(camKeys.filter((i) => i.sps).length, 1, 'the camera sends SPS only with its first keyframe');
  t.not(decodeErrors(Buffer.concat(camUnits.slice(FPS))), '', 'so, as it comes, a viewer joining later cannot decode it');

  const out = ffmpeg(['-f', 'h264', '-framerate', String(FPS), '-i', 'pipe:0', '-an', ...v4l2ProcessingArgs({ input: 'h264', fps: FPS, kbps: 0 })], camera);
  const aus = units(out);
  t.equal(aus.length, FRAMES, 'one access unit per camera frame');
  const infos = aus.map(inspectUnit);
  t.same(infos.filter((i) => i.defect).map((i) => i.defect), [], 'every unit fit to send: every keyframe has its SPS/PPS');
  t.equal(infos.filter((i) => i.keyframe).length, FRAMES / FPS, 'the camera\'s keyframes, no more');
  t.ok(aus.every((u, n) => Buffer.concat(vcl(u)).equals(Buffer.concat(vcl(camUnits[n]!)))), 'every picture slice byte for byte the camera\'s: nothing transcoded');
  t.equal(decodeErrors(Buffer.concat(aus.slice(FPS))), '', 'a viewer joining at the second keyframe decodes it');
});
