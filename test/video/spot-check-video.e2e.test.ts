import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { SpotRig } from '../spot-check/spot-rig.js';
import { decodeErrors, ffprobe } from './ffprobe.js';

interface Row {
  device: string;
  kind: string;
  result: string;
  reason: string;
  files: string[];
  bytes: number;
  sha256_ok: boolean;
  frames?: number;
  codec?: string;
  duration_s?: number;
  first_frame_ms?: number;
  recording?: string;
}

/**
 * The console saves what a player opens: a live feed as an MP4 whose frame
 * rate and duration ffprobe reads right, a clip as the camera's MP4 with its
 * manifest beside it, a snapshot as a JPEG decoded from the video. Real
 * parts: a simulated camera with ffmpeg video on a pseudo-terminal,
 * mosquitto, the agent and the console as processes. Small pictures keep it cheap.
 */
t.test('spot checks of a camera with video', { timeout: 240_000 }, async (t) => {
  const rig = await SpotRig.start(t, { cameras: 1, video: { live: { width: 320, height: 180, fps: 15, kbps: 300 }, record: { width: 320, height: 180, fps: 10 } } });
  const device = rig.devices[0]!;
  const out = `${rig.dir}/out`;

  await t.test('live: a playable MP4 of the feed, frame rate and duration as ffprobe reads them', async (t) => {
    const run = await rig.spotCheck(['--device', device, '--kind', 'live', '--duration', '3', '--fps', '15', '--out', out, '--json', '--quiet']);
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.slice(-800)})`);
    const [r] = JSON.parse(run.stdout) as Row[];
    t.equal(r!.result, 'ok', r!.reason);
    t.match(r!.codec, /^avc1\.42C0[0-9A-F]{2}$/);
    t.equal(r!.files.length, 1);
    t.match(r!.files[0], /\.mp4$/);
    const p = ffprobe(r!.files[0]!);
    t.same({ codec: p.codec, w: p.width, h: p.height }, { codec: 'h264', w: 320, h: 180 });
    t.equal(p.frames, r!.frames, 'ffprobe counts the frames the console reported');
    t.ok(Math.abs(p.durationS - r!.duration_s!) < 0.1, `ffprobe duration ${p.durationS} s, reported ${r!.duration_s} s`);
    t.ok(p.durationS > 2 && p.durationS < 3.6, `about the 3 s asked for (${p.durationS} s)`);
    t.ok(Math.abs(p.fps - 15) < 1, `plays at 15 fps (${p.fps})`);
    t.equal(decodeErrors(r!.files[0]!), '', 'every frame decodes');
    t.ok(r!.first_frame_ms! > 0, `first frame after ${r!.first_frame_ms} ms`);
    t.equal(r!.sha256_ok, true);
  });

  await t.test('snapshot: a JPEG decoded from a keyframe of the video', async (t) => {
    const run = await rig.spotCheck(['--device', device, '--kind', 'snapshot', '--out', out, '--json', '--quiet']);
    t.equal(run.code, 0, run.stderr.slice(-500));
    const [r] = JSON.parse(run.stdout) as Row[];
    t.equal(r!.result, 'ok', r!.reason);
    const img = jpeg.decode(readFileSync(r!.files[0]!), { useTArray: true });
    t.same({ w: img.width, h: img.height }, { w: 320, h: 180 }, 'the picture of the video, not the camera\'s small JPEG');
  });

  await t.test('clip: the camera\'s MP4 with its manifest beside it, SHA-256 verified', async (t) => {
    const cam = rig.camera(device);
    cam.setRecording('off'); // closes the MP4 being recorded since the start
    await new Promise((r) => setTimeout(r, 1500));
    const run = await rig.spotCheck(['--device', device, '--kind', 'clip', '--out', out, '--json', '--quiet']);
    t.equal(run.code, 0, run.stderr.slice(-500));
    const [r] = JSON.parse(run.stdout) as Row[];
    t.equal(r!.result, 'ok', r!.reason);
    t.equal(r!.sha256_ok, true);
    const [mp4, manifestFile] = r!.files;
    t.match(mp4, /\.mp4$/);
    t.match(manifestFile, /\.manifest\.json$/);
    t.ok(existsSync(manifestFile!));
    const m = JSON.parse(readFileSync(manifestFile!, 'utf8')) as { sha256: string; size: number; contentType: string; officerNumber: string; sha256Verified: boolean };
    const data = readFileSync(mp4!);
    t.equal(createHash('sha256').update(data).digest('hex'), m.sha256, 'the file matches its manifest');
    t.equal(data.length, m.size);
    t.equal(m.contentType, 'video/mp4');
    t.equal(m.sha256Verified, true);
    const p = ffprobe(mp4!);
    t.equal(p.codec, 'h264');
    t.equal(Math.round(p.fps), 10);
    t.equal(decodeErrors(mp4!), '');
  });
});
