import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import type { AgentKey } from './agent-key.js';
import { encodeAnchor, type AnchorHead } from './audit-anchor.js';
import type { AuditLog } from './audit-log.js';

export interface AnchorPublisherOptions {
  agentId: string;
  audit: AuditLog;
  key: AgentKey;
  session: { readonly connected: boolean; readonly up?: { session: number }; publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> };
  topic: string;
  intervalMs: number;
  log: Logger;
}

/**
 * Publishes the signed head of the audit log (an AuditAnchor), retained, at
 * every connect and then every interval. Anchors go straight to the broker,
 * not through the buffer: one missed while offline is replaced by the next,
 * and each one vouches for every entry before it.
 */
export class AnchorPublisher {
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;

  constructor(private readonly o: AnchorPublisherOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.publish(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The head as it stands, with the restart of a broken chain when this start found one. */
  head(now = Date.now()): AnchorHead {
    const h = this.o.audit.head;
    const b = this.o.audit.brokenAtStart;
    return {
      agentId: this.o.agentId,
      entries: h.entries,
      lastHash: h.entries > 0 ? h.hash : '',
      firstHash: h.firstHash,
      timeMs: now,
      ...(b ? { restartedMs: b.atMs, previousFirstHash: b.firstHash, restartReason: `chain of ${b.entries} entries broken (${b.problems[0] ?? 'unknown'}), set aside as ${b.movedTo.replace(/^.*\//, '')}`.slice(0, 400) } : {}),
    };
  }

  async publish(): Promise<boolean> {
    const up = this.o.session.up;
    if (!this.o.session.connected || !up) return false;
    this.o.audit.flush();
    const now = Date.now();
    const payload = encodeAnchor(this.head(now), this.o.key, { deviceId: this.o.agentId, seq: ++this.sent, session: up.session, sentMs: now });
    try {
      await this.o.session.publish(this.o.topic, payload, { qos: 1, retain: true });
      return true;
    } catch (err) {
      this.o.log.warn({ err: describeError(err) }, 'audit anchor not acknowledged');
      return false;
    }
  }
}
