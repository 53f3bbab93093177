import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { BwcError } from '../../common/errors.js';

/**
 * Append-only, hash-chained audit log of every command, accepted or not: one
 * JSON object per line, each holding the hash of the one before, so that an
 * edited, inserted or removed entry breaks the chain. The count and hash of
 * the last entry are also kept in `<file>.head`, which makes cutting entries
 * off the end detectable too.
 */
export interface AuditEntry {
  time: string;
  device: string;
  commandId?: string;
  issuer?: string;
  kind?: string;
  outcome: string;
  reason?: string;
  detail?: string;
  /** How many refusals one summary entry stands for (floods are audited in aggregate). */
  count?: number;
}

export interface ChainedEntry extends AuditEntry {
  index: number;
  prev: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

export function entryHash(prev: string, index: number, entry: AuditEntry): string {
  // Hash a fixed field order so the same entry always hashes the same.
  // The count comes last and only when present, so entries written before it existed keep their hashes.
  const fields: unknown[] = [index, prev, entry.time, entry.device, entry.commandId ?? null, entry.issuer ?? null, entry.kind ?? null, entry.outcome, entry.reason ?? null, entry.detail ?? null];
  if (entry.count !== undefined) fields.push(entry.count);
  const canonical = JSON.stringify(fields);
  return createHash('sha256').update(canonical).digest('hex');
}

/** A chain found broken when the log was opened: what was wrong and where the evidence went. */
export interface BrokenChain {
  atMs: number;
  movedTo: string;
  entries: number;
  /** Hash of its first entry as stored: names the chain in the anchors the platform holds. */
  firstHash: string;
  problems: string[];
}

export class AuditLog {
  private fd: number;
  private count: number;
  private last: string;
  private first: string;
  private unsynced = 0;
  /** Set when the log found at start did not verify (it was set aside; the agent reports it). */
  readonly brokenAtStart: BrokenChain | undefined;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    const verdict = existsSync(file) ? verifyAuditLog(file) : { ok: true, entries: 0, lastHash: GENESIS, firstHash: '', problems: [] };
    if (!verdict.ok) {
      // Never append to a broken chain: set it aside, keep it as evidence, start a new one.
      // The caller logs brokenAtStart as an error and reports it in its health and anchors.
      const atMs = Date.now();
      const movedTo = `${file}.broken-${atMs}`;
      renameSync(file, movedTo);
      // Its head goes with it: left behind, it would make the new chain look cut.
      if (existsSync(`${file}.head`)) renameSync(`${file}.head`, `${movedTo}.head`);
      this.brokenAtStart = { atMs, movedTo, entries: verdict.entries, firstHash: verdict.firstHash, problems: verdict.problems.slice(0, 20) };
      this.count = 0;
      this.last = GENESIS;
      this.first = '';
    } else {
      this.count = verdict.entries;
      this.last = verdict.lastHash;
      this.first = verdict.firstHash;
    }
    this.fd = openSync(file, 'a');
  }

  /**
   * Appends one entry. With `sync: false` the entry is written but not yet
   * forced to disk: a caller auditing a batch writes every entry, then calls
   * flush() once (one fsync and one head write per batch, not per entry)
   * before acting on any of them.
   */
  append(entry: AuditEntry, opts: { sync?: boolean } = {}): ChainedEntry {
    const index = this.count;
    const hash = entryHash(this.last, index, entry);
    const chained: ChainedEntry = { index, prev: this.last, hash, ...entry };
    writeSync(this.fd, JSON.stringify(chained) + '\n');
    if (index === 0) this.first = hash;
    this.count++;
    this.last = hash;
    this.unsynced++;
    if (opts.sync !== false) this.flush();
    return chained;
  }

  /** Forces appended entries to disk and records the new head. */
  flush(): void {
    if (this.unsynced === 0) return;
    fsyncSync(this.fd);
    writeHead(this.file, this.count, this.last);
    this.unsynced = 0;
  }

  get head(): { entries: number; hash: string; firstHash: string } {
    return { entries: this.count, hash: this.last, firstHash: this.first };
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

function writeHead(file: string, entries: number, hash: string): void {
  const tmp = `${file}.head.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify({ entries, hash }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, `${file}.head`);
}

export interface AuditVerdict {
  ok: boolean;
  entries: number;
  lastHash: string;
  /** Hash of the first entry ('' when empty): names the chain. */
  firstHash: string;
  problems: string[];
}

export function readAuditEntries(file: string): ChainedEntry[] {
  if (!existsSync(file)) throw new BwcError('NO_AUDIT_LOG', `no audit log at ${file}`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as ChainedEntry;
      } catch {
        return { index: -1, prev: '', hash: '', time: '', device: '', outcome: `unparsable line ${i + 1}` };
      }
    });
}

export function verifyAuditLog(file: string): AuditVerdict {
  const entries = readAuditEntries(file);
  const problems: string[] = [];
  let prev = GENESIS;
  entries.forEach((e, i) => {
    if (e.index !== i) problems.push(`line ${i + 1}: entry index ${e.index}, expected ${i} (an entry was removed or inserted)`);
    if (e.prev !== prev) problems.push(`line ${i + 1}: does not chain to the entry before it`);
    const { index: _i, prev: _p, hash, ...rest } = e;
    if (entryHash(e.prev, e.index, rest) !== hash) problems.push(`line ${i + 1}: content does not match its hash (edited)`);
    prev = hash;
  });
  const headFile = `${file}.head`;
  if (existsSync(headFile)) {
    try {
      const head = JSON.parse(readFileSync(headFile, 'utf8')) as { entries: number; hash: string };
      if (head.entries !== entries.length || head.hash !== prev) {
        problems.push(`the log holds ${entries.length} entries but its head records ${head.entries} (entries cut off the end, or the head was edited)`);
      }
    } catch {
      problems.push('the head file is unreadable');
    }
  } else if (entries.length > 0) {
    problems.push('the head file is missing');
  }
  return { ok: problems.length === 0, entries: entries.length, lastHash: prev, firstHash: entries[0]?.hash ?? '', problems };
}
