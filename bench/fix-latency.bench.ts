import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Topics } from '../protocol/topics.js';
import { LiveFixReader } from './live-fix-reader.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { NmeaWriter } from '../sim/gnss/nmea-writer.js';
import { PtyEndpoint } from '../sim/gnss/port-endpoint.js';
import { TestMosquitto } from '../test/helpers/mosquitto.js';
import { loadAverage, MachineLoad, percentile, round, sleep, startAgentProcess, stopChild, writeAgentConfig } from './agent-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';

/**
 * Serial-to-subscriber latency of live fixes. Goal from the agent core
 * issue: p99 <= 50 ms on loopback.
 *
 * Simulated receivers (the simulator's own patrol and NMEA writer) on real
 * pseudo-terminals (socat pairs, as `bwc-agent sim`) write one epoch a second
 * and note, per fix time, when the write of its last sentence completed;
 * `bwc-agent run` (a separate process, reporting every fix) reads them and
 * publishes to a test mosquitto; a subscriber in this process decodes each
 * live track message and takes the time since the write of that fix. Both
 * clocks are this process's, so the figure is end to end: pty, socat, the
 * agent's decoder, pipeline, buffer (an SQLite commit), MQTT, the broker,
 * the subscriber's decode.
 */
const CAMERAS = 16;

export async function run(): Promise<BenchRow[]> {
  const windowS = Number(process.env.BWC_BENCH_WINDOW_S ?? 30);
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-latency-'));
  const broker = await TestMosquitto.start();
  const cleanup: Array<() => Promise<unknown> | unknown> = [() => broker.stop(), () => rmSync(dir, { recursive: true, force: true })];
  try {
    const portDir = join(dir, 'ports');
    mkdirSync(join(portDir, '.camera-side'), { recursive: true });
    const cams = Array.from({ length: CAMERAS }, (_, i) => {
      const device = `LAT-${String(i + 1).padStart(4, '0')}`;
      return {
        device,
        endpoint: new PtyEndpoint(join(portDir, `${device}-gnss`), join(portDir, '.camera-side', `${device}-gnss`)),
        writer: new NmeaWriter({ rateHz: 1, seed: 100 + i }),
        /** fix time → when its epoch's write completed (performance.now()). */
        written: new Map<number, number>(),
      };
    });
    for (const c of cams) await c.endpoint.plug();
    cleanup.unshift(() => Promise.all(cams.map((c) => c.endpoint.unplug())));

    // Receivers: an epoch on each whole second (as receivers align to GNSS time), times from the wall clock.
    const startMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const patrols = cams.map((_, i) => new Patrol({ seed: 100 + i, rateHz: 1, startMs }));
    let k = 0;
    let stopped = false;
    const tick = () => {
      if (stopped) return;
      for (const [i, c] of cams.entries()) {
        const fix = patrols[i]!.next();
        const text = c.writer.epochText(fix.timeMs, fix);
        c.endpoint.write(text, () => c.written.set(fix.timeMs, performance.now()));
      }
      k++;
      timer = setTimeout(tick, Math.max(0, startMs + k * 1000 - Date.now()));
    };
    let timer = setTimeout(tick, startMs - Date.now());
    cleanup.unshift(() => {
      stopped = true;
      clearTimeout(timer);
    });

    const configFile = join(dir, 'agent.yaml');
    writeAgentConfig(configFile, {
      id: 'bench-latency',
      dataDir: join(dir, 'data'),
      broker: broker.url,
      devices: cams.map((c) => ({ device: c.device, port: c.endpoint.address, control: '' })),
      // Every fix is reported, so each one is a sample.
      reporting: { recordingIntervalS: 1, movingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
    });

    const topics = new Topics();
    const byDevice = new Map(cams.map((c) => [c.device, c]));
    const reader = new LiveFixReader(topics);
    let measuring = false;
    const samples: number[] = [];
    let unmatched = 0;
    const seenDevices = new Set<string>();
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
    cleanup.unshift(() => sub.endAsync(true));
    sub.on('message', (topic, payload) => {
      const now = performance.now();
      const live = reader.read(topic, payload);
      if (!live) return;
      seenDevices.add(live.deviceId);
      if (!measuring) return;
      const cam = byDevice.get(live.deviceId)!;
      for (const f of live.fixes) {
        const at = cam.written.get(f.timeMs);
        if (at === undefined) unmatched++;
        else samples.push(now - at);
      }
    });
    await sub.subscribeAsync(LiveFixReader.filters(topics), { qos: 1 });

    const agent = startAgentProcess(configFile);
    cleanup.unshift(() => stopChild(agent.child));
    const deadline = Date.now() + 90_000;
    while (seenDevices.size < CAMERAS) {
      if (Date.now() > deadline) throw new Error(`live fixes from ${seenDevices.size} of ${CAMERAS} cameras after 90 s:\n${agent.output().slice(-3000)}`);
      await sleep(100);
    }
    await sleep(5000);
    const machine = new MachineLoad();
    measuring = true;
    await sleep(windowS * 1000);
    measuring = false;
    const busy = machine.busyPercent();
    samples.sort((a, b) => a - b);
    const p99 = percentile(samples, 99);
    const bench = `fix-latency ${CAMERAS} cameras at 1 Hz`;
    return [
      { bench, metric: 'serial → subscriber p99', value: round(p99, 2), unit: 'ms', goal: '<= 50', met: p99 <= 50 },
      { bench, metric: 'p50', value: round(percentile(samples, 50), 2), unit: 'ms' },
      { bench, metric: 'p90', value: round(percentile(samples, 90), 2), unit: 'ms' },
      { bench, metric: 'max', value: round(samples[samples.length - 1] ?? NaN, 2), unit: 'ms' },
      { bench, metric: 'samples (fixes matched to their write)', value: samples.length, unit: 'fixes', goal: `>= ${Math.floor(CAMERAS * windowS * 0.9)}`, met: samples.length >= CAMERAS * windowS * 0.9 },
      { bench, metric: 'fixes not matched to a write', value: unmatched, unit: 'fixes' },
      { bench, metric: 'whole machine busy (2 cores)', value: round(busy), unit: '% all' },
      { bench, metric: 'load average at the end', value: loadAverage(), unit: '' },
    ];
  } finally {
    for (const f of cleanup) await f();
  }
}

void runIfMain(import.meta.url, run);
