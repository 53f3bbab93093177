import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { Topics } from '../protocol/topics.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { NmeaWriter } from '../sim/gnss/nmea-writer.js';
import { PtyEndpoint } from '../sim/gnss/port-endpoint.js';
import { LiveFixReader } from './live-fix-reader.js';

/** What a probe needs of its owner: a cleanup list (a bench's, or a tap test's teardown). */
export interface ProbeOwner {
  teardown(fn: () => unknown): void;
}

/** The p-th percentile (nearest rank) of the samples. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

/**
 * Live-fix latency as a subscriber sees it: GNSS receivers on real
 * pseudo-terminals fed from this process, one epoch on each whole second,
 * noting when each epoch's write completed (as bench/fix-latency.bench.ts);
 * the agent reads them as devices (`devices`, for its configuration), and a
 * subscriber given to `subscribe` takes the time each fix arrives on the
 * broker. Latency = that write → the subscriber has the fix, whichever live
 * form carries it (bench/live-fix-reader.ts), for the fixes written in a
 * window.
 */
export class LiveFixProbe {
  /** Per receiver: when each fix (by its time) was written, and when it arrived at the subscriber. */
  private readonly receivers: Array<{ device: string; endpoint: PtyEndpoint; writer: NmeaWriter; written: Map<number, number>; arrived: Map<number, number> }>;
  /** Latency of each receiver's newest fix at the subscriber. */
  private readonly latest = new Map<string, number>();
  private ticking = true;
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly dir: string, count: number, seed: number, prefix: string) {
    this.receivers = Array.from({ length: count }, (_, i) => {
      const device = `${prefix}-${String(i + 1).padStart(4, '0')}`;
      return { device, endpoint: new PtyEndpoint(join(dir, `${device}-gnss`), join(dir, '.camera-side', `${device}-gnss`)), writer: new NmeaWriter({ rateHz: 1, seed: seed + i }), written: new Map<number, number>(), arrived: new Map<number, number>() };
    });
  }

  /** `count` receivers named PREFIX-0001…, plugged in and fed from the next whole second but one. */
  static async start(owner: ProbeOwner, o: { count: number; seed?: number; prefix?: string }): Promise<LiveFixProbe> {
    const dir = join(tmpdir(), `bwc-live-fix-probe-${process.pid}-${Date.now()}`);
    mkdirSync(join(dir, '.camera-side'), { recursive: true });
    const seed = o.seed ?? 300;
    const probe = new LiveFixProbe(dir, o.count, seed, o.prefix ?? 'LAT');
    for (const r of probe.receivers) await r.endpoint.plug();
    owner.teardown(() => rmSync(dir, { recursive: true, force: true }));
    owner.teardown(() => Promise.all(probe.receivers.map((r) => r.endpoint.unplug())));
    const startMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
    const patrols = probe.receivers.map((_, i) => new Patrol({ seed: seed + i, rateHz: 1, startMs }));
    let n = 0;
    const tick = () => {
      if (!probe.ticking) return;
      for (const [i, r] of probe.receivers.entries()) {
        const fix = patrols[i]!.next();
        r.endpoint.write(r.writer.epochText(fix.timeMs, fix), () => r.written.set(fix.timeMs, performance.now()));
      }
      n++;
      probe.timer = setTimeout(tick, Math.max(0, startMs + n * 1000 - Date.now()));
    };
    probe.timer = setTimeout(tick, startMs - Date.now());
    owner.teardown(() => {
      probe.ticking = false;
      clearTimeout(probe.timer);
    });
    return probe;
  }

  /** The receivers as agent devices (id and GNSS port). */
  get devices(): Array<{ id: string; gnss: string }> {
    return this.receivers.map((r) => ({ id: r.device, gnss: r.endpoint.address }));
  }

  /** Takes the arrival time of the probe's fixes on this subscriber (subscribed here to the live topics). */
  async subscribe(client: MqttClient, topics = new Topics()): Promise<void> {
    const byDevice = new Map(this.receivers.map((r) => [r.device, r]));
    const reader = new LiveFixReader(topics);
    client.on('message', (topic, payload) => {
      const now = performance.now();
      const live = reader.read(topic, payload);
      const r = live && byDevice.get(live.deviceId);
      if (!r) return;
      for (const f of live.fixes) {
        const at = r.written.get(f.timeMs);
        // Each fix counts once, at its first arrival (a redelivery is not a second sample).
        if (at === undefined || r.arrived.has(f.timeMs)) continue;
        r.arrived.set(f.timeMs, now);
        this.latest.set(r.device, now - at);
      }
    });
    await client.subscribeAsync(LiveFixReader.filters(topics), { qos: 1 });
  }

  /**
   * Resolves once every receiver's latest fix came within `withinMs` of its
   * write: the agent reads them all and is not catching up on a backlog (a
   * loaded machine can take long to get there after the agent starts).
   */
  async caughtUp(timeoutMs: number, withinMs = 1000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const ok = () => this.receivers.every((r) => (this.latest.get(r.device) ?? Infinity) <= withinMs);
    while (!ok()) {
      if (Date.now() > end) {
        const late = this.receivers.map((r) => `${r.device} ${this.latest.has(r.device) ? `${Math.round(this.latest.get(r.device)!)} ms` : 'no fix'}`);
        throw new Error(`live fixes not caught up within ${timeoutMs / 1000} s: ${late.join(', ')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Latencies of the fixes written during the next `seconds`, each from its
   * write to its arrival; a fix not arrived `graceMs` after the window counts
   * with the time it has waited so far (a lower bound: a fix held up by the
   * load must not drop out of the figures), and is counted in `late`.
   */
  async window(seconds: number, graceMs = 5000): Promise<{ samples: number[]; late: number }> {
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const t1 = performance.now();
    await new Promise((r) => setTimeout(r, graceMs));
    const now = performance.now();
    const samples: number[] = [];
    let late = 0;
    for (const r of this.receivers) {
      for (const [timeMs, at] of r.written) {
        if (at < t0 || at >= t1) continue;
        const arrived = r.arrived.get(timeMs);
        if (arrived === undefined) late++;
        samples.push((arrived ?? now) - at);
      }
    }
    return { samples, late };
  }
}
