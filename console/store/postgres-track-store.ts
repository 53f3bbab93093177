import pg from 'pg';
import { BwcError, describeError } from '../../common/errors.js';
import { rowToFix } from './sqlite-track-store.js';
import { columnsOf, type TrackColumns } from './track-columns.js';
import type { StoredFix, TrackQuery, TrackStore } from './track-store.js';
import { newestPerDevice } from './track-store.js';

const COLUMNS = 'device, time_ms, lat, lon, seq, alt, speed, course, hdop, sats, historical';
const TYPES = ['text', 'int8', 'float8', 'float8', 'int8', 'float8', 'float8', 'float8', 'float8', 'int4', 'int2'];

/**
 * PostgreSQL, for large fleets and several console instances: the same two
 * tables as SQLite. A batch goes in as one INSERT over unnest() of column
 * arrays (one round trip whatever its size). Where PostGIS is installed the
 * fixes table also gets a geography column, filled by the database, for
 * spatial queries by other tools.
 */
export class PostgresTrackStore implements TrackStore {
  readonly kind = 'postgres' as const;
  postgis = false;

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string): Promise<PostgresTrackStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    const s = new PostgresTrackStore(pool);
    try {
      await s.init();
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new BwcError('STORE_UNREACHABLE', `cannot use the PostgreSQL track store at ${redactUrl(url)}: ${describeError(err)} (is the server running, the database created, the user allowed?)`, { cause: err });
    }
    return s;
  }

  private async init(): Promise<void> {
    await this.pool.query(`
      CREATE TABLE IF NOT EXISTS bwc_fixes (
        device text NOT NULL, time_ms bigint NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL,
        seq bigint, alt double precision, speed double precision, course double precision, hdop double precision, sats int, historical smallint NOT NULL DEFAULT 0,
        PRIMARY KEY (device, time_ms));
      CREATE TABLE IF NOT EXISTS bwc_latest (
        device text PRIMARY KEY, time_ms bigint NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL,
        seq bigint, alt double precision, speed double precision, course double precision, hdop double precision, sats int, historical smallint NOT NULL DEFAULT 0);`);
    try {
      await this.pool.query('CREATE EXTENSION IF NOT EXISTS postgis');
      await this.pool.query(`ALTER TABLE bwc_fixes ADD COLUMN IF NOT EXISTS geom geography(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED`);
      this.postgis = true;
    } catch {
      // No PostGIS here: plain latitude and longitude columns serve the console.
      this.postgis = false;
    }
  }

  async insert(fixes: StoredFix[]): Promise<void> {
    if (!fixes.length) return;
    const cols = columns(fixes);
    const unnest = TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO bwc_fixes (${COLUMNS}) SELECT * FROM unnest(${unnest}) ON CONFLICT DO NOTHING`, cols);
      // Only forward in time: a late fix never overwrites a newer latest position.
      await client.query(`INSERT INTO bwc_latest (${COLUMNS}) SELECT * FROM unnest(${unnest})
        ON CONFLICT (device) DO UPDATE SET time_ms = excluded.time_ms, lat = excluded.lat, lon = excluded.lon, seq = excluded.seq,
          alt = excluded.alt, speed = excluded.speed, course = excluded.course, hdop = excluded.hdop, sats = excluded.sats, historical = excluded.historical
        WHERE excluded.time_ms > bwc_latest.time_ms`, columns(newestPerDevice(fixes)));
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async latest(): Promise<StoredFix[]> {
    return (await this.pool.query(`SELECT ${COLUMNS} FROM bwc_latest ORDER BY device`)).rows.map(rowToFix);
  }

  async track(q: TrackQuery): Promise<StoredFix[]> {
    const r = await this.pool.query(
      `SELECT ${COLUMNS} FROM (SELECT *, row_number() OVER (PARTITION BY device ORDER BY time_ms) AS n FROM bwc_fixes
        WHERE device = ANY($1::text[]) AND time_ms >= $2 AND time_ms <= $3) x WHERE n <= $4 ORDER BY device, time_ms`,
      [q.devices, q.fromMs, q.toMs, q.limit ?? 1_000_000],
    );
    return r.rows.map(rowToFix);
  }

  async trackColumns(q: TrackQuery): Promise<TrackColumns[]> {
    const fixes = await this.track(q);
    return q.devices.map((d) => fixes.filter((f) => f.device === d)).filter((f) => f.length > 0).map((f) => columnsOf(f[0]!.device, f));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Test and benchmark helper: empties both tables. */
  async clear(): Promise<void> {
    await this.pool.query('TRUNCATE bwc_fixes, bwc_latest');
  }
}

function columns(fixes: StoredFix[]): unknown[][] {
  const n = (v: number | undefined) => (v === undefined ? null : v);
  return [
    fixes.map((f) => f.device), fixes.map((f) => f.timeMs), fixes.map((f) => f.lat), fixes.map((f) => f.lon), fixes.map((f) => n(f.seq)),
    fixes.map((f) => n(f.alt)), fixes.map((f) => n(f.speed)), fixes.map((f) => n(f.course)), fixes.map((f) => n(f.hdop)), fixes.map((f) => n(f.sats)),
    fixes.map((f) => (f.historical ? 1 : 0)),
  ];
}

/** A connection URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the given URL';
  }
}
