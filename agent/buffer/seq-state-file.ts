import { readFileSync } from 'node:fs';
import { atomicWriteFileSync } from '../../config/atomic-write.js';

/**
 * A tiny file beside the database that keeps the sequence numbers from ever
 * going backwards when the database itself is lost (moved aside as corrupt,
 * deleted) or rolled back by a power cut (synchronous=NORMAL loses the last
 * unsynced second, and with it the seq counters of that second, while the
 * messages of that second may already have reached the broker).
 *
 * It holds, per device, a *ceiling*: a seq at or above every seq ever handed
 * out. Seqs are reserved in blocks: before a seq above the ceiling is handed
 * out, the ceiling is raised by a block and the file written durably (temp +
 * fsync + rename), so it is written once per block, not per message.
 *
 * When the database may be behind the seqs handed out, the next open starts
 * each device above its ceiling (a gap the subscriber sees; never a reuse):
 * - the database was moved aside or is new while the file knows the device;
 * - the last run did not close cleanly and the machine has rebooted since
 *   (the boot id changed): a power cut may have dropped unsynced commits;
 * - the last run ended with seqs not yet in the database (disk full).
 * A crash of the agent alone (SIGKILL, same boot) loses nothing from the
 * operating system's page cache, so seqs then continue from the database
 * without a gap.
 */
export interface SeqState {
  v: 1;
  /** Boot id of the machine when the agent that wrote this ran. */
  bootId?: string;
  /** Written by close() after everything reached the database. */
  clean: boolean;
  /** Seqs were handed out that the database does not hold (disk full at the time). */
  seqAhead: boolean;
  ceilings: Record<string, number>;
  /**
   * Per device, the first seq of its current epoch and when it began (a
   * device with no seq history starts above the time floor, seq-floor.ts):
   * for technicians and for accounting "every seq since the first".
   */
  epochs?: Record<string, { firstSeq: number; atMs: number }>;
}

export const SEQ_RESERVE_BLOCK = 10_000;

export class SeqStateFile {
  constructor(readonly path: string) {}

  /** The state, or undefined when the file is missing or unreadable (then no floor is known). */
  read(): SeqState | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const s = JSON.parse(text) as Partial<SeqState>;
      if (s.v !== 1 || typeof s.ceilings !== 'object' || s.ceilings === null) return undefined;
      const ceilings: Record<string, number> = {};
      for (const [k, v] of Object.entries(s.ceilings)) if (Number.isSafeInteger(v) && v >= 0) ceilings[k] = v;
      const epochs: Record<string, { firstSeq: number; atMs: number }> = {};
      for (const [k, e] of Object.entries(s.epochs ?? {})) {
        if (e && Number.isSafeInteger(e.firstSeq) && Number.isSafeInteger(e.atMs)) epochs[k] = { firstSeq: e.firstSeq, atMs: e.atMs };
      }
      return { v: 1, bootId: typeof s.bootId === 'string' ? s.bootId : undefined, clean: s.clean === true, seqAhead: s.seqAhead === true, ceilings, epochs };
    } catch {
      return undefined;
    }
  }

  write(state: SeqState): void {
    atomicWriteFileSync(this.path, JSON.stringify(state) + '\n', 0o600);
  }
}

/** This boot of the machine (Linux); undefined elsewhere, which counts as "maybe rebooted". */
export function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
