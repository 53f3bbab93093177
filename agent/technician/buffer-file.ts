import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { APPLICATION_ID } from '../buffer/buffer-database.js';
import { MESSAGE_KINDS, emptyByKind, type MessageKind } from '../buffer/message-buffer.js';
import { decodeFixPayload } from '../fix-payload.js';
import type { Fix } from '../../protocol/fix.js';
import { BwcError } from '../../common/errors.js';

export interface BufferFileStats {
  file: string;
  /** Size of the database file and its write-ahead log. */
  fileBytes: number;
  rows: number;
  /** Payload bytes held. */
  bytes: number;
  oldestMs?: number;
  newestMs?: number;
  byKind: Record<MessageKind, number>;
  devices: { id: string; rows: number; lastSeq: number }[];
}

export interface BufferedFix {
  device: string;
  seq: number;
  fix: Fix;
}

/**
 * Reads the agent's buffer file read-only, beside a running agent (SQLite
 * WAL lets a reader in while the agent writes): what technicians and
 * auditors look at. Writing (prune) goes through SqliteMessageBuffer with
 * the agent stopped, never through here.
 */
export class BufferFile {
  private constructor(private readonly db: Database.Database, readonly file: string) {}

  static open(file: string): BufferFile {
    if (!existsSync(file)) throw new BwcError('BUFFER_MISSING', `no buffer at ${file}: the agent has not run with this configuration yet, or buffer.path points elsewhere`);
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true });
      const appId = db.pragma('application_id', { simple: true }) as number;
      if (appId !== APPLICATION_ID) {
        db.close();
        throw new BwcError('BUFFER_FOREIGN', `${file} is not a bwc-agent buffer (SQLite application_id ${appId})`);
      }
    } catch (err) {
      if (err instanceof BwcError) throw err;
      throw new BwcError('BUFFER_UNREADABLE', `cannot read the buffer ${file}: ${(err as Error).message}`, { cause: err });
    }
    return new BufferFile(db, file);
  }

  /** SQLite's quick_check: "ok", or what is damaged. */
  check(): string {
    const rows = this.db.pragma('quick_check') as { quick_check: string }[];
    return rows.map((r) => r.quick_check).join('; ');
  }

  stats(): BufferFileStats {
    const byKind = emptyByKind();
    for (const r of this.db.prepare('SELECT kind, COUNT(*) AS n FROM messages GROUP BY kind').all() as { kind: number; n: number }[]) {
      const k = MESSAGE_KINDS[r.kind];
      if (k) byKind[k] = r.n;
    }
    const agg = this.db.prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(LENGTH(payload)), 0) AS bytes, MIN(time_ms) AS oldest, MAX(time_ms) AS newest FROM messages').get() as { rows: number; bytes: number; oldest: number | null; newest: number | null };
    const devices = this.db
      .prepare('SELECT d.id AS id, d.last_seq AS lastSeq, COUNT(m.id) AS rows FROM devices d LEFT JOIN messages m ON m.device = d.num GROUP BY d.num ORDER BY d.id')
      .all() as { id: string; lastSeq: number; rows: number }[];
    let fileBytes = 0;
    for (const f of [this.file, `${this.file}-wal`]) if (existsSync(f)) fileBytes += statSync(f).size;
    return {
      file: this.file,
      fileBytes,
      rows: agg.rows,
      bytes: agg.bytes,
      ...(agg.oldest !== null ? { oldestMs: agg.oldest } : {}),
      ...(agg.newest !== null ? { newestMs: agg.newest } : {}),
      byKind,
      devices,
    };
  }

  /** Fixes of a device (or all) in a time range, in time order. Unreadable payloads are counted, not thrown. */
  fixes(q: { device?: string; fromMs?: number; toMs?: number }): { fixes: BufferedFix[]; unreadable: number } {
    let sql = 'SELECT d.id AS device, m.seq AS seq, m.payload AS payload FROM messages m JOIN devices d ON d.num = m.device WHERE m.kind = 0';
    const params: (string | number)[] = [];
    if (q.device !== undefined) {
      sql += ' AND d.id = ?';
      params.push(q.device);
    }
    if (q.fromMs !== undefined) {
      sql += ' AND m.time_ms >= ?';
      params.push(q.fromMs);
    }
    if (q.toMs !== undefined) {
      sql += ' AND m.time_ms <= ?';
      params.push(q.toMs);
    }
    sql += ' ORDER BY d.id, m.time_ms, m.seq';
    const out: BufferedFix[] = [];
    let unreadable = 0;
    for (const r of this.db.prepare(sql).iterate(...params) as Iterable<{ device: string; seq: number; payload: Buffer }>) {
      try {
        const fix = decodeFixPayload(r.payload);
        if (!Number.isFinite(fix.lat) || !Number.isFinite(fix.lon) || !Number.isFinite(fix.timeMs)) throw new Error('not a fix');
        out.push({ device: r.device, seq: r.seq, fix });
      } catch {
        unreadable++;
      }
    }
    return { fixes: out, unreadable };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Processes (other than this one) that hold the file open, from /proc/PID/fd:
 * a prune must not run under a live agent, whose counters and sequence
 * state would no longer match the file.
 */
export function processesHolding(file: string): number[] {
  const target = resolve(file);
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${e}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${e}/fd/${fd}`);
        if (link === target || link === `${target}-wal`) {
          pids.push(Number(e));
          break;
        }
      } catch {
        // The fd closed meanwhile.
      }
    }
  }
  return pids;
}
