import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import jpeg from 'jpeg-js';
import { parseManifest } from '../../drivers/camera/footage-manifest.js';
import { SimCamera, type SimCameraOptions } from '../../sim/camera/sim-camera.js';
import { waitFor } from './camera-driver.contract.js';
import { IDENTITY } from './camera-rig.js';

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

/** A camera on a virtual clock that the test moves; the simulator ticks in real time and reads the clock. */
function camera(t: Tap, opts: Partial<SimCameraOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-simcam-'));
  let now = Date.UTC(2026, 10, 25, 2, 0, 0);
  const cam = new SimCamera({ deviceId: 'BWC-0042', identity: IDENTITY, footageDir: dir, seed: 3, recordingPlan: 'off', tickMs: 20, now: () => now, ...opts });
  t.teardown(async () => {
    await cam.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { cam, dir, advance: (ms: number) => (now += ms), now: () => now };
}

/** Splits an MJPEG stream into its JPEG frames (SOI … EOI). */
function splitMjpeg(buf: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let start = 0;
  for (let i = 0; i + 1 < buf.length; i++) {
    if (buf[i] === 0xff && buf[i + 1] === 0xd9) {
      frames.push(buf.subarray(start, i + 2));
      start = i + 2;
    }
  }
  return frames;
}

t.test('footage recorded while recording is real MJPEG with a matching manifest', async (t) => {
  const { cam, dir, advance } = camera(t, { footageFps: 2 });
  cam.setRecording('recording');
  for (let i = 0; i < 10; i++) {
    advance(500); // half a second of camera time per step: one frame at 2 fps
    await new Promise((r) => setTimeout(r, 40));
  }
  cam.setRecording('off');
  const manifests = readdirSync(dir).filter((f) => f.endsWith('.json'));
  t.equal(manifests.length, 1, 'one recording, one manifest');
  const m = parseManifest(readFileSync(join(dir, manifests[0]!), 'utf8'), manifests[0]!);
  const media = readFileSync(join(dir, m.file));
  t.equal(m.size, media.length, 'size matches the file');
  t.equal(m.sha256, createHash('sha256').update(media).digest('hex'), 'SHA-256 matches the file');
  t.equal(m.officerNumber, IDENTITY.officerNumber);
  t.equal(m.trigger, 'manual');
  t.match(m.id, /^A1B2C3D_20261125020000_0001$/, 'id: serial, start time, sequence');
  t.equal(m.contentType, 'video/x-mjpeg');
  const frames = splitMjpeg(media);
  t.ok(frames.length >= 8, `${frames.length} frames`);
  for (const f of frames) {
    const img = jpeg.decode(f);
    if (img.width !== 320) t.fail('a frame does not decode as 320 wide');
  }
  t.ok(m.endMs - m.startMs >= 4000, `recording spans ${m.endMs - m.startMs} ms of camera time`);
});

t.test('SOS starts a recording triggered by SOS; storage shrinks by what was written', async (t) => {
  const { cam, dir, advance } = camera(t);
  const free0 = cam.state.storageFree;
  cam.pressSos();
  t.equal(cam.state.recording, 'recording');
  advance(2000);
  await new Promise((r) => setTimeout(r, 60));
  cam.setRecording('off');
  const m = parseManifest(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.json'))!), 'utf8'), 'manifest');
  t.equal(m.trigger, 'sos');
  t.equal(free0 - cam.state.storageFree, m.size, 'storage free dropped by the recording size');
});

t.test('battery drains while recording, charges when docked', async (t) => {
  const { cam, advance } = camera(t, { batteryPct: 80, footageFps: 0.001 });
  cam.setRecording('recording');
  const b0 = cam.state.batteryPct;
  advance(10 * 60_000); // ten minutes
  await waitFor('a tick', () => cam.state.batteryPct < b0);
  const b1 = cam.state.batteryPct;
  t.ok(b0 - b1 >= 10, `drained ${b0 - b1}% in 10 minutes of recording`);
  cam.setRecording('off');
  cam.setCharging(true);
  advance(5 * 60_000);
  await waitFor('charging', () => cam.state.batteryPct > b1);
  t.ok(cam.state.batteryPct > b1, `charged to ${cam.state.batteryPct}%`);
  t.equal(cam.state.charging, true);
});

t.test('the auto plan cycles off → pre-record → recording → off', async (t) => {
  const run = async (seed: number) => {
    const { cam, advance } = camera(t, { recordingPlan: 'auto', seed, footageFps: 0.001 });
    const states: string[] = [];
    for (let i = 0; i < 400; i++) {
      advance(1000);
      await new Promise((r) => setTimeout(r, 5));
      if (states.at(-1) !== cam.state.recording) states.push(cam.state.recording);
    }
    return states;
  };
  const a = await run(11);
  t.ok(a.includes('pre-record') && a.includes('recording'), `states: ${a.join(' → ')}`);
  for (let i = 1; i < a.length; i++) {
    const ok = (a[i - 1] === 'off' && a[i] === 'pre-record') || (a[i - 1] === 'pre-record' && a[i] === 'recording') || (a[i - 1] === 'recording' && a[i] === 'off');
    if (!ok) t.fail(`unexpected transition ${a[i - 1]} → ${a[i]}`);
  }
});
