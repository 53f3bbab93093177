import mqtt from 'mqtt';
import { readPrivateKey } from '../common/command-keys.js';
import { Topics } from '../protocol/topics.js';
import { CommandLink, type MediaChunkMessage } from '../console/spot-check/command-link.js';
import { FileAssembler, ObjectAssembler, type AssembledObject } from '../console/spot-check/media-assembly.js';
import { SpotRig, type Owner } from '../test/spot-check/spot-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';
import { loadAverage } from './agent-rig.js';
import { join } from 'node:path';
import { pct } from './live-fix-probe.js';
import { LiveFixProbeThread } from './live-fix-probe-thread.js';
import { clipLoop } from './media-load.js';

/**
 * Spot checks with the real parts: mosquitto, the agent as a process,
 * simulated cameras on pseudo-terminals, and the console's own library
 * (CommandLink) in this process, so the figures are the round trips, not a
 * CLI's start-up. Goals from the spot-check issue: snapshot round trip
 * ≤ 500 ms, first live frame ≤ 1 s, clip transfer ≥ 20 MB/s, p99 latency
 * of live fixes while a clip transfers ≤ 100 ms (all on loopback).
 */
const CLIP_BYTES = 24_000_000;
const CAMERAS = 6;
const RECEIVERS = 8;
const LATENCY_WINDOW_S = Number(process.env.BWC_BENCH_WINDOW_S ?? 20);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stderr.write(`spot-check bench: ${s}\n`);

/** Waits for a condition, failing after `ms` (a lost chunk must not hang the benchmark). */
async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

export async function run(): Promise<BenchRow[]> {
  const cleanups: Array<() => unknown> = [];
  const owner: Owner = { teardown: (fn) => void cleanups.unshift(fn) };
  const rows: BenchRow[] = [];
  try {
    let clipCount = 0;
    // GNSS receivers fed from a thread of their own on real ptys: live-fix latency from the epoch's write to a subscriber.
    const probe = await LiveFixProbeThread.start(owner, { count: RECEIVERS, seed: 300 });
    const rig = await SpotRig.start(owner, {
      extraDevices: probe.devices,
      cameras: CAMERAS,
      clipBytes: CLIP_BYTES,
      rateHz: 5,
      // The first camera's footage folder is mounted (read as files); the others are read over their control channel.
      mountFootage: ['BWC-0001'],
      reporting: { recordingIntervalS: 1, movingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
    });
    const client = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 5, reconnectPeriod: 1000 });
    cleanups.unshift(() => client.endAsync(true));
    await probe.subscribe(rig.broker.url);
    const link = new CommandLink({ client, topics: new Topics(), privateKey: readPrivateKey(rig.keyFile), role: 'supervisor' });
    const [mounted, pty] = [rig.devices[0]!, rig.devices[1]!];
    // The rig's whole-fleet recorder would receive every media chunk in this process too.
    await rig.recorder.stop();
    say('rig ready');

    // Snapshot round trip: command sent → whole JPEG received and DONE.
    const snaps: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const asm = new ObjectAssembler();
      let obj: AssembledObject | undefined;
      const req = await link.command(rig.devices[2 + (i % 4)]!, 'snapshot', {}, { media: true, onChunk: (c) => (obj ??= asm.add(c)) });
      const fin = await req.waitFor(['done', 'failed'], 30_000);
      if (fin?.status !== 'done') throw new Error(`snapshot ${i}: ${fin?.reasonCode ?? 'no reply'} ${fin?.reason ?? ''}`);
      await until(() => obj !== undefined, 10_000, 'the snapshot');
      snaps.push(performance.now() - t0);
      await link.close(req);
    }
    rows.push({ bench: 'spot-check', metric: 'snapshot round trip, median', value: pct(snaps, 50), unit: 'ms', goal: '<= 500', met: pct(snaps, 50) <= 500 });
    rows.push({ bench: 'spot-check', metric: 'snapshot round trip, p95', value: pct(snaps, 95), unit: 'ms', goal: '<= 500', met: pct(snaps, 95) <= 500 });

    say(`snapshots: median ${pct(snaps, 50).toFixed(0)} ms`);
    // First live frame: command sent → first whole frame received.
    const firsts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const device = rig.devices[2 + (i % 4)]!;
      const t0 = performance.now();
      let first: number | undefined;
      const frames = new Map<number, ObjectAssembler>();
      const onChunk = (c: MediaChunkMessage) => {
        const a = frames.get(c.frame) ?? new ObjectAssembler();
        frames.set(c.frame, a);
        if (a.add(c)) first ??= performance.now() - t0;
      };
      const req = await link.command(device, 'liveFeed', { fps: 5, durationS: 2 }, { media: true, onChunk });
      await req.waitFor(['done', 'failed'], 30_000);
      await link.close(req);
      if (first !== undefined) firsts.push(first);
    }
    rows.push({ bench: 'spot-check', metric: 'first live frame, median', value: pct(firsts, 50), unit: 'ms', goal: '<= 1000', met: pct(firsts, 50) <= 1000 });
    rows.push({ bench: 'spot-check', metric: 'first live frame, max of 8', value: Math.max(...firsts), unit: 'ms', goal: '<= 1000', met: Math.max(...firsts) <= 1000 });

    say(`first frames: ${firsts.map((x) => x.toFixed(0)).join(', ')} ms`);
    // Clip throughput: command sent → every byte written to disk, SHA-256 checked.
    const clipOnce = async (device: string): Promise<number> => {
      const clip = rig.clips.get(device)!;
      const file = new FileAssembler(join(rig.dir, `bench-${device}-${++clipCount}.mjpeg`), clip.size);
      const t0 = performance.now();
      const req = await link.command(device, 'clipFetch', { recordingId: clip.id }, { media: true, onChunk: (c) => file.add(c) });
      const fin = await req.waitFor(['done', 'failed'], 120_000);
      if (fin?.status !== 'done') throw new Error(`clip of ${device}: ${fin?.reasonCode ?? 'no reply'} ${fin?.reason ?? ''}`);
      await until(() => file.complete, 20_000, 'the whole clip');
      const s = (performance.now() - t0) / 1000;
      await link.close(req);
      const ok = file.hash() === clip.sha256;
      file.close();
      if (!ok) throw new Error(`clip of ${device} arrived with another SHA-256`);
      return clip.size / 1e6 / s;
    };
    for (const [device, via] of [[mounted, 'mounted footage folder'], [pty, 'control channel (pty)']] as const) {
      const rates: number[] = [];
      for (let i = 0; i < 3; i++) rates.push(await clipOnce(device));
      say(`clips via ${via}: ${rates.map((x) => x.toFixed(1)).join(', ')} MB/s`);
      const best = Math.max(...rates);
      rows.push({ bench: 'spot-check', metric: `clip transfer, ${via}, best of 3 (${(CLIP_BYTES / 1e6).toFixed(0)} MB)`, value: best, unit: 'MB/s', goal: '>= 20', met: best >= 20 });
      rows.push({ bench: 'spot-check', metric: `clip transfer, ${via}, median of 3`, value: pct(rates, 50), unit: 'MB/s' });
    }

    // Live fix latency while clips transfer to a console in another process (so that receiving
    // and hashing them does not delay this process's timestamps), against the same without media.
    // The subscriber has read along since the rig started (a compact live form waits for its reference):
    // the windows start once every receiver's fixes come through on time.
    await probe.caughtUp(120_000);
    const measure = async (withClips: boolean): Promise<number[]> => {
      const load = withClips ? clipLoop(rig, mounted, join(rig.dir, 'latency-clips')) : undefined;
      await sleep(1500);
      const { samples, late } = await probe.window(LATENCY_WINDOW_S);
      if (late) say(`${late} fixes had not arrived 5 s after the window (counted with their wait so far)`);
      const runs = (await load?.stop()) ?? 0;
      if (withClips) say(`${runs} clips of ${(CLIP_BYTES / 1e6).toFixed(0)} MB fetched by a console process during the window`);
      return samples;
    };
    const idle = await measure(false);
    const busy = await measure(true);
    rows.push({ bench: 'spot-check', metric: `live fix latency (pty write → subscriber), no media, p50 (${idle.length} fixes)`, value: pct(idle, 50), unit: 'ms' });
    rows.push({ bench: 'spot-check', metric: 'live fix latency, no media, p99', value: pct(idle, 99), unit: 'ms' });
    rows.push({ bench: 'spot-check', metric: `live fix latency while clips transfer, p50 (${busy.length} fixes)`, value: pct(busy, 50), unit: 'ms' });
    rows.push({ bench: 'spot-check', metric: 'live fix latency while clips transfer, p99', value: pct(busy, 99), unit: 'ms', goal: '<= 100', met: pct(busy, 99) <= 100 });
    rows.push({ bench: 'spot-check', metric: 'machine load average (1 min) at the end', value: loadAverage(), unit: '' });
  } finally {
    for (const fn of cleanups) await Promise.resolve(fn()).catch(() => undefined);
  }
  return rows;
}

void runIfMain(import.meta.url, run);
