import { close as fsClose, fsync as fsFsync, open as fsOpen } from 'node:fs';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import { BwcError, describeError } from '../../common/errors.js';
import { openBufferDatabase, isCorruption, moveAside, type Recovery } from './buffer-database.js';
import { DropTally } from './drop-tally.js';
import { AGE_SWEEP_INTERVAL_MS } from './memory-message-buffer.js';
import {
  AGING_KINDS,
  EVICTION_ORDER,
  MESSAGE_KINDS,
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
import { timeSeqFloor } from './seq-floor.js';
import { currentBootId, SEQ_RESERVE_BLOCK, SeqStateFile, type SeqState } from './seq-state-file.js';

const fsyncAsync = promisify(fsFsync);
const openAsync = promisify(fsOpen);
const closeAsync = promisify(fsClose);

/** Events, replies and status held in memory while the disk is full, at most. */
export const OVERFLOW_MAX = 10_000;

/** Fixes per device held in memory while the disk is full, unless configured: 10 minutes at 1 Hz, with room for immediate reports. */
export const MEMORY_FIXES_PER_DEVICE = 660;

export interface BufferLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface SqliteBufferOptions extends Partial<BufferLimits> {
  /** The database file; its WAL is `<path>-wal`, the seq state `<path>-seq.json`. */
  path: string;
  /** How often the WAL is fsynced: the most a power cut can lose (0: only at checkpoints and close). */
  syncIntervalMs?: number;
  log?: BufferLog;
  /** Clock for maxAge (tests). */
  now?: () => number;
  /** This boot's id (tests simulate a reboot); read from /proc otherwise. */
  bootId?: string;
  /**
   * Cap on the database file, in pages of 4 KiB (SQLite's max_page_count):
   * past it appends behave as on a full disk. Unset: no cap but the disk.
   */
  pageLimit?: number;
  /**
   * Where the seqs of a device the buffer knows nothing of start (its first
   * seq is this + 1): `timeSeqFloor` of the clock by default (seq-floor.ts).
   */
  seqFloor?: () => number;
  /**
   * Fixes per device held in memory (a ring: the oldest goes first, counted
   * as `memory_full`) while the disk is full; written out when space returns,
   * and published from memory meanwhile. Default MEMORY_FIXES_PER_DEVICE.
   */
  memoryFixesPerDevice?: number;
}

const KIND_CODE: Record<MessageKind, number> = { fix: 0, event: 1, status: 2, reply: 3 };
const KIND_OF = ['fix', 'event', 'status', 'reply'] as const satisfies readonly MessageKind[];

interface Row {
  id: number;
  device: number;
  kind: number;
  seq: number;
  time_ms: number;
  payload: Buffer;
}

/** Counter changes of one transaction, applied only when it commits. */
interface Delta {
  rows: number;
  bytes: number;
  byKind: Record<MessageKind, number>;
}

const noDelta = (): Delta => ({ rows: 0, bytes: 0, byKind: emptyByKind() });

/**
 * The agent's buffer: SQLite (better-sqlite3) in WAL mode with
 * synchronous=NORMAL and an fsync of the WAL every syncIntervalMs; see
 * agent/buffer/README.md for why, and for the figures.
 */
export class SqliteMessageBuffer implements MessageBuffer {
  /** Set when an unreadable database was moved aside (at open or later): its unsent messages are lost. */
  recovered: Recovery | undefined;
  private db!: Database.Database;
  private st!: ReturnType<SqliteMessageBuffer['prepare']>;
  private readonly limits: BufferLimits;
  private readonly now: () => number;
  private readonly log: BufferLog | undefined;
  private readonly drops = new DropTally();
  private readonly stateFile: SeqStateFile;
  private state: SeqState;
  /** device id → row number in `devices`, and back. */
  private deviceNum = new Map<string, number>();
  private deviceName: string[] = [];
  /** device id → last seq handed out. */
  private readonly lastSeq = new Map<string, number>();
  /** Devices whose lastSeq the database does not hold yet. */
  private readonly seqDirty = new Set<string>();
  private nextId = 1;
  private lastCommittedId = 0;
  private syncedId = 0;
  private counts: Delta = noDelta();
  /** Messages kept in memory while the disk is full (in id order): fixes in a ring per device, the rest up to OVERFLOW_MAX. */
  private overflow: StoredMessage[] = [];
  /** Fixes per device in `overflow`, and the non-fix messages there. */
  private heldFixes = new Map<string, number>();
  private heldOthers = 0;
  private readonly ringSize: number;
  /** Acked while the disk was too full to delete: hidden, deleted later. */
  private readonly ackLater = new Set<number>();
  private lastSweepMs = -Infinity;
  /** Per (device number, kind code): rows held and the newest id seen (may be gone: then looked up). */
  private groups = new Map<number, { count: number; newest: number }>();
  /** Group changes of the running transaction, applied when it commits. */
  private txGroups = new Map<number, { count: number; newest: number }>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<number> | undefined;
  private closed = false;

  /** Opens (creating, or recovering from an unreadable file); never throws for the file's content. */
  static open(opts: SqliteBufferOptions): SqliteMessageBuffer {
    return new SqliteMessageBuffer(opts);
  }

  constructor(readonly opts: SqliteBufferOptions) {
    this.limits = { maxRows: opts.maxRows ?? Infinity, maxBytes: opts.maxBytes ?? Infinity, maxAgeMs: opts.maxAgeMs ?? Infinity };
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.ringSize = opts.memoryFixesPerDevice ?? MEMORY_FIXES_PER_DEVICE;
    if (!Number.isInteger(this.ringSize) || this.ringSize < 0) throw new BwcError('BAD_BUFFER_OPTIONS', `memoryFixesPerDevice must be a whole number >= 0, got ${this.ringSize}`);
    this.stateFile = new SeqStateFile(`${opts.path}-seq.json`);
    const previous = this.stateFile.read();
    const { db, recovered } = openBufferDatabase(opts.path, (r) => this.logRecovery(r));
    this.recovered = recovered;
    this.attach(db);
    const bootId = opts.bootId ?? currentBootId();
    const behind = recovered !== undefined || (previous !== undefined && !previous.clean && (previous.seqAhead || !bootId || previous.bootId !== bootId));
    this.restoreSeqs(previous, behind);
    this.state = { v: 1, bootId, clean: false, seqAhead: false, ceilings: { ...(previous?.ceilings ?? {}) }, epochs: { ...(previous?.epochs ?? {}) } };
    this.writeState();
    const interval = opts.syncIntervalMs ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => void this.tick(), interval);
      this.timer.unref();
    }
  }

  // ---------------------------------------------------------------- writes

  append(msgs: NewMessage[]): StoredMessage[] {
    this.checkOpen();
    const stored = this.assign(msgs);
    this.store(stored);
    this.drops.flush();
    return stored;
  }

  ack(ids: number[]): void {
    this.checkOpen();
    if (ids.length === 0 && this.ackLater.size === 0) return;
    if (this.overflow.length > 0) {
      const gone = new Set(ids);
      this.setOverflow(this.overflow.filter((m) => !gone.has(m.id)));
    }
    try {
      this.transact(() => this.deleteIds([...ids, ...this.ackLater]));
      this.ackLater.clear();
    } catch (err) {
      if (!isFull(err)) throw this.ioError('delete acknowledged messages', err);
      for (const id of ids) this.ackLater.add(id);
    }
  }

  /**
   * Forces the WAL to disk; resolves with the id of the newest message that
   * is now durable (every message at or below it survives a power cut).
   */
  sync(): Promise<number> {
    if (this.syncing) return this.syncing.then(() => this.sync());
    const upTo = this.lastCommittedId;
    const run = async (): Promise<number> => {
      let fd: number | undefined;
      try {
        // fsync on any descriptor of the file flushes the file's dirty pages;
        // SQLite holds no POSIX locks on the WAL file, so opening and closing
        // our own descriptor cannot drop one of its locks.
        fd = await openAsync(`${this.opts.path}-wal`, 'r');
        await fsyncAsync(fd);
      } catch (err) {
        // No WAL (just checkpointed and truncated, or closed): nothing unsynced.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      } finally {
        if (fd !== undefined) await closeAsync(fd);
      }
      this.syncedId = Math.max(this.syncedId, upTo);
      return this.syncedId;
    };
    this.syncing = run().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  /** Changes the cap on the file's pages (see `pageLimit`); SQLite keeps it at least at the current size. */
  setPageLimit(pages: number): number {
    this.checkOpen();
    return this.db.pragma(`max_page_count = ${Math.floor(pages)}`, { simple: true }) as number;
  }

  /** Newest id known durable (by the last sync() or checkpoint). */
  get durableId(): number {
    return this.syncedId;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    try {
      if (this.overflow.length > 0 || this.seqDirty.size > 0) this.store([]);
    } catch {
      /* reported below */
    }
    if (this.overflow.length > 0) {
      this.log?.error({ messages: this.overflow.length, fixes: this.overflow.length - this.heldOthers }, 'buffer closed with messages held in memory (disk full): they are lost');
    }
    this.drops.flush();
    // Closing the last connection checkpoints (fsyncing WAL and database) and removes the WAL.
    this.db.close();
    this.state.clean = this.overflow.length === 0 && this.seqDirty.size === 0;
    this.state.seqAhead = !this.state.clean;
    this.writeState();
  }

  // ---------------------------------------------------------------- reads

  oldest(opts: OldestQuery): StoredMessage[] {
    this.checkOpen();
    if (opts.limit <= 0) return [];
    const kinds = opts.kinds && opts.kinds.length < MESSAGE_KINDS.length ? opts.kinds : undefined;
    const params: (number | string)[] = [opts.afterId ?? 0];
    let sql = 'SELECT id, device, kind, seq, time_ms, payload FROM messages WHERE id > ?';
    if (opts.deviceId !== undefined) {
      const num = this.deviceNum.get(opts.deviceId);
      if (num === undefined) return this.fromOverflow(opts);
      sql += ' AND device = ?';
      params.push(num);
    }
    if (kinds) {
      if (kinds.length === 0) return [];
      sql += ` AND kind IN (${kinds.map((k) => KIND_CODE[k]).join(',')})`;
    }
    sql += ' ORDER BY id LIMIT ?';
    params.push(opts.limit + this.ackLater.size);
    const rows = (this.cached(sql).all(...params) as Row[]).filter((r) => !this.ackLater.has(r.id)).map((r) => this.toStored(r));
    if (this.overflow.length === 0) return rows.slice(0, opts.limit);
    return [...rows, ...this.fromOverflow(opts)].sort((a, b) => a.id - b.id).slice(0, opts.limit);
  }

  newest(opts: { deviceId: string; kind: MessageKind }): StoredMessage | undefined {
    this.checkOpen();
    let best: StoredMessage | undefined;
    for (const m of this.overflow) if (m.deviceId === opts.deviceId && m.kind === opts.kind) best = m;
    const num = this.deviceNum.get(opts.deviceId);
    if (num !== undefined) {
      const r = this.newestRow(num, KIND_CODE[opts.kind]);
      if (r && (!best || r.id > best.id)) best = this.toStored(r);
    }
    return best;
  }

  stats(): BufferStats {
    const c = this.counts;
    const byKind = { ...c.byKind };
    let bytes = c.bytes;
    for (const m of this.overflow) {
      byKind[m.kind]++;
      bytes += m.payload.byteLength;
    }
    let oldestMs: number | undefined;
    if (!this.closed) {
      const first = this.st.first.get() as { time_ms: number; id: number } | undefined;
      const o = this.overflow[0];
      oldestMs = o && (!first || o.id < first.id) ? o.timeMs : first?.time_ms;
    }
    return { rows: c.rows + this.overflow.length, bytes, oldestMs, byKind, drops: { ...this.drops.totals } };
  }

  onDrop(cb: (d: DropNotice) => void): void {
    this.drops.onDrop(cb);
  }

  // ---------------------------------------------------------------- internals

  private attach(db: Database.Database): void {
    this.db = db;
    if (this.opts.pageLimit !== undefined) db.pragma(`max_page_count = ${this.opts.pageLimit}`);
    this.st = this.prepare(db);
    this.txRunner = db.transaction((fn: () => Delta | number | void) => fn());
    this.stmtCache.clear();
    this.deviceNum = new Map();
    this.deviceName = [];
    for (const d of db.prepare('SELECT num, id FROM devices').all() as { num: number; id: string }[]) {
      this.deviceNum.set(d.id, d.num);
      this.deviceName[d.num] = d.id;
    }
    const maxId = (db.prepare('SELECT max(id) AS m FROM messages').get() as { m: number | null }).m ?? 0;
    this.nextId = Math.max(this.nextId, maxId + 1, (this.overflow.at(-1)?.id ?? 0) + 1);
    this.lastCommittedId = Math.max(this.lastCommittedId, maxId);
    const c = noDelta();
    for (const r of db.prepare('SELECT kind, count(*) AS n, coalesce(sum(length(payload)), 0) AS b FROM messages GROUP BY kind').all() as { kind: number; n: number; b: number }[]) {
      c.rows += r.n;
      c.bytes += r.b;
      c.byKind[KIND_OF[r.kind] ?? 'fix'] += r.n;
    }
    this.counts = c;
    this.groups = new Map();
    for (const g of db.prepare('SELECT device, kind, count(*) AS n, max(id) AS newest FROM messages GROUP BY device, kind').all() as { device: number; kind: number; n: number; newest: number }[]) {
      this.groups.set(groupKey(g.device, g.kind), { count: g.n, newest: g.newest });
    }
  }

  /** Newest row of a (device, kind), from the remembered id, else by a backward scan of the primary key. */
  private newestRow(num: number, kind: number): Row | undefined {
    const g = this.groups.get(groupKey(num, kind));
    if (!g || g.count <= 0) return undefined;
    let r = this.st.byId.get(g.newest) as Row | undefined;
    if (!r || r.device !== num || r.kind !== kind) {
      r = this.st.newestBefore.get(num, kind, g.newest) as Row | undefined;
      if (r) g.newest = r.id;
    }
    while (r && this.ackLater.has(r.id)) r = this.st.newestBefore.get(num, kind, r.id) as Row | undefined;
    return r;
  }

  private groupChange(num: number, kind: number, count: number, id: number): void {
    const key = groupKey(num, kind);
    const g = this.txGroups.get(key);
    if (g) {
      g.count += count;
      g.newest = Math.max(g.newest, id);
    } else this.txGroups.set(key, { count, newest: id });
  }

  private prepare(db: Database.Database) {
    return {
      insert: db.prepare('INSERT INTO messages (id, device, kind, seq, time_ms, payload) VALUES (?, ?, ?, ?, ?, ?)'),
      addDevice: db.prepare('INSERT INTO devices (id, last_seq) VALUES (?, ?)'),
      setSeq: db.prepare('UPDATE devices SET last_seq = max(last_seq, ?) WHERE num = ?'),
      deleteId: db.prepare('DELETE FROM messages WHERE id = ? RETURNING device, kind, length(payload) AS n'),
      byId: db.prepare('SELECT id, device, kind, seq, time_ms, payload FROM messages WHERE id = ?'),
      newestBefore: db.prepare('SELECT id, device, kind, seq, time_ms, payload FROM messages WHERE device = ? AND kind = ? AND id < ? ORDER BY id DESC LIMIT 1'),
      first: db.prepare('SELECT id, time_ms FROM messages ORDER BY id LIMIT 1'),
    };
  }

  private oldestOfKinds(kinds: readonly MessageKind[]): Database.Statement {
    return this.cached(`SELECT id, device, kind, length(payload) AS n, time_ms FROM messages WHERE kind IN (${kinds.map((k) => KIND_CODE[k]).join(',')}) ORDER BY id LIMIT ?`);
  }

  private readonly stmtCache = new Map<string, Database.Statement>();
  private cached(sql: string): Database.Statement {
    let s = this.stmtCache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmtCache.set(sql, s);
    }
    return s;
  }

  /** A device with no seq history here: its seqs start a new epoch above the time floor. */
  private newEpochStart(deviceId: string): number {
    const floor = this.opts.seqFloor ? this.opts.seqFloor() : timeSeqFloor(Date.now());
    // Written with the ceiling the first seq reserves (assign writes the state).
    (this.state.epochs ??= {})[deviceId] = { firstSeq: floor + 1, atMs: Date.now() };
    this.log?.info?.({ device: deviceId, seqFrom: floor + 1 }, 'buffer: no seq history for this device: a new seq epoch starts above the time floor');
    return floor;
  }

  /** Ids and seqs, handed out before the write: a seq is never handed out twice, even if the write fails. */
  private assign(msgs: NewMessage[]): StoredMessage[] {
    let reserve = false;
    const out = msgs.map((m) => {
      if (!Object.hasOwn(KIND_CODE, m.kind)) throw new BwcError('BAD_MESSAGE', `unknown message kind ${JSON.stringify(m.kind)} (one of ${MESSAGE_KINDS.join(', ')})`);
      if (typeof m.deviceId !== 'string' || m.deviceId.length === 0) throw new BwcError('BAD_MESSAGE', 'a message needs a device id');
      const seq = (this.lastSeq.get(m.deviceId) ?? this.newEpochStart(m.deviceId)) + 1;
      this.lastSeq.set(m.deviceId, seq);
      this.seqDirty.add(m.deviceId);
      if (seq > (this.state.ceilings[m.deviceId] ?? 0)) {
        this.state.ceilings[m.deviceId] = seq + SEQ_RESERVE_BLOCK;
        reserve = true;
      }
      return { deviceId: m.deviceId, kind: m.kind, timeMs: m.timeMs, payload: m.payload, id: this.nextId++, seq };
    });
    if (reserve) this.writeState();
    return out;
  }

  /** Writes messages (and any held in the overflow); on a full disk frees space, then holds events in memory. */
  private store(stored: StoredMessage[]): void {
    try {
      this.writeWithRecovery(stored);
      return;
    } catch (err) {
      if (!isFull(err)) throw this.ioError('write messages', err);
    }
    // Disk full. What fits in memory waits there: no fix is lost to a disk
    // that is full for a while (up to the ring's size). Only when events
    // would be lost do the oldest fixes on disk make room for them.
    if (this.fitsInMemory(stored)) {
      this.holdInMemory(stored);
      return;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      let freed = 0;
      try {
        freed = this.transact(() => this.evict(['fix'], Math.max(256, stored.length + this.overflow.length, Math.ceil(this.counts.rows / 100)), 'disk_full'));
        this.drops.flush();
      } catch (err) {
        if (!isFull(err)) throw this.ioError('free space', err);
      }
      if (freed === 0) break;
      try {
        this.writeWithRecovery(stored);
        return;
      } catch (err) {
        if (!isFull(err)) throw this.ioError('write messages', err);
      }
    }
    this.holdInMemory(stored);
  }

  private writeWithRecovery(stored: StoredMessage[]): void {
    try {
      this.transact(() => this.write(stored));
    } catch (err) {
      if (!isCorruption(err)) throw err;
      // The file went bad under us (a disk error, another writer): start a
      // fresh one rather than fail every write from now on.
      this.replaceCorruptDatabase(describeError(err));
      this.transact(() => this.write(stored));
    }
  }

  private write(stored: StoredMessage[]): Delta {
    const d = noDelta();
    const batch = this.overflow.length > 0 ? [...this.overflow, ...stored] : stored;
    const newDevices = this.txNewDevices;
    {
      for (const m of batch) {
        let num = this.deviceNum.get(m.deviceId);
        if (num === undefined) {
          num = Number(this.st.addDevice.run(m.deviceId, 0).lastInsertRowid);
          this.deviceNum.set(m.deviceId, num);
          this.deviceName[num] = m.deviceId;
          newDevices.push(m.deviceId);
        }
        const p = m.payload;
        this.st.insert.run(m.id, num, KIND_CODE[m.kind], m.seq, m.timeMs, Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
        this.groupChange(num, KIND_CODE[m.kind], 1, m.id);
        d.rows++;
        d.bytes += p.byteLength;
        d.byKind[m.kind]++;
      }
      for (const dev of this.seqDirty) {
        const num = this.deviceNum.get(dev);
        if (num !== undefined) this.st.setSeq.run(this.lastSeq.get(dev)!, num);
      }
      this.pendingDelta = d;
      this.sweepAge();
      this.enforceBounds();
    }
    return d;
  }

  /** Set by write() so the eviction inside the same transaction sees the rows it adds. */
  private pendingDelta: Delta | undefined;

  /** Runs `fn` in one transaction; applies its counter changes and reports its drops only if it commits. */
  private transact(fn: () => Delta | number | void): number {
    let delta: Delta = noDelta();
    this.txDelta = delta;
    try {
      const r = this.txRunner(fn);
      if (r && typeof r === 'object') {
        // write(): rows added plus what its eviction removed.
        delta = mergeDelta(r, this.txDelta);
        this.setOverflow([]);
        this.seqDirty.clear();
        this.state.seqAhead = false;
        this.lastCommittedId = Math.max(this.lastCommittedId, this.nextId - 1);
      } else {
        delta = this.txDelta;
      }
      applyDelta(this.counts, delta);
      for (const [key, ch] of this.txGroups) {
        const g = this.groups.get(key);
        if (g) {
          g.count += ch.count;
          g.newest = Math.max(g.newest, ch.newest);
        } else this.groups.set(key, { count: ch.count, newest: ch.newest });
      }
      return typeof r === 'number' ? r : 0;
    } catch (err) {
      this.drops.discard();
      // Devices added by the rolled-back transaction are not in the database.
      for (const dev of this.txNewDevices) this.deviceNum.delete(dev);
      throw err;
    } finally {
      this.txNewDevices = [];
      this.txGroups = new Map();
      this.txDelta = noDelta();
      this.pendingDelta = undefined;
    }
  }

  private txNewDevices: string[] = [];
  /** One transaction wrapper, made once: db.transaction() per call costs more than a small write. */
  private txRunner!: (fn: () => Delta | number | void) => Delta | number | void;

  /** Removals made inside the current transaction (negative). */
  private txDelta: Delta = noDelta();

  private deleteIds(ids: number[]): number {
    let n = 0;
    for (const id of ids) {
      const r = this.st.deleteId.get(id) as { device: number; kind: number; n: number } | undefined;
      if (!r) continue;
      this.removed(r.device, r.kind, r.n);
      n++;
    }
    return n;
  }

  private removed(device: number, kindCode: number, bytes: number): void {
    const kind = KIND_OF[kindCode] ?? 'fix';
    this.groupChange(device, kindCode, -1, 0);
    this.txDelta.rows--;
    this.txDelta.bytes -= bytes;
    this.txDelta.byKind[kind]--;
  }

  private current(): { rows: number; bytes: number } {
    const p = this.pendingDelta ?? noDelta();
    return { rows: this.counts.rows + p.rows + this.txDelta.rows, bytes: this.counts.bytes + p.bytes + this.txDelta.bytes };
  }

  private enforceBounds(): void {
    const over = (): 'max_rows' | 'max_bytes' | undefined => {
      const c = this.current();
      return c.rows > this.limits.maxRows ? 'max_rows' : c.bytes > this.limits.maxBytes ? 'max_bytes' : undefined;
    };
    for (const kinds of EVICTION_ORDER) {
      while (over()) {
        // Evict in chunks sized by the rows over the bound (at least 64 rows a query).
        const excess = Math.max(64, this.current().rows - this.limits.maxRows);
        if (this.evict(kinds, excess, over) === 0) break;
      }
      if (!over()) return;
    }
  }

  /**
   * Deletes up to `limit` of the oldest messages of `kinds`, while `reason`
   * (a fixed reason, or a function saying which bound is still exceeded)
   * holds. Returns how many went.
   */
  private evict(kinds: readonly MessageKind[], limit: number, reason: string | (() => string | undefined)): number {
    let n = 0;
    const candidates = this.oldestOfKinds(kinds).all(limit) as { id: number; device: number; kind: number; n: number }[];
    for (const c of candidates) {
      const why = typeof reason === 'string' ? reason : reason();
      if (!why) break;
      this.st.deleteId.run(c.id);
      this.removed(c.device, c.kind, c.n);
      this.drops.add(why, KIND_OF[c.kind] ?? 'fix', this.deviceName[c.device] ?? '?');
      n++;
    }
    return n;
  }

  /** Fixes and status older than maxAge (in insertion order, up to the first that is not). */
  private sweepAge(): void {
    const now = this.now();
    if (!Number.isFinite(this.limits.maxAgeMs) || now - this.lastSweepMs < AGE_SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = now;
    const cutoff = now - this.limits.maxAgeMs;
    const select = this.oldestOfKinds(AGING_KINDS);
    for (;;) {
      const rows = select.all(512) as { id: number; device: number; kind: number; n: number; time_ms: number }[];
      let young = false;
      for (const r of rows) {
        if (r.time_ms >= cutoff) {
          young = true;
          break;
        }
        this.st.deleteId.run(r.id);
        this.removed(r.device, r.kind, r.n);
        this.drops.add('max_age', KIND_OF[r.kind] ?? 'fix', this.deviceName[r.device] ?? '?');
      }
      if (young || rows.length < 512) return;
    }
  }

  /**
   * Still full after freeing space: messages wait in memory (published from
   * there, written out when space returns). Fixes go in a ring per device:
   * when it is full the device's oldest held fix is lost (`memory_full`);
   * events, replies and status share OVERFLOW_MAX, status going first.
   */
  private holdInMemory(stored: StoredMessage[]): void {
    for (const m of stored) {
      if (m.kind === 'fix') {
        const held = this.heldFixes.get(m.deviceId) ?? 0;
        if (held >= this.ringSize) {
          const i = this.overflow.findIndex((o) => o.kind === 'fix' && o.deviceId === m.deviceId);
          if (i < 0) {
            this.drops.add('memory_full', m.kind, m.deviceId);
            continue;
          }
          this.overflow.splice(i, 1);
          this.drops.add('memory_full', m.kind, m.deviceId);
        } else this.heldFixes.set(m.deviceId, held + 1);
        this.overflow.push(m);
        continue;
      }
      if (this.heldOthers >= OVERFLOW_MAX) {
        let i = this.overflow.findIndex((o) => o.kind === 'status');
        if (i < 0) i = this.overflow.findIndex((o) => o.kind !== 'fix');
        const victim = this.overflow.splice(i, 1)[0]!;
        this.drops.add('overflow_full', victim.kind, victim.deviceId);
      } else this.heldOthers++;
      this.overflow.push(m);
    }
    if (!this.state.seqAhead) {
      // If the agent dies now, the database is behind the seqs handed out: the next start must jump.
      this.state.seqAhead = true;
      this.writeState();
    }
    if (!this.warnedFull) {
      this.warnedFull = true;
      this.log?.warn({ held: this.overflow.length, fixesPerDevice: this.ringSize }, 'buffer: disk full; messages held in memory until space returns (fixes: the newest per device)');
    }
  }

  private warnedFull = false;

  /**
   * Can memory take `stored` without losing an event, reply or status? Fixes
   * always can: their ring drops its oldest, and the fixes on disk, older
   * still, stay (freeing disk space for them would lose as many).
   */
  private fitsInMemory(stored: StoredMessage[]): boolean {
    let others = this.heldOthers;
    for (const m of stored) if (m.kind !== 'fix') others++;
    return others <= OVERFLOW_MAX;
  }

  /** Replaces the held messages and recounts them. */
  private setOverflow(list: StoredMessage[]): void {
    if (list.length === 0 && this.overflow.length > 0 && this.warnedFull) {
      this.warnedFull = false;
      this.log?.warn({ written: this.overflow.length }, 'buffer: space is back; messages held in memory written out');
    }
    this.overflow = list;
    this.heldFixes = new Map();
    this.heldOthers = 0;
    for (const m of list) {
      if (m.kind === 'fix') this.heldFixes.set(m.deviceId, (this.heldFixes.get(m.deviceId) ?? 0) + 1);
      else this.heldOthers++;
    }
  }

  private replaceCorruptDatabase(reason: string): void {
    try {
      this.db.close();
    } catch {
      /* unusable anyway */
    }
    const r = moveAside(this.opts.path, reason);
    this.logRecovery(r);
    const { db } = openBufferDatabase(this.opts.path, (again) => this.logRecovery(again));
    this.recovered = r;
    this.attach(db);
    // Every seq handed out stays handed out: lastSeq is kept; the fresh database learns it on the next write.
    for (const dev of this.lastSeq.keys()) this.seqDirty.add(dev);
  }

  private restoreSeqs(previous: SeqState | undefined, behind: boolean): void {
    const fromDb = new Map<string, number>();
    for (const d of this.db.prepare('SELECT id, last_seq FROM devices').all() as { id: string; last_seq: number }[]) fromDb.set(d.id, d.last_seq);
    const ceilings = previous?.ceilings ?? {};
    for (const dev of new Set([...fromDb.keys(), ...Object.keys(ceilings)])) {
      const db = fromDb.get(dev);
      const ceiling = ceilings[dev];
      let last: number;
      if (behind) last = Math.max(db ?? 0, ceiling ?? 0);
      else if (db !== undefined) last = db;
      else last = ceiling ?? 0; // known to the state file, not to this database: it was lost
      this.lastSeq.set(dev, last);
    }
  }

  private writeState(): void {
    try {
      this.stateFile.write(this.state);
    } catch (err) {
      this.log?.error({ err: describeError(err), file: this.stateFile.path }, 'buffer: cannot write the seq state file; seqs may repeat after a power cut');
    }
  }

  private logRecovery(r: Recovery): void {
    this.log?.error({ movedTo: r.movedTo, reason: r.reason }, 'buffer database unreadable: moved aside, started a fresh one; its unsent messages are lost');
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.overflow.length > 0 || this.ackLater.size > 0) {
        // Space may have come back: retry what waits in memory.
        if (this.ackLater.size > 0) this.ack([]);
        if (this.overflow.length > 0) this.store([]);
        this.drops.flush();
      }
      await this.sync();
    } catch (err) {
      this.log?.warn({ err: describeError(err) }, 'buffer: periodic sync failed');
    }
  }

  private toStored(r: Row): StoredMessage {
    return { id: r.id, deviceId: this.deviceName[r.device] ?? '?', kind: KIND_OF[r.kind] ?? 'fix', seq: r.seq, timeMs: r.time_ms, payload: r.payload };
  }

  private fromOverflow(opts: OldestQuery): StoredMessage[] {
    return this.overflow.filter(
      (m) =>
        (opts.afterId === undefined || m.id > opts.afterId) &&
        (!opts.kinds || opts.kinds.includes(m.kind)) &&
        (opts.deviceId === undefined || m.deviceId === opts.deviceId),
    ).slice(0, opts.limit);
  }

  private ioError(what: string, err: unknown): BwcError {
    return new BwcError('BUFFER_IO', `buffer ${this.opts.path}: cannot ${what}: ${describeError(err)}`, { cause: err });
  }

  private checkOpen(): void {
    if (this.closed) throw new BwcError('BUFFER_CLOSED', 'the message buffer is closed');
  }
}

function groupKey(device: number, kind: number): number {
  return device * 4 + kind;
}

function isFull(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_FULL' || (err as NodeJS.ErrnoException).code === 'ENOSPC';
}

function mergeDelta(a: Delta, b: Delta): Delta {
  const out = noDelta();
  applyDelta(out, a);
  applyDelta(out, b);
  return out;
}

function applyDelta(target: Delta, d: Delta): void {
  target.rows += d.rows;
  target.bytes += d.bytes;
  for (const k of MESSAGE_KINDS) target.byKind[k] += d.byKind[k];
}
