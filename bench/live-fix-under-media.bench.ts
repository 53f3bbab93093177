import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveChannelId } from '../config/load-config.js';
import { SpotRig, type Owner } from '../test/spot-check/spot-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';
import { loadAverage } from './agent-rig.js';
import { pct } from './live-fix-probe.js';
import { LiveFixProbeThread } from './live-fix-probe-thread.js';
import { clipLoop, liveFeeds } from './media-load.js';
import { GB_DEVICE, GB_DOMAIN, GB_SERVER, freeUdpPort, startSipp, type BenchSipp } from './sipp-rig.js';

/**
 * The MQTT path under video load: live-fix latency (a GNSS epoch written to
 * a pty → the fix at a subscriber of the broker; bench/live-fix-probe.ts, in
 * a thread of its own: bench/live-fix-probe-thread.ts)
 * while the agent's cameras stream, against the same machine quiet. All real
 * processes on loopback: mosquitto, the agent, simulated cameras with their
 * own H.264 encoders (ffmpeg) on pseudo-terminals, SIPp as the GB/T 28181
 * platform, console processes for the MQTT media. Three windows, one after
 * the other, in one agent:
 * - quiet: no media;
 * - 4 GB/T 28181 live streams: the agent registered with SIPp
 *   (registrar.xml), a SIPp playing four channels at once
 *   (bench-live-streams.xml), RTP received here and counted;
 * - 4 live MQTT video feeds (`spot-check --kind live`, H.264) and 2 clip
 *   transfers (`spot-check --kind clip`, mounted footage) at once.
 * Goals: "live-fix p99 unchanged while 4 GB/T 28181 live streams run" and
 * "live-fix p99 <= 100 ms while 4 cameras stream live and 2 clips transfer".
 */
const WINDOW_S = Number(process.env.BWC_BENCH_WINDOW_S ?? 30);
const RECEIVERS = 8;
const STREAMS = 4;
const CLIP_BYTES = 24_000_000;
const LIVE = { width: 640, height: 360, fps: 25, kbps: 1000 };
const GOAL_MS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(`live-fix-under-media bench: ${s}\n`);

/** RTP of the GB/T 28181 streams, counted (nothing decoded here). */
class RtpCounter {
  packets = 0;
  bytes = 0;
  private constructor(private readonly socket: Socket, readonly port: number) {
    socket.on('message', (m) => {
      this.packets++;
      this.bytes += m.length;
    });
  }

  static async open(): Promise<RtpCounter> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new RtpCounter(s, s.address().port);
  }

  close(): void {
    this.socket.close();
  }
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export async function run(): Promise<BenchRow[]> {
  const cleanups: Array<() => unknown> = [];
  const owner: Owner = { teardown: (fn) => void cleanups.unshift(fn) };
  const rows: BenchRow[] = [];
  const row = (metric: string, value: number, unit: string, goal?: number) =>
    rows.push({ bench: 'live-fix-under-media', metric, value: Math.round(value * 10) / 10, unit, ...(goal !== undefined ? { goal: `<= ${goal}`, met: value <= goal } : {}) });
  try {
    const probe = await LiveFixProbeThread.start(owner, { count: RECEIVERS, seed: 500 });
    const password = 'bench-28181';
    const registrar = await startSipp({ scenario: 'registrar.xml', keys: { server: GB_SERVER, domain: GB_DOMAIN, devid: GB_DEVICE, password } });
    owner.teardown(() => registrar.stop());
    const agentSip = await freeUdpPort();
    const pwDir = mkdtempSync(join(tmpdir(), 'bwc-gb-bench-'));
    owner.teardown(() => rmSync(pwDir, { recursive: true, force: true }));
    const pwFile = join(pwDir, 'gb-password');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    const cameras = STREAMS + 2;
    const clipDevices = ['BWC-0005', 'BWC-0006'];
    const rig = await SpotRig.start(owner, {
      cameras,
      extraDevices: probe.devices,
      clipBytes: CLIP_BYTES,
      mountFootage: clipDevices,
      rateHz: 5,
      reporting: { recordingIntervalS: 1, movingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
      // Recordings as small MP4s made by ffmpeg: MJPEG footage would be painted in this process, which also runs the cameras and the probe.
      video: { live: LIVE, record: { width: 320, height: 180, fps: 5 } },
      agentConfig: {
        gb28181: {
          server: { id: GB_SERVER, domain: GB_DOMAIN, host: '127.0.0.1', port: registrar.port, transport: 'UDP' },
          deviceId: GB_DEVICE, passwordFile: pwFile, localHost: '127.0.0.1', localPort: agentSip, keepaliveS: 60,
        },
      },
    });
    await rig.recorder.stop();
    await until(() => /registered with the GB\/T 28181 platform/.test(rig.agent.output), 30_000, 'the agent to register with the SIPp platform');
    await probe.subscribe(rig.broker.url);
    await probe.caughtUp(180_000);
    say('rig ready, agent registered, live fixes caught up');
    const windows: Array<{ name: string; samples: number[]; late: number; load: number }> = [];
    /** The window, then its grace (5 s for late fixes) with the load still on. */
    const measure = async (name: string) => {
      const { samples, late } = await probe.window(WINDOW_S);
      windows.push({ name, samples, late, load: loadAverage() });
      say(`${name}: ${samples.length} fixes (${late} late), p50 ${pct(samples, 50).toFixed(1)} ms, p99 ${pct(samples, 99).toFixed(1)} ms, load ${loadAverage()}`);
    };

    // 1. Quiet.
    await sleep(1500);
    await measure('quiet');

    // 2. Four GB/T 28181 live streams, played by SIPp from the first four cameras.
    await probe.caughtUp(120_000);
    const counters = await Promise.all(Array.from({ length: STREAMS }, () => RtpCounter.open()));
    owner.teardown(() => counters.forEach((c) => c.close()));
    const keys: Record<string, string> = { server: GB_SERVER, domain: GB_DOMAIN };
    const taken = new Set<string>();
    for (let i = 0; i < STREAMS; i++) {
      const chan = deriveChannelId(GB_DEVICE, i, taken);
      taken.add(chan);
      Object.assign(keys, { [`chan${i + 1}`]: chan, [`rtp${i + 1}`]: String(counters[i]!.port), [`ssrc${i + 1}`]: String(100_000_001 + i).padStart(10, '0') });
    }
    // SIPp holds the streams until told (an INFO in its call), then sends its BYEs.
    const callId = `bench-live-streams-${process.pid}`;
    let platform: BenchSipp | undefined = await startSipp({ scenario: 'bench-live-streams.xml', keys, remote: `127.0.0.1:${agentSip}`, args: ['-cid_str', `${callId}-%u@127.0.0.1`] });
    owner.teardown(() => platform?.stop());
    await until(() => counters.every((c) => c.packets > 0), 60_000, 'RTP from all four GB/T 28181 streams');
    await sleep(1500);
    const before = counters.map((c) => c.bytes);
    const t0 = performance.now();
    await measure(`${STREAMS} GB/T 28181 live streams`);
    const gbKbps = counters.reduce((n, c, i) => n + (c.bytes - before[i]!), 0) * 8 / (performance.now() - t0);
    const stalled = counters.filter((c, i) => c.bytes === before[i]).length;
    const byeEarly = platform.proc.exitCode !== null;
    if (byeEarly) say(`the platform ended before the window did (SIPp exit ${platform.proc.exitCode}): the window is not all under load`);
    await platform.request(['INFO sip:bench@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-bench-stop', 'From: <sip:bench@127.0.0.1>;tag=stop',
      'To: <sip:platform@127.0.0.1>', `Call-ID: ${callId}-1@127.0.0.1`, 'CSeq: 1 INFO', 'Max-Forwards: 70', 'Content-Length: 0', '', ''].join('\n'));
    const byes = await Promise.race([platform.exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!byes) say('SIPp did not end its call (BYEs) within 30 s of being told');
    await platform.stop();
    platform = undefined;
    const ended = () => (rig.agent.output.match(/live video session ended/g) ?? []).length;
    await until(() => ended() >= STREAMS, 20_000, 'the GB/T 28181 sessions to end').catch((err: Error) => say(err.message));
    // The simulated cameras start their next encoder (ffmpeg) once a stream ends: let them, or the feeds' first frames wait on it.
    await sleep(10_000);

    // 3. Four live MQTT video feeds and two clip transfers at once.
    await probe.caughtUp(120_000);
    const liveDevices = rig.devices.slice(0, STREAMS);
    const staggerMs = 3000;
    const feeds = liveFeeds(rig, liveDevices, { durationS: WINDOW_S + 25, fps: LIVE.fps, kbps: LIVE.kbps, staggerMs });
    await sleep(STREAMS * staggerMs + 3000);
    const clips = clipDevices.map((d) => clipLoop(rig, d));
    await sleep(3000);
    await measure(`${STREAMS} live MQTT video feeds + 2 clip transfers`);
    const clipCount = (await Promise.all(clips.map((c) => c.stop()))).reduce((a, b) => a + b, 0);
    const feedResults = await feeds;
    const failedFeeds = feedResults.filter((f) => f.result !== 'ok');
    if (failedFeeds.length) say(`live feeds not ok: ${failedFeeds.map((f) => `${f.device}: ${f.reason}`).join('; ')}`);

    const [quiet, gb, mqttMedia] = windows;
    for (const w of windows) {
      row(`live-fix latency p50, ${w.name} (${w.samples.length} fixes written in ${WINDOW_S} s, ${w.late} not arrived 5 s after; load ${w.load})`, pct(w.samples, 50), 'ms');
      row(`live-fix latency p99, ${w.name}`, pct(w.samples, 99), 'ms', GOAL_MS);
    }
    row('live-fix p99 with 4 GB/T 28181 streams minus quiet', pct(gb!.samples, 99) - pct(quiet!.samples, 99), 'ms');
    row(`GB/T 28181 RTP received during the window, all ${STREAMS} streams (${stalled} stalled${byeEarly ? ', ended before the window' : ''})`, gbKbps, 'kbit/s');
    row(`live MQTT feeds that ended ok (${feedResults.map((f) => `${f.frames ?? 0} frames`).join(', ')})`, feedResults.length - failedFeeds.length, `of ${STREAMS}`);
    row(`clips of ${(CLIP_BYTES / 1e6).toFixed(0)} MB fetched during the window (2 at a time)`, clipCount, 'clips');
    row('live-fix p99 with MQTT video and clips minus quiet', pct(mqttMedia!.samples, 99) - pct(quiet!.samples, 99), 'ms');
    row('machine load average (1 min) at the end', loadAverage(), '');
  } finally {
    for (const fn of cleanups) await Promise.resolve(fn()).catch(() => undefined);
  }
  return rows;
}

await runIfMain(import.meta.url, run);
