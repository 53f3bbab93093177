/**
 * The store-and-forward buffer: every message the agent publishes is written
 * here first and deleted only after the broker's PUBACK. It knows nothing of
 * cameras or of the wire format: a message is a device id, a kind, a time and
 * opaque payload bytes.
 *
 * Implementations: SqliteMessageBuffer (the agent's, on disk) and
 * MemoryMessageBuffer (same semantics, for tests of the code above it); one
 * contract suite (test/buffer/message-buffer.contract.ts) runs against both.
 */
export type MessageKind = 'fix' | 'event' | 'status' | 'reply';

export const MESSAGE_KINDS: readonly MessageKind[] = ['fix', 'event', 'status', 'reply'];

export interface NewMessage {
  deviceId: string;
  kind: MessageKind;
  /** Fix or event time (from GNSS or the camera), ms since the epoch. */
  timeMs: number;
  payload: Uint8Array;
}

export interface StoredMessage extends NewMessage {
  /** Insertion order: larger is newer. */
  id: number;
  /** Per-device sequence number: strictly increasing, survives restarts, never reused. */
  seq: number;
}

/** Why messages were dropped before they were sent. */
export type DropReason =
  /** maxRows reached: the oldest fixes made room. */
  | 'max_rows'
  /** maxBytes reached. */
  | 'max_bytes'
  /** Older than maxAge. */
  | 'max_age'
  /** The disk (or the file's page limit) is full and freeing space did not help. */
  | 'disk_full'
  /** Disk full and the in-memory overflow for events is full too. */
  | 'overflow_full'
  /** Disk full and the device's in-memory ring of fixes is full: its oldest held fix went. */
  | 'memory_full';

export interface DropNotice {
  reason: DropReason | string;
  kind: MessageKind;
  deviceId: string;
  count: number;
}

export interface BufferStats {
  rows: number;
  /** Payload bytes held. */
  bytes: number;
  /** Time (timeMs) of the oldest message held, by insertion order. */
  oldestMs?: number;
  byKind: Record<MessageKind, number>;
  /** Messages dropped since the buffer was opened, by reason. */
  drops: Record<string, number>;
}

export interface OldestQuery {
  limit: number;
  kinds?: MessageKind[];
  deviceId?: string;
  /** Only messages with a larger id (a cursor). */
  afterId?: number;
}

export interface MessageBuffer {
  /**
   * Stores messages in one transaction and assigns each its id and the
   * device's next seq. Returns every message with its id and seq, in order
   * (one dropped at once to respect a bound is reported through onDrop).
   * Never throws for a full buffer or a full disk.
   */
  append(msgs: NewMessage[]): StoredMessage[];
  /** Oldest first. */
  oldest(opts: OldestQuery): StoredMessage[];
  newest(opts: { deviceId: string; kind: MessageKind }): StoredMessage | undefined;
  /** Deletes messages the broker acknowledged (PUBACK). Unknown ids are ignored. */
  ack(ids: number[]): void;
  stats(): BufferStats;
  onDrop(cb: (d: DropNotice) => void): void;
  close(): void;
}

/** Bounds of a buffer; when one is reached the oldest fixes go first. */
export interface BufferLimits {
  maxRows: number;
  maxBytes: number;
  /** Fixes and status older than this (by their timeMs) are dropped. */
  maxAgeMs: number;
}

/**
 * Which messages make room, in this order, each oldest first: fixes (the
 * bulk, and the next one says nearly the same), then status (retained; the
 * next one replaces it), then events and replies together, only when nothing
 * else is left: an SOS or a command's reply is never dropped while a fix is held.
 */
export const EVICTION_ORDER: readonly (readonly MessageKind[])[] = [['fix'], ['status'], ['event', 'reply']];

/** Kinds that age out after maxAge; events and replies stay until space runs out. */
export const AGING_KINDS: readonly MessageKind[] = ['fix', 'status'];

export function emptyByKind(): Record<MessageKind, number> {
  return { fix: 0, event: 0, status: 0, reply: 0 };
}
