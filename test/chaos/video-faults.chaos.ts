import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { writeResult, sleep } from './chaos-kit.js';
import { SpotRig } from '../spot-check/spot-rig.js';
import { decodeErrors, ffprobe } from '../video/ffprobe.js';

/**
 * Bad video from a camera: corrupt NAL units, a camera that stops sending
 * mid-GOP, a resolution change mid-stream, and its ffmpeg killed. Each time
 * the feed ends or recovers with a clear reason in the reply and the agent's
 * log, whatever reaches the console decodes, no request hangs, no ffmpeg is
 * left a zombie, and the agent keeps running.
 */
interface Row { result: string; reason: string; files: string[]; frames?: number }

/** Zombie children of this process (the simulator's ffmpeg runs here). */
function zombies(): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z' && Number(f[1]) === process.pid) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

t.test('video faults', { timeout: 600_000 }, async (t) => {
  const rig = await SpotRig.start(t, { cameras: 1, video: { live: { width: 320, height: 180, fps: 15, kbps: 300 }, record: false } });
  const device = rig.devices[0]!;
  const cam = rig.camera(device);
  const video = cam.video!;
  const out = `${rig.dir}/out`;
  const results: Record<string, unknown> = {};
  const live = async (seconds: number, during: () => Promise<void>) => {
    const started = Date.now();
    const run = rig.spotCheck(['--device', device, '--kind', 'live', '--duration', String(seconds), '--fps', '15', '--out', out, '--json', '--quiet']);
    await during();
    const r = await run;
    const row = (JSON.parse(r.stdout) as Row[])[0]!;
    return { row, seconds: (Date.now() - started) / 1000 };
  };
  const clean = (files: string[]) => files.every((f) => decodeErrors(f) === '');
  /** Faults are injected once the feed really runs (the console process may take seconds to start on a loaded machine). */
  const streaming = async (units = 20) => {
    const from = video.stats.units;
    const end = Date.now() + 60_000;
    while (video.stats.units < from + units) {
      if (Date.now() > end) throw new Error('the feed did not start');
      await sleep(20);
    }
  };

  await t.test('corrupt NAL units: dropped up to the next keyframe, the feed goes on, the MP4 decodes', async (t) => {
    let n = 0;
    video.mangle = (u) => (++n % 12 === 5 ? { ...u, data: Buffer.concat([u.data.subarray(0, 4), Buffer.from([u.data[4]! | 0x80]), u.data.subarray(5)]) } : u);
    const { row } = await live(6, async () => undefined);
    video.mangle = undefined;
    t.equal(row.result, 'ok', row.reason);
    t.ok(clean(row.files), 'every frame saved decodes');
    await sleep(300);
    t.match(rig.agent.output, /corrupt H\.264 unit dropped up to the next keyframe/, 'the agent says so in its log');
    const m = /dropped \d+ for bandwidth, \d+ for a slow link, (\d+) corrupt/.exec(rig.agent.output);
    t.ok(m && Number(m[1]) > 0, `corrupt units counted in the reply (${m?.[1]})`);
    results.corrupt = { result: row.result, frames: row.frames, corruptCounted: Number(m?.[1] ?? 0), decodesClean: clean(row.files) };
  });

  await t.test('the camera stops mid-GOP: the feed ends with a reason, not a hung request', async (t) => {
    let stoppedAt = 0;
    const { row } = await live(60, async () => {
      await streaming();
      stoppedAt = Date.now();
      video.mangle = () => undefined; // nothing more leaves the camera
    });
    const seconds = (Date.now() - stoppedAt) / 1000;
    video.mangle = undefined;
    t.equal(row.result, 'failed');
    t.match(row.reason, /REASON_CAMERA_ERROR: .*sent no video for 5 s/);
    t.ok(seconds < 40, `ended ${seconds} s after the camera went quiet, long before the 60 s asked for`);
    t.ok(row.files.length === 1 && clean(row.files), 'what came is saved and decodes');
    results.stopMidGop = { result: row.result, reason: row.reason, endedAfterS: seconds };
  });

  await t.test('a resolution change: the feed recovers at the new size, a second MP4 holds it', async (t) => {
    const { row } = await live(12, async () => {
      await streaming();
      video.changeSize(160, 90);
    });
    t.equal(row.result, 'ok', row.reason);
    t.equal(row.files.length, 2, 'one file per picture size');
    const sizes = row.files.map((f) => ffprobe(f, false)).map((p) => `${p.width}x${p.height}`);
    t.same(sizes, ['320x180', '160x90']);
    t.ok(clean(row.files));
    t.match(rig.agent.output, /live video format changed at a keyframe/);
    results.resolutionChange = { result: row.result, files: sizes };
  });

  await t.test('ffmpeg killed mid-stream: FAILED with the reason, no zombie, the agent runs on', async (t) => {
    let killedAt = 0;
    const { row } = await live(60, async () => {
      await streaming();
      killedAt = Date.now();
      video.killEncoder();
    });
    const seconds = (Date.now() - killedAt) / 1000;
    t.equal(row.result, 'failed');
    t.match(row.reason, /REASON_CAMERA_ERROR: the camera ended the stream: ffmpeg was killed by SIGKILL/);
    t.ok(seconds < 40, `ended ${seconds} s after the kill, long before the 60 s asked for`);
    t.ok(clean(row.files), 'frames before the crash are saved and decode');
    await sleep(500);
    t.equal(zombies(), 0, 'no zombie ffmpeg');
    t.ok(rig.agent.running, 'the agent is still running');
    // The camera streams again on the next request.
    const again = await live(2, async () => undefined);
    t.equal(again.row.result, 'ok', `a new feed works (${again.row.reason})`);
    results.ffmpegKilled = { result: row.result, reason: row.reason, endedAfterS: seconds, zombies: zombies(), agentRunning: rig.agent.running, nextFeed: again.row.result };
  });

  writeResult('video-faults', results);
});
