import type { DropNotice, MessageKind } from './message-buffer.js';

/**
 * Counts drops by reason for stats(), and tells the listeners once per
 * (reason, kind, device) per operation rather than once per message.
 */
export class DropTally {
  readonly totals: Record<string, number> = {};
  private readonly listeners: ((d: DropNotice) => void)[] = [];
  private pending = new Map<string, DropNotice>();

  onDrop(cb: (d: DropNotice) => void): void {
    this.listeners.push(cb);
  }

  /** Records a drop; reported by `flush()` (after the transaction that made it committed). */
  add(reason: string, kind: MessageKind, deviceId: string, count = 1): void {
    const key = `${reason}\u0000${kind}\u0000${deviceId}`;
    const n = this.pending.get(key);
    if (n) n.count += count;
    else this.pending.set(key, { reason, kind, deviceId, count });
  }

  /** Forgets drops of a transaction that rolled back. */
  discard(): void {
    this.pending = new Map();
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const notices = [...this.pending.values()];
    this.pending = new Map();
    for (const d of notices) this.totals[d.reason] = (this.totals[d.reason] ?? 0) + d.count;
    for (const d of notices) {
      for (const cb of this.listeners) {
        // A listener's failure must not undo a committed write or stop the others.
        try {
          cb(d);
        } catch {
          /* ignored */
        }
      }
    }
  }
}
