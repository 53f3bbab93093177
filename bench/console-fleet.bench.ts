import mqtt from 'mqtt';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeMessage } from '../protocol/codec.js';
import { encodeTrackBatch } from '../protocol/track-codec.js';
import { Topics } from '../protocol/topics.js';
import { SqliteTrackStore } from '../console/store/sqlite-track-store.js';
import type { StoredFix } from '../console/store/track-store.js';
import { TestMosquitto } from '../test/helpers/mosquitto.js';
import { launch, login } from '../test/web-console/browser.js';
import { ConsoleProcess } from '../test/web-console/console-process.js';
import { cpuPercent, loadAverage, sampleProcess, sleep } from './agent-rig.js';
import { runIfMain, type BenchRow } from './bench-kit.js';

/**
 * The web console at fleet scale. A load generator publishes 1,000 devices
 * at 1 Hz (one fix a message, a status each every 30 s) to mosquitto;
 * `bwc-console serve` runs as its own process (its CPU and RSS read from
 * /proc); Chromium shows the live map. Goals from the web console issue:
 * browser frame time p95 <= 50 ms, server <= 30 % of a core and <= 300 MB.
 * Before the load: replay of 24 h of one device (86,400 fixes), from the
 * click to the frame that drew it, <= 1 s.
 */
const DEVICES = 1000;
const MEASURE_S = 30;

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))] ?? NaN;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-console-'));
  const cleanup: Array<() => unknown> = [];
  const owner = { teardown: (f: () => unknown) => cleanup.push(f) };
  try {
    const broker = await TestMosquitto.start();
    cleanup.push(() => broker.stop());
    const dataDir = join(dir, 'console');
    // 24 h of one device, in the store before the console starts.
    const dayStart = Date.now() - 86_400_000;
    const store = new SqliteTrackStore(join(dataDir, 'tracks.sqlite'));
    const day: StoredFix[] = Array.from({ length: 86_400 }, (_, s) => ({ device: 'DAY-0001', timeMs: dayStart + s * 1000, lat: 30.03 + 0.01 * Math.sin(s / 2000), lon: 121.14 + 0.01 * Math.cos(s / 3000) + s * 1e-7, hdop: 0.9 }));
    for (let i = 0; i < day.length; i += 10_000) await store.insert(day.slice(i, i + 10_000));
    await store.close();
    await ConsoleProcess.addUser(dataDir, 'bench', 'viewer', 'bench password');
    const con = await ConsoleProcess.start(owner, ['--broker', broker.url], dataDir);
    const browser = await launch();
    cleanup.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await login(page, con.url, 'bench', 'bench password');

    // Replay: 24 h of one device.
    await page.fill('input[name=replay-devices]', 'DAY-0001');
    await page.evaluate((from) => {
      const f = document.querySelector('input[name=replay-from]') as HTMLInputElement;
      f.value = new Date(from - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    }, dayStart - 60_000);
    const drawMs = await page.evaluate(async () => {
      const map = document.getElementById('map')!;
      const t0 = performance.now();
      (document.querySelector('[data-action=replay]') as HTMLButtonElement).click();
      while (Number(map.dataset.replayPoints ?? 0) < 86_400) await new Promise((r) => requestAnimationFrame(r));
      return Number(map.dataset.replayDrawnAt) - t0;
    });
    rows.push({ bench: 'console-fleet', metric: 'replay 24 h (86,400 fixes): click to drawn', value: Math.round(drawMs), unit: 'ms', goal: '<= 1000', met: drawMs <= 1000 });
    await page.click('[data-action=replay-clear]');

    // The load generator: 1,000 devices at 1 Hz, spread over the second.
    const topics = new Topics();
    const pub = await mqtt.connectAsync(broker.url, { clean: true });
    cleanup.push(() => pub.endAsync(true));
    const ids = Array.from({ length: DEVICES }, (_, i) => `LOAD-${String(i).padStart(4, '0')}`);
    const seqs = new Array<number>(DEVICES).fill(0);
    let running = true;
    const status = (i: number) => pub.publish(topics.device(ids[i]!, 'status'), Buffer.from(encodeMessage('Status', { deviceId: ids[i]!, seq: ++seqs[i]!, session: 1, sentMs: Date.now() }, {
      online: true, recording: i % 3 === 0 ? 'RECORDING_STATE_RECORDING' : i % 3 === 1 ? 'RECORDING_STATE_PRE_RECORD' : 'RECORDING_STATE_OFF', hasBattery: true, batteryPct: 50 + (i % 50),
      officer: { officerNumber: String(100000 + i), name: `Officer ${i}`, unitNumber: String(330000 + (i % 20)), unitName: 'Unit' },
    })), { qos: 1, retain: true });
    for (let i = 0; i < DEVICES; i++) status(i);
    const gen = (async () => {
      let tick = 0;
      while (running) {
        const t0 = Date.now();
        for (let i = 0; i < DEVICES && running; i++) {
          const now = Date.now();
          const a = (i / DEVICES) * Math.PI * 2;
          const r = 0.02 + 0.0005 * Math.sin(tick / 10 + i);
          const lat = 30.04 + r * Math.sin(a + tick * 1e-4);
          const lon = 121.15 + r * Math.cos(a + tick * 1e-4);
          const seq = ++seqs[i]!;
          pub.publish(topics.device(ids[i]!, 'track'), Buffer.from(encodeTrackBatch({ header: { deviceId: ids[i]!, seq, session: 1, sentMs: now }, historical: false, fixes: [{ timeMs: now, lat, lon, mode: 3, speed: 1.4, course: 90, hdop: 0.9 }], seqs: [seq] })), { qos: 1 });
          if (tick % 30 === i % 30 && tick > 0) status(i);
          if (i % 50 === 49) await sleep(Math.max(0, t0 + ((i + 1) / DEVICES) * 1000 - Date.now()));
        }
        tick++;
        await sleep(Math.max(0, t0 + 1000 - Date.now()));
      }
    })();
    cleanup.push(async () => {
      running = false;
      await gen;
    });
    await page.waitForFunction((n) => document.querySelectorAll('.marker[data-device^="LOAD-"]').length >= n, DEVICES, { timeout: 120_000, polling: 1000 });
    await sleep(5000);
    const a = sampleProcess(con.child.pid!);
    const frames = await page.evaluate(async (s) => {
      const out: number[] = [];
      let last = performance.now();
      const end = last + s * 1000;
      await new Promise<void>((done) => {
        const step = (now: number) => {
          out.push(now - last);
          last = now;
          if (now < end) requestAnimationFrame(step);
          else done();
        };
        requestAnimationFrame(step);
      });
      const render = (window as unknown as { bwcMap: { frameTimes: number[] } }).bwcMap.frameTimes.slice(-200);
      return { intervals: out, render };
    }, MEASURE_S);
    const b = sampleProcess(con.child.pid!);
    running = false;
    await gen;
    const cpu = cpuPercent(a, b);
    const frameP95 = p95(frames.intervals);
    rows.push({ bench: 'console-fleet', metric: `browser frame time p95, ${DEVICES} devices at 1 Hz`, value: Math.round(frameP95 * 10) / 10, unit: 'ms', goal: '<= 50', met: frameP95 <= 50 });
    rows.push({ bench: 'console-fleet', metric: 'browser map render p95 (a frame with changes)', value: Math.round(p95(frames.render) * 10) / 10, unit: 'ms' });
    rows.push({ bench: 'console-fleet', metric: `server CPU, ${DEVICES} devices at 1 Hz`, value: Math.round(cpu * 10) / 10, unit: '% of a core', goal: '<= 30', met: cpu <= 30 });
    rows.push({ bench: 'console-fleet', metric: 'server RSS (peak)', value: Math.round(b.peakRssMb), unit: 'MB', goal: '<= 300', met: b.peakRssMb <= 300 });
    rows.push({ bench: 'console-fleet', metric: 'machine load average during the run', value: loadAverage(), unit: '' });
  } finally {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

await runIfMain(import.meta.url, run);
