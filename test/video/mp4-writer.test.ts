import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { inspectUnit } from '../../drivers/video/annexb.js';
import { Mp4Writer } from '../../console/video/mp4-writer.js';
import { decodeErrors, ffprobe } from './ffprobe.js';
import { encodeSample } from './encode-sample.js';

const dir = mkdtempSync(join(tmpdir(), 'bwc-mp4-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('units cut from ffmpeg output: one per frame, keyframes where the GOP says', async (t) => {
  const units = encodeSample({ width: 320, height: 180, fps: 10, frames: 30, gop: 10 });
  t.equal(units.length, 30);
  t.same(units.map((u, i) => (inspectUnit(u).keyframe ? i : -1)).filter((i) => i >= 0), [0, 10, 20]);
  for (const u of units) t.equal(inspectUnit(u).defect, undefined);
});

t.test('an MP4 of access units: ffprobe reads codec, size, frame rate, frames and duration', async (t) => {
  const units = encodeSample({ width: 320, height: 180, fps: 15, frames: 45, gop: 15 });
  const path = join(dir, 'a.mp4');
  const w = new Mp4Writer(path, 320, 180, 15);
  units.forEach((u, i) => w.add(u, Math.round((i * 1_000_000) / 15), inspectUnit(u).keyframe));
  const st = w.close();
  t.equal(st.frames, 45);
  t.equal(st.keyframes, 3);
  t.equal(st.durationS, 3);
  const p = ffprobe(path);
  t.same({ codec: p.codec, w: p.width, h: p.height, frames: p.frames }, { codec: 'h264', w: 320, h: 180, frames: 45 });
  t.equal(Math.round(p.fps), 15);
  t.ok(Math.abs(p.durationS - 3) < 0.05, `duration ${p.durationS}`);
  t.equal(decodeErrors(path), '', 'decodes without errors');
  t.equal(statSync(path).size, st.fileBytes);
});

t.test('a dropped GOP leaves a gap in time, not a faster video', async (t) => {
  const units = encodeSample({ width: 160, height: 90, fps: 10, frames: 30, gop: 10 });
  const path = join(dir, 'gap.mp4');
  const w = new Mp4Writer(path, 160, 90, 10);
  units.forEach((u, i) => {
    if (i >= 10 && i < 20) return; // the second GOP was lost
    w.add(u, i * 100_000, inspectUnit(u).keyframe);
  });
  w.close();
  const p = ffprobe(path);
  t.equal(p.frames, 20);
  t.ok(Math.abs(p.durationS - 3) < 0.05, `duration ${p.durationS} s covers the gap`);
  t.equal(decodeErrors(path), '');
});

t.test('refuses to start without a keyframe', async (t) => {
  const units = encodeSample({ width: 160, height: 90, fps: 10, frames: 3, gop: 10 });
  const w = new Mp4Writer(join(dir, 'bad.mp4'), 160, 90, 10);
  t.throws(() => w.add(units[1]!, 0, false), /starts with a keyframe/);
  w.close();
});
