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
}

export interface ChainedEntry extends AuditEntry {
  index: number;
  prev: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

export function entryHash(prev: string, index: number, entry: AuditEntry): string {
  // Hash a fixed field order so the same entry always hashes the same.
  const canonical = JSON.stringify([index, prev, entry.time, entry.device, entry.commandId ?? null, entry.issuer ?? null, entry.kind ?? null, entry.outcome, entry.reason ?? null, entry.detail ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

export class AuditLog {
  private fd: number;
  private count: number;
  private last: string;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    const verdict = existsSync(file) ? verifyAuditLog(file) : { ok: true, entries: 0, lastHash: GENESIS, problems: [] };
    if (!verdict.ok) {
      // Never append to a broken chain: set it aside, keep it as evidence, start a new one.
      renameSync(file, `${file}.broken-${Date.now()}`);
      this.count = 0;
      this.last = GENESIS;
    } else {
      this.count = verdict.entries;
      this.last = verdict.lastHash;
    }
    this.fd = openSync(file, 'a');
  }

  append(entry: AuditEntry): ChainedEntry {
    const index = this.count;
    const hash = entryHash(this.last, index, entry);
    const chained: ChainedEntry = { index, prev: this.last, hash, ...entry };
    writeSync(this.fd, JSON.stringify(chained) + '\n');
    fsyncSync(this.fd);
    this.count++;
    this.last = hash;
    writeHead(this.file, this.count, hash);
    return chained;
  }

  get head(): { entries: number; hash: string } {
    return { entries: this.count, hash: this.last };
  }

  close(): void {
    closeSync(this.fd);
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
  return { ok: problems.length === 0, entries: entries.length, lastHash: prev, problems };
}
