import t from 'tap';
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { SpotRig } from '../spot-check/spot-rig.js';
import { rtspServerMissing, startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';
import { commandLine, descendants, waitGone, zombieChildren } from '../helpers/process-tree.js';
import { loadScaled } from '../helpers/deadline.js';
import type { TapTest } from '../helpers/tap-test.js';
import { decodeErrors, ffprobe, packetDts } from './ffprobe.js';

interface Row {
  device: string;
  result: string;
  reason: string;
  files: string[];
  frames?: number;
  codec?: string;
  duration_s?: number;
  sha256_ok: boolean;
}

/** A device path that no machine has: a V4L2 camera configured but not plugged in. */
const MISSING_V4L2 = '/dev/bwc-test-no-such-video0';

/**
 * RTSP video through the agent from a real RTSP server: GStreamer's
 * (gst-rtsp-server, Debian's gir1.2-gst-rtsp-server-1.0) serving live H.264
 * on loopback as a Wi-Fi body camera does, while the camera's control
 * channel (recording state, alerts) stays on its serial port. The agent
 * pulls the stream with ffmpeg (RTSP over TCP), the console saves it as an
 * MP4. The server killed or frozen mid-stream ends the request with a
 * reason, no ffmpeg is left behind, and the stream works again once the
 * server is back. A second camera is configured with a V4L2 node that does
 * not exist: its request fails saying so.
 */
t.test('an RTSP camera and a missing V4L2 camera through the agent', { timeout: 420_000 }, async (t) => {
  const missing = rtspServerMissing();
  if (missing) {
    t.fail(`no RTSP server on this machine: ${missing}`);
    return;
  }
  let server: RtspServer = await startRtspServer(t, { width: 320, height: 180, fps: 15, kbps: 300 });
  const rtspUrl = server.url;
  const rig = await SpotRig.start(t, { cameras: 2, deviceConfig: (_d, i) => ({ video: i === 0 ? rtspUrl : `v4l2:${MISSING_V4L2}` }) });
  const [rtspCam, v4l2Cam] = rig.devices as [string, string];
  const out = `${rig.dir}/out`;
  const agentPid = rig.agent.pid!;

  const live = async (device: string, seconds: number, onFrames?: (frames: number) => void) => {
    const started = Date.now();
    const run = await rig.spotCheck(['--device', device, '--kind', 'live', '--duration', String(seconds), '--fps', '15', '--out', out, '--json'], (line) => {
      const m = / live (\d+) frames /.exec(line);
      if (m) onFrames?.(Number(m[1]));
    });
    if (!run.stdout.trim()) throw new Error(`the console printed no result (exit ${run.code}): ${run.stderr.slice(-800)}`);
    return { row: (JSON.parse(run.stdout) as Row[])[0]!, seconds: (Date.now() - started) / 1000, code: run.code };
  };
  /**
   * Every frame decodes, in order. Frames from RTSP are stamped on arrival
   * (a raw H.264 pipe carries no times), so they are judged on their own
   * times: strictly increasing, not on a grid of the frame rate.
   */
  const decodes = (file: string) => {
    const dts = packetDts(file);
    const increasing = dts.every((d, i) => i === 0 || d > dts[i - 1]!);
    return { errors: decodeErrors(file, undefined, { sourceTiming: true }), increasing };
  };
  /** ffmpeg processes the agent runs for the RTSP URL. */
  const rtspFfmpegs = () => descendants(agentPid).filter((p) => /ffmpeg/.test(commandLine(p)) && commandLine(p).includes(rtspUrl));
  const noneLeft = async (t: TapTest, what: string) => {
    const left = await waitGone(rtspFfmpegs(), loadScaled(5000));
    t.same(left.map(commandLine), [], `no ffmpeg left running ${what}`);
    t.same(zombieChildren(agentPid), [], `no zombie child of the agent ${what}`);
    t.ok(rig.agent.running, 'the agent runs on');
  };

  await t.test('live: the RTSP stream saved as an MP4 that ffprobe reads as H.264', async (t) => {
    const { row } = await live(rtspCam, 6);
    t.equal(row.result, 'ok', row.reason);
    t.match(row.codec, /^avc1\.42/, 'constrained baseline, as the server encodes it');
    t.equal(row.files.length, 1);
    t.match(row.files[0], /\.mp4$/);
    const p = ffprobe(row.files[0]!);
    t.equal(p.codec, 'h264');
    t.same({ w: p.width, h: p.height }, { w: 320, h: 180 }, 'the picture size the server sends');
    t.ok(p.frames > 0, `${p.frames} frames`);
    t.equal(p.frames, row.frames, 'ffprobe counts the frames the console reported');
    t.same(decodes(row.files[0]!), { errors: '', increasing: true }, 'every frame decodes, times strictly increasing');
    // Stamped on arrival: about the server's rate (fewer when a loaded machine's encoder skips frames).
    t.ok(p.fps > 8 && p.fps < 20, `plays at about the server's 15 fps (${p.fps})`);
    t.equal(row.sha256_ok, true);
    await noneLeft(t, 'after the feed');
  });

  await t.test('snapshot: a JPEG decoded from a keyframe of the RTSP stream', async (t) => {
    const run = await rig.spotCheck(['--device', rtspCam, '--kind', 'snapshot', '--out', out, '--json', '--quiet']);
    t.equal(run.code, 0, run.stderr.slice(-500));
    const [r] = JSON.parse(run.stdout) as Row[];
    t.equal(r!.result, 'ok', r!.reason);
    const img = jpeg.decode(readFileSync(r!.files[0]!), { useTArray: true });
    t.same({ w: img.width, h: img.height }, { w: 320, h: 180 }, 'the picture of the RTSP stream, not the camera\'s own JPEG');
    await noneLeft(t, 'after the snapshot');
  });

  await t.test('a V4L2 node that does not exist: the request fails saying so, in the reply and the log', async (t) => {
    const { row, seconds } = await live(v4l2Cam, 30);
    t.equal(row.result, 'failed');
    t.equal(row.reason.startsWith(`REASON_NOT_FOUND: v4l2 device ${MISSING_V4L2} does not exist`), true, `the reply names the device and says it does not exist (${row.reason})`);
    t.ok(seconds < 25, `failed at once (${seconds} s), not after the 30 s asked for`);
    t.match(rig.agent.output, new RegExp(`${MISSING_V4L2}[^\\n]*does not exist`), 'the agent log says so too');
    const snap = await rig.spotCheck(['--device', v4l2Cam, '--kind', 'snapshot', '--out', out, '--json', '--quiet']);
    const [s] = JSON.parse(snap.stdout) as Row[];
    t.equal(s!.result, 'failed');
    t.match(s!.reason, /does not exist/, `a snapshot says the same (${s!.reason})`);
  });

  await t.test('the server frozen mid-stream: the feed ends with a reason, the request does not hang', async (t) => {
    let frozenAt = 0;
    const { row } = await live(rtspCam, 60, (frames) => {
      if (frames >= 15 && !frozenAt) {
        frozenAt = Date.now();
        server.signal('SIGSTOP');
      }
    });
    server.signal('SIGCONT');
    const after = (Date.now() - frozenAt) / 1000;
    t.ok(frozenAt > 0, 'the feed ran before the freeze');
    t.equal(row.result, 'failed');
    t.match(row.reason, /REASON_CAMERA_ERROR: .*(no video for 5 s|timed out|rtsp)/i, row.reason);
    t.ok(after < 40, `ended ${after} s after the freeze, long before the 60 s asked for`);
    t.equal(row.files.length, 1, 'what came is saved');
    t.same(decodes(row.files[0]!), { errors: '', increasing: true }, 'and decodes');
    await noneLeft(t, 'after the freeze');
  });

  await t.test('the server killed mid-stream: FAILED saying the server closed the stream, no ffmpeg left', async (t) => {
    let killedAt = 0;
    const { row } = await live(rtspCam, 60, (frames) => {
      if (frames >= 15 && !killedAt) {
        killedAt = Date.now();
        server.signal('SIGKILL');
      }
    });
    const after = (Date.now() - killedAt) / 1000;
    t.ok(killedAt > 0, 'the feed ran before the kill');
    t.equal(row.result, 'failed');
    // The server's socket closes with a FIN (ffmpeg sees the end of the stream, and may have said something of
    // the cut unit: its last line follows) or, with data unread, a reset (ffmpeg fails).
    t.match(row.reason, /^REASON_CAMERA_ERROR: rtsp rtsp:\/\/127\.0\.0\.1:\d+\/cam: (the stream ended \(the RTSP server closed it\)(: .+)?|ffmpeg exited with code [1-9]\d*: .+); stream ended: \d+ frames/, row.reason);
    t.ok(after < 40, `ended ${after} s after the kill, long before the 60 s asked for`);
    t.equal(row.files.length, 1, 'what came is saved');
    t.same(decodes(row.files[0]!), { errors: '', increasing: true }, 'and decodes');
    t.match(rig.agent.output, /live video ended: stream ended/, 'the agent logs the end');
    await noneLeft(t, 'after the server vanished');
  });

  await t.test('the server back on its address: the next feed works', async (t) => {
    await server.stop();
    server = await startRtspServer(t, { port: server.port, width: 320, height: 180, fps: 15, kbps: 300 });
    const { row } = await live(rtspCam, 6);
    t.equal(row.result, 'ok', row.reason);
    t.ok((row.frames ?? 0) > 0, `${row.frames} frames`);
    await noneLeft(t, 'after the feed');
  });
});
