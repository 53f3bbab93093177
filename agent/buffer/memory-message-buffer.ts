import { BwcError } from '../../common/errors.js';
import { timeSeqFloor } from './seq-floor.js';
import { DropTally } from './drop-tally.js';
import {
  AGING_KINDS,
  EVICTION_ORDER,
  emptyByKind,
  type BufferLimits,
  type BufferStats,
  type DropNotice,
  type MessageBuffer,
  type MessageKind,
  type NewMessage,
  type OldestQuery,
  type StoredMessage,
} from './message-buffer.js';

/** How often fixes and status are checked against maxAge (both implementations). */
export const AGE_SWEEP_INTERVAL_MS = 60_000;

export interface MemoryBufferOptions extends Partial<BufferLimits> {
  now?: () => number;
  /** As SqliteBufferOptions.seqFloor: where a device's seqs start (timeSeqFloor by default). */
  seqFloor?: () => number;
}

/**
 * The buffer in memory, with the semantics of SqliteMessageBuffer (bounds,
 * eviction order, seq rules), for tests of the code above the buffer. Lost
 * with the process: never the agent's buffer.
 */
export class MemoryMessageBuffer implements MessageBuffer {
  private rows: StoredMessage[] = [];
  private readonly lastSeq = new Map<string, number>();
  private nextId = 1;
  private bytes = 0;
  private readonly byKind = emptyByKind();
  private readonly drops = new DropTally();
  private readonly limits: BufferLimits;
  private readonly now: () => number;
  private readonly seqFloor: () => number;
  private lastSweepMs = -Infinity;
  private closed = false;

  constructor(opts: MemoryBufferOptions = {}) {
    this.limits = { maxRows: opts.maxRows ?? Infinity, maxBytes: opts.maxBytes ?? Infinity, maxAgeMs: opts.maxAgeMs ?? Infinity };
    this.now = opts.now ?? Date.now;
    this.seqFloor = opts.seqFloor ?? (() => timeSeqFloor(Date.now()));
  }

  append(msgs: NewMessage[]): StoredMessage[] {
    this.checkOpen();
    const stored = msgs.map((m) => {
      const seq = (this.lastSeq.get(m.deviceId) ?? this.seqFloor()) + 1;
      this.lastSeq.set(m.deviceId, seq);
      const s: StoredMessage = { deviceId: m.deviceId, kind: m.kind, timeMs: m.timeMs, payload: m.payload, id: this.nextId++, seq };
      this.rows.push(s);
      this.bytes += m.payload.byteLength;
      this.byKind[m.kind]++;
      return s;
    });
    this.sweepAge();
    this.enforceBounds();
    this.drops.flush();
    return stored;
  }

  oldest(opts: OldestQuery): StoredMessage[] {
    this.checkOpen();
    const out: StoredMessage[] = [];
    for (const r of this.rows) {
      if (out.length >= opts.limit) break;
      if (opts.afterId !== undefined && r.id <= opts.afterId) continue;
      if (opts.kinds && !opts.kinds.includes(r.kind)) continue;
      if (opts.deviceId !== undefined && r.deviceId !== opts.deviceId) continue;
      out.push(r);
    }
    return out;
  }

  newest(opts: { deviceId: string; kind: MessageKind }): StoredMessage | undefined {
    this.checkOpen();
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows[i]!;
      if (r.deviceId === opts.deviceId && r.kind === opts.kind) return r;
    }
    return undefined;
  }

  ack(ids: number[]): void {
    this.checkOpen();
    const gone = new Set(ids);
    this.rows = this.rows.filter((r) => {
      if (!gone.has(r.id)) return true;
      this.forget(r);
      return false;
    });
  }

  stats(): BufferStats {
    return { rows: this.rows.length, bytes: this.bytes, oldestMs: this.rows[0]?.timeMs, byKind: { ...this.byKind }, drops: { ...this.drops.totals } };
  }

  onDrop(cb: (d: DropNotice) => void): void {
    this.drops.onDrop(cb);
  }

  close(): void {
    this.closed = true;
  }

  private forget(r: StoredMessage): void {
    this.bytes -= r.payload.byteLength;
    this.byKind[r.kind]--;
  }

  /** Fixes and status older than maxAge, oldest first, up to the first that is not. */
  private sweepAge(): void {
    const now = this.now();
    if (!Number.isFinite(this.limits.maxAgeMs) || now - this.lastSweepMs < AGE_SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = now;
    const cutoff = now - this.limits.maxAgeMs;
    const keep: StoredMessage[] = [];
    let sweeping = true;
    for (const r of this.rows) {
      if (sweeping && AGING_KINDS.includes(r.kind)) {
        if (r.timeMs < cutoff) {
          this.forget(r);
          this.drops.add('max_age', r.kind, r.deviceId);
          continue;
        }
        sweeping = false;
      }
      keep.push(r);
    }
    this.rows = keep;
  }

  /** Over maxRows or maxBytes: drop in EVICTION_ORDER, oldest first, until under both. */
  private enforceBounds(): void {
    let count = this.rows.length;
    const over = (): 'max_rows' | 'max_bytes' | undefined =>
      count > this.limits.maxRows ? 'max_rows' : this.bytes > this.limits.maxBytes ? 'max_bytes' : undefined;
    if (!over()) return;
    const dropped = new Set<StoredMessage>();
    for (const kinds of EVICTION_ORDER) {
      for (const r of this.rows) {
        const why = over();
        if (!why) break;
        if (!kinds.includes(r.kind) || dropped.has(r)) continue;
        dropped.add(r);
        this.forget(r);
        count--;
        this.drops.add(why, r.kind, r.deviceId);
      }
    }
    this.rows = this.rows.filter((r) => !dropped.has(r));
  }

  private checkOpen(): void {
    if (this.closed) throw new BwcError('BUFFER_CLOSED', 'the message buffer is closed');
  }
}
