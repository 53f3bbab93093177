import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { emptyColumns, type TrackColumns } from './track-columns.js';
import type { StoredFix, TrackQuery, TrackStore } from './track-store.js';
import { newestPerDevice } from './track-store.js';

type Row = { device: string; time_ms: number; lat: number; lon: number; seq: number | null; alt: number | null; speed: number | null; course: number | null; hdop: number | null; sats: number | null; historical: number };

export function rowToFix(r: Row): StoredFix {
  const f: StoredFix = { device: r.device, timeMs: Number(r.time_ms), lat: r.lat, lon: r.lon };
  if (r.seq !== null) f.seq = Number(r.seq);
  if (r.alt !== null) f.alt = r.alt;
  if (r.speed !== null) f.speed = r.speed;
  if (r.course !== null) f.course = r.course;
  if (r.hdop !== null) f.hdop = r.hdop;
  if (r.sats !== null) f.sats = r.sats;
  if (r.historical) f.historical = true;
  return f;
}

const COLUMNS = 'device, time_ms, lat, lon, seq, alt, speed, course, hdop, sats, historical';

/** The rows of a track, as the aggregate bwc_track_columns() gets them, in growing typed arrays. */
export class ColumnCollector {
  n = 0;
  private inOrder = true;
  private c = emptyColumns('', 1024);

  add(t: number, lat: number, lon: number, hdop: number | null, speed: number | null): ColumnCollector {
    if (this.n === this.c.t.length) {
      const bigger = emptyColumns('', this.n * 2);
      for (const k of ['t', 'lat', 'lon', 'hdop', 'speed'] as const) bigger[k].set(this.c[k]);
      this.c = bigger;
    }
    const i = this.n++;
    if (i > 0 && t < this.c.t[i - 1]!) this.inOrder = false;
    this.c.t[i] = t;
    this.c.lat[i] = lat;
    this.c.lon[i] = lon;
    this.c.hdop[i] = hdop ?? NaN;
    this.c.speed[i] = speed ?? NaN;
    return this;
  }

  /** The columns (views of what was collected), in time order: SQLite does not promise the order rows reach an aggregate. */
  finish(device: string): TrackColumns {
    const n = this.n;
    const c = this.c;
    if (this.inOrder) return { device, t: c.t.subarray(0, n), lat: c.lat.subarray(0, n), lon: c.lon.subarray(0, n), hdop: c.hdop.subarray(0, n), speed: c.speed.subarray(0, n) };
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => c.t[a]! - c.t[b]!);
    const out = emptyColumns(device, n);
    for (const k of ['t', 'lat', 'lon', 'hdop', 'speed'] as const) order.forEach((from, i) => (out[k][i] = c[k][from]!));
    return out;
  }
}

/**
 * SQLite, the default: one file in the data folder, WAL, fixes keyed by
 * (device, time) so duplicates (QoS 1 redelivery, backlog overlap) cost one
 * ignored row. Each batch is one transaction.
 */
export class SqliteTrackStore implements TrackStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly insertFix: Database.Statement;
  private readonly upsertLatest: Database.Statement;
  private readonly insertBatch: (fixes: StoredFix[]) => void;
  private readonly selectColumns: Database.Statement;
  /** What the last bwc_track_columns() collected (the call is synchronous). */
  private collected: ColumnCollector | undefined;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS fixes (
        device TEXT NOT NULL, time_ms INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
        seq INTEGER, alt REAL, speed REAL, course REAL, hdop REAL, sats INTEGER, historical INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (device, time_ms)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS latest (
        device TEXT PRIMARY KEY, time_ms INTEGER NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
        seq INTEGER, alt REAL, speed REAL, course REAL, hdop REAL, sats INTEGER, historical INTEGER NOT NULL DEFAULT 0);`);
    const values = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    this.insertFix = this.db.prepare(`INSERT OR IGNORE INTO fixes (${COLUMNS}) VALUES ${values}`);
    // The WHERE makes the latest position move only forward in time.
    this.upsertLatest = this.db.prepare(`INSERT INTO latest (${COLUMNS}) VALUES ${values}
      ON CONFLICT (device) DO UPDATE SET time_ms = excluded.time_ms, lat = excluded.lat, lon = excluded.lon, seq = excluded.seq,
        alt = excluded.alt, speed = excluded.speed, course = excluded.course, hdop = excluded.hdop, sats = excluded.sats, historical = excluded.historical
      WHERE excluded.time_ms > latest.time_ms`);
    // The replay's read: rows go straight into typed arrays through an aggregate function,
    // a fifth of the time of rows handed to JavaScript one by one (a day of a device: 86,400).
    this.db.aggregate('bwc_track_columns', {
      start: () => new ColumnCollector(),
      step: ((c: ColumnCollector, t: number, lat: number, lon: number, hdop: number | null, speed: number | null) => c.add(t, lat, lon, hdop, speed)) as never,
      result: (c: ColumnCollector) => {
        this.collected = c;
        return c.n;
      },
    });
    this.selectColumns = this.db.prepare(`SELECT bwc_track_columns(time_ms, lat, lon, hdop, speed) FROM
      (SELECT time_ms, lat, lon, hdop, speed FROM fixes WHERE device = ? AND time_ms >= ? AND time_ms <= ? ORDER BY time_ms LIMIT ?)`);
    this.insertBatch = this.db.transaction((fixes: StoredFix[]) => {
      for (const f of fixes) this.insertFix.run(...params(f));
      for (const f of newestPerDevice(fixes)) this.upsertLatest.run(...params(f));
    });
  }

  async insert(fixes: StoredFix[]): Promise<void> {
    if (fixes.length) this.insertBatch(fixes);
  }

  async latest(): Promise<StoredFix[]> {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM latest ORDER BY device`).all() as Row[]).map(rowToFix);
  }

  async track(q: TrackQuery): Promise<StoredFix[]> {
    const stmt = this.db.prepare(`SELECT ${COLUMNS} FROM fixes WHERE device = ? AND time_ms >= ? AND time_ms <= ? ORDER BY time_ms LIMIT ?`);
    const out: StoredFix[] = [];
    for (const d of q.devices) for (const r of stmt.all(d, q.fromMs, q.toMs, q.limit ?? 1_000_000) as Row[]) out.push(rowToFix(r));
    return out;
  }

  async trackColumns(q: TrackQuery): Promise<TrackColumns[]> {
    const out: TrackColumns[] = [];
    for (const d of q.devices) {
      this.collected = undefined;
      this.selectColumns.get(d, q.fromMs, q.toMs, q.limit ?? 1_000_000);
      const c = this.collected as ColumnCollector | undefined;
      if (c?.n) out.push(c.finish(d));
    }
    this.collected = undefined;
    return out;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function params(f: StoredFix): unknown[] {
  return [f.device, f.timeMs, f.lat, f.lon, f.seq ?? null, f.alt ?? null, f.speed ?? null, f.course ?? null, f.hdop ?? null, f.sats ?? null, f.historical ? 1 : 0];
}
