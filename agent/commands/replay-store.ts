import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Command ids already seen, kept in SQLite until their command expires, so
 * that a command captured on the wire and sent again is refused even after
 * the agent restarts. Past its expiry a command is refused as expired anyway,
 * so its id can be forgotten.
 */
export class ReplayStore {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly prune: Database.Statement;
  private lastPrune = 0;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // A command id must be on disk before the command runs.
    this.db.pragma('synchronous = FULL');
    this.db.exec('CREATE TABLE IF NOT EXISTS seen_commands (id TEXT PRIMARY KEY, issuer TEXT NOT NULL, expires_ms INTEGER NOT NULL)');
    this.insert = this.db.prepare('INSERT OR IGNORE INTO seen_commands (id, issuer, expires_ms) VALUES (?, ?, ?)');
    this.prune = this.db.prepare('DELETE FROM seen_commands WHERE expires_ms < ?');
  }

  /** Records the id; false when it was seen before (a replay). */
  remember(id: string, issuer: string, expiresMs: number, nowMs: number): boolean {
    if (nowMs - this.lastPrune > 60_000) {
      this.prune.run(nowMs);
      this.lastPrune = nowMs;
    }
    return this.insert.run(id, issuer, expiresMs).changes === 1;
  }

  /**
   * Runs fn in one transaction: every id recorded inside reaches the disk in
   * one commit (one fsync) when fn returns, still before any command of the
   * batch runs. A flood of signed commands then costs one sync per batch.
   */
  batch<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    this.db.close();
  }
}
