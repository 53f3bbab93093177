import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface AuditEntry {
  user: string;
  role: string;
  action: string;
  device?: string;
  [k: string]: unknown;
}

/**
 * Who looked at what: one JSON line per view or action (log in, snapshot,
 * live view start and stop, clip, alarm acknowledged, export), each carrying
 * the SHA-256 of the line before it, so a removed or edited line shows.
 */
export class ConsoleAudit {
  private prev: string;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    this.prev = lines.length ? sha(lines[lines.length - 1]!) : '0'.repeat(64);
  }

  record(e: AuditEntry): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...e, prev: this.prev });
    appendFileSync(this.file, line + '\n');
    this.prev = sha(line);
  }

  /** Entries in order; throws where the chain breaks. */
  static verify(file: string): Array<Record<string, unknown>> {
    let prev = '0'.repeat(64);
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line, i) => {
      const e = JSON.parse(line) as Record<string, unknown>;
      if (e.prev !== prev) throw new Error(`audit line ${i + 1} does not follow the line before it`);
      prev = sha(line);
      return e;
    });
  }
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
