import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BwcError } from '../../common/errors.js';

type Db = Database.Database;

/** 'BWCB' in the SQLite header: tells our buffer from any other SQLite file. */
export const APPLICATION_ID = 0x42574342;
export const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS devices (
    num INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    last_seq INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    time_ms INTEGER NOT NULL,
    payload BLOB NOT NULL
  );
  -- No secondary index: an index on (device, kind) doubled the pages each
  -- commit writes (64 devices touch 64 index leaves) and halved append speed;
  -- the buffer keeps per-(device, kind) counts and newest ids in memory instead.
`;

/** What was wrong with a database that had to be moved aside. */
export interface Recovery {
  movedTo: string;
  reason: string;
  atMs: number;
}

class UnusableDatabase extends Error {}

/**
 * Opens (or creates) the buffer database. A file that is not a readable
 * buffer (garbage, truncated, malformed pages, another program's database,
 * a newer schema) is moved aside as `<path>.corrupt-<time>` with its WAL, and
 * a fresh one is created: the agent keeps running and reports the loss,
 * rather than failing on every restart. Other errors (permissions, a missing
 * disk) are not the file's fault: they are thrown.
 */
export function openBufferDatabase(path: string, onMovedAside: (r: Recovery) => void): { db: Db; recovered?: Recovery } {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (err) {
    throw new BwcError('BUFFER_OPEN', `cannot create the folder of the buffer ${path}: ${(err as Error).message}`, { cause: err });
  }
  let recovered: Recovery | undefined;
  try {
    return { db: openChecked(path) };
  } catch (err) {
    if (!isCorruption(err)) {
      throw new BwcError('BUFFER_OPEN', `cannot open the buffer ${path}: ${(err as Error).message}`, { cause: err });
    }
    recovered = moveAside(path, (err as Error).message);
    onMovedAside(recovered);
  }
  try {
    return { db: openChecked(path), recovered };
  } catch (err) {
    // A fresh file failing too is not about its content: say so once, no loop.
    throw new BwcError('BUFFER_OPEN', `cannot create a fresh buffer ${path} after moving the unreadable one aside: ${(err as Error).message}`, { cause: err });
  }
}

function openChecked(path: string): Db {
  const db = new Database(path);
  try {
    // Any read of a garbage file fails here with SQLITE_NOTADB.
    const app = db.pragma('application_id', { simple: true }) as number;
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
    if (tables.n > 0 && app !== APPLICATION_ID) throw new UnusableDatabase(`not a bwc-agent buffer (application_id ${app})`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new UnusableDatabase(`written by a newer agent (schema ${version}, this one knows ${SCHEMA_VERSION})`);
    if (tables.n > 0) {
      // Pages cut off or scrambled show here, not at open. O(size): about
      // 0.1 s per 100 MB, once per start.
      const check = db.pragma('quick_check', { simple: true }) as string;
      if (check !== 'ok') throw new UnusableDatabase(`integrity check failed: ${check}`);
    }
    const mode = db.pragma('journal_mode = WAL', { simple: true }) as string;
    if (mode !== 'wal') throw new BwcError('BUFFER_OPEN', `the file system of ${path} does not support SQLite's WAL mode (journal_mode stays ${mode})`);
    // See agent/buffer/README.md: NORMAL in WAL mode never corrupts the file;
    // a commit is durable once the WAL is fsynced, which the buffer does every
    // syncIntervalMs (and every checkpoint does), so a power cut loses at most
    // that interval, and a crash of the process alone loses nothing.
    db.pragma('synchronous = NORMAL');
    db.pragma('cache_size = -8000');
    db.pragma('temp_store = MEMORY');
    db.pragma('journal_size_limit = 67108864');
    db.exec(SCHEMA);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return db;
  } catch (err) {
    try {
      db.close();
    } catch {
      /* already unusable */
    }
    throw err;
  }
}

/** SQLite's verdicts on the content of a file (not on permissions or I/O). */
export function isCorruption(err: unknown): boolean {
  if (err instanceof UnusableDatabase) return true;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

export function moveAside(path: string, reason: string, nowMs = Date.now()): Recovery {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  const movedTo = `${path}.corrupt-${stamp}`;
  renameSync(path, movedTo);
  // The WAL belongs to the moved file: keep it beside it for a post-mortem;
  // the shared-memory index is rebuilt from the WAL and can go.
  if (existsSync(`${path}-wal`)) renameSync(`${path}-wal`, `${movedTo}-wal`);
  rmSync(`${path}-shm`, { force: true });
  return { movedTo, reason, atMs: nowMs };
}
