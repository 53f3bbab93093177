import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTrackBatch } from '../protocol/track-codec.js';
import { Topics } from '../protocol/topics.js';
import { FleetDecoder } from '../console/fleet/fleet-decoder.js';
import { FleetState } from '../console/server/fleet-state.js';
import { SqliteTrackStore } from '../console/store/sqlite-track-store.js';
import { PostgresTrackStore } from '../console/store/postgres-track-store.js';
import type { StoredFix, TrackStore } from '../console/store/track-store.js';
import { freshSchema } from '../test/web-console/pg-schema.js';
import { runIfMain, type BenchRow } from './bench-kit.js';
import { loadAverage } from './agent-rig.js';

/**
 * Track store ingest, as the console's feed writes it: batches of a few
 * thousand fixes from 1,000 devices (what 200 ms of a busy fleet brings), one
 * transaction each. Goal from the web console issue: >= 20,000 fixes/s into
 * SQLite and into PostgreSQL. Also the whole path in the console process:
 * protobuf track batches decoded, the live state updated, the store written.
 */
const DEVICES = 1000;
const TOTAL = 200_000;
const BATCH = 4000;
const T0 = Date.UTC(2026, 11, 5, 0, 0, 0);

function fixes(n: number): StoredFix[] {
  return Array.from({ length: n }, (_, i) => {
    const d = i % DEVICES;
    const s = Math.floor(i / DEVICES);
    return { device: `BWC-${String(d).padStart(4, '0')}`, timeMs: T0 + s * 1000, lat: 30.04 + d * 1e-4 + s * 1e-6, lon: 121.15 + s * 1e-6, seq: s, speed: 1.4, course: 90, hdop: 0.9, sats: 14 };
  });
}

/** Wall-clock rate, and the rate per second of this process's CPU (what an idle core would give; the machine is shared). */
async function measure(store: TrackStore, all: StoredFix[]): Promise<[number, number]> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < all.length; i += BATCH) await store.insert(all.slice(i, i + BATCH));
  const c = process.cpuUsage(c0);
  return [all.length / (Number(process.hrtime.bigint() - t0) / 1e9), all.length / ((c.user + c.system) / 1e6)];
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const all = fixes(TOTAL);
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-ingest-'));
  try {
    const sqlite = new SqliteTrackStore(join(dir, 'tracks.sqlite'));
    const [rate, perCpu] = await measure(sqlite, all);
    rows.push({ bench: 'console-ingest', metric: `SQLite, batches of ${BATCH}`, value: Math.round(rate), unit: 'fixes/s', goal: '>= 20000', met: rate >= 20_000 });
    rows.push({ bench: 'console-ingest', metric: 'SQLite, per CPU second of the console', value: Math.round(perCpu), unit: 'fixes/CPU-s' });

    // The console's whole path: wire batches (one fix each, as 1 Hz devices send) → decode → state → store.
    const topics = new Topics();
    const wire = all.slice(0, 100_000).map((f) => ({
      topic: topics.device(f.device, 'track'),
      payload: Buffer.from(encodeTrackBatch({ header: { deviceId: f.device, seq: f.seq!, session: 1, sentMs: f.timeMs }, historical: false, fixes: [{ timeMs: f.timeMs + 3_600_000, lat: f.lat, lon: f.lon, mode: 3, speed: 1.4, course: 90, hdop: 0.9 }], seqs: [f.seq!] })),
    }));
    const state = new FleetState();
    const decoder = new FleetDecoder(topics);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let queue: StoredFix[] = [];
    for (const m of wire) {
      for (const r of decoder.decode(m.topic, m.payload)) {
        const f: StoredFix = { device: String(r.device), timeMs: Date.parse(String(r.time)), lat: Number(r.lat), lon: Number(r.lon), seq: Number(r.seq), hdop: Number(r.hdop) };
        state.fix(f);
        queue.push(f);
      }
      if (queue.length >= BATCH) {
        await sqlite.insert(queue);
        queue = [];
      }
    }
    await sqlite.insert(queue);
    const whole = wire.length / (Number(process.hrtime.bigint() - t0) / 1e9);
    const cw = process.cpuUsage(c0);
    rows.push({ bench: 'console-ingest', metric: 'decode + state + SQLite, 1-fix messages', value: Math.round(whole), unit: 'fixes/s', goal: '>= 20000', met: whole >= 20_000 });
    rows.push({ bench: 'console-ingest', metric: 'decode + state + SQLite, per CPU second', value: Math.round(wire.length / ((cw.user + cw.system) / 1e6)), unit: 'fixes/CPU-s' });
    await sqlite.close();

    const { url, drop } = await freshSchema('bwc_bench');
    try {
      const pg = await PostgresTrackStore.open(url);
      const [pgRate] = await measure(pg, all);
      rows.push({ bench: 'console-ingest', metric: `PostgreSQL${pg.postgis ? ' + PostGIS' : ''}, batches of ${BATCH}`, value: Math.round(pgRate), unit: 'fixes/s', goal: '>= 20000', met: pgRate >= 20_000 });
      // Replay query: 24 h of one device.
      const day = Array.from({ length: 86_400 }, (_, s): StoredFix => ({ device: 'DAY-1', timeMs: T0 + s * 1000, lat: 30 + s * 1e-6, lon: 121 + s * 1e-6, hdop: 1 }));
      for (let i = 0; i < day.length; i += 10_000) await pg.insert(day.slice(i, i + 10_000));
      const q0 = process.hrtime.bigint();
      const got = await pg.track({ devices: ['DAY-1'], fromMs: T0, toMs: T0 + 86_400_000 });
      rows.push({ bench: 'console-ingest', metric: `PostgreSQL: read 24 h of one device (${got.length} fixes)`, value: Number(process.hrtime.bigint() - q0) / 1e6, unit: 'ms' });
      await pg.close();
    } finally {
      await drop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rows.push({ bench: 'console-ingest', metric: 'machine load average (2 cores, shared)', value: loadAverage(), unit: '' });
  return rows;
}

await runIfMain(import.meta.url, run);
