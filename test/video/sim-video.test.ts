import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import type { LiveVideoFrame } from '../../drivers/camera/camera-driver.js';
import { inspectUnit, splitNals, NalType } from '../../drivers/video/annexb.js';
import { parseSps } from '../../drivers/video/sps.js';
import { MassStorageFootage } from '../../drivers/camera/mass-storage.js';
import { openRig } from '../camera/camera-rig.js';
import { decodeErrors, ffprobe } from './ffprobe.js';

const until = async (what: string, ok: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

t.test('live H.264 over the control channel: IDR first, capture time in SEI, a keyframe on request, decodes cleanly', async (t) => {
  const rig = await openRig(t, { video: { live: { width: 320, height: 180, fps: 15, kbps: 300 }, record: false } });
  const frames: LiveVideoFrame[] = [];
  let ended: string | undefined;
  await rig.driver.startVideo!({ fps: 15, kbps: 0 }, (f) => frames.push(f), (r) => (ended = r));
  await until('15 frames', () => frames.length >= 15);
  const keysBefore = frames.filter((f) => f.keyframe).length;
  await rig.driver.requestKeyframe!();
  const at = frames.length;
  await until('a keyframe after the request', () => frames.slice(at).some((f) => f.keyframe));
  await rig.driver.stopLive();
  t.equal(ended, undefined, 'the stream did not end on its own');
  t.ok(frames[0]!.keyframe, 'the first unit is an IDR');
  t.equal(keysBefore, 1, 'one keyframe in the first second (GOP of one second)');
  const first = inspectUnit(frames[0]!.data);
  t.equal(first.defect, undefined);
  t.equal(first.captureMs, frames[0]!.timeMs, 'the SEI carries the capture time the frame announces');
  t.ok(Math.abs(first.captureMs! - Date.now()) < 60_000, 'capture time is now-ish');
  const fmt = parseSps(first.sps!);
  t.same({ w: fmt.width, h: fmt.height }, { w: 320, h: 180 });
  t.match(fmt.codec, /^avc1\.42C0[0-9A-F]{2}$/, 'constrained baseline');
  t.ok(splitNals(frames[0]!.data).some((n) => (n[0]! & 0x1f) === NalType.AUD), 'units start with an AUD');
  for (let i = 1; i < frames.length; i++) t.ok(frames[i]!.ptsUs > frames[i - 1]!.ptsUs || frames[i]!.keyframe, `pts grows at ${i}`);
  const file = join(rig.footageDir, 'live.h264');
  writeFileSync(file, Buffer.concat(frames.map((f) => f.data)));
  t.equal(decodeErrors(file, 'h264'), '', 'the concatenated units decode without errors');
});

t.test('recordings are real MP4: H.264, 640x360, 15 fps, a manifest whose SHA-256 matches', async (t) => {
  const rig = await openRig(t, { video: { live: { width: 160, height: 90, fps: 5, kbps: 100 } } });
  rig.sim.setRecording('recording');
  await new Promise((r) => setTimeout(r, 2500));
  rig.sim.setRecording('off');
  const list = async () => (await MassStorageFootage.open(rig.footageDir)).listRecordings();
  let recs = await list();
  for (let i = 0; i < 100 && recs.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    recs = await list();
  }
  t.equal(recs.length, 1);
  const rec = recs[0]!;
  t.equal(rec.contentType, 'video/mp4');
  const p = ffprobe(join(rig.footageDir, `${rec.id}.mp4`));
  t.equal(p.codec, 'h264');
  t.same({ w: p.width, h: p.height }, { w: 640, h: 360 });
  t.equal(Math.round(p.fps), 15);
  t.ok(p.durationS > 1 && p.durationS < 4, `duration ${p.durationS} s`);
  t.equal(p.frames, Math.round(p.durationS * 15), 'frames match duration at 15 fps');
  const footage = await MassStorageFootage.open(rig.footageDir);
  const data = await footage.readClip(rec.id, 0, rec.size);
  const { createHash } = await import('node:crypto');
  t.equal(createHash('sha256').update(data).digest('hex'), rec.sha256);
});
