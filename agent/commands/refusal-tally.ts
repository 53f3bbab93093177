import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';

/**
 * Refusals anyone can cause without a trusted key (oversized, malformed,
 * unsigned, unknown key, bad signature, and a key's budget used up, which is
 * checked before the signature) are never written singly (no audit line, no
 * log line): they are counted and summarised once per interval. A flood of
 * them costs a decode and a count. Refusals of commands a trusted key signed
 * are audited singly up to a few per reason per interval, then summarised.
 */

/** Outcome recorded for commands dropped unread because the queue was full. */
export const QUEUE_FULL = 'QUEUE_FULL';

export interface Refusal {
  time: string;
  device: string;
  reason: string;
  message: string;
  commandId?: string;
  issuer?: string;
  kind?: string;
  /** The command was signed by a trusted key (its refusal may be audited singly). */
  authenticated?: boolean;
}

export interface RefusalTallyOptions {
  audit: AuditLog;
  log: Logger;
  /** One summary entry per reason per interval. */
  intervalMs: number;
  /** Refusals of signed commands audited singly per reason per interval before they are only counted. */
  singlyPerInterval: number;
  /** Replies to refusals: burst and sustained rate (a flood gets a few replies, not one each). */
  replyBurst: number;
  repliesPerS: number;
  now?: () => number;
}

interface Pending {
  count: number;
  devices: Set<string>;
  issuers: Set<string>;
  first: string;
}

/**
 * Decides what a refusal costs: whether it is audited and logged singly,
 * whether it gets a reply, and keeps the counts. flush() writes one summary
 * entry per reason with the refusals not audited singly since the last one.
 */
export class RefusalTally {
  /** Every refusal and drop since start, by reason (status and metrics). */
  readonly totals = new Map<string, number>();
  repliesSuppressed = 0;
  private pending = new Map<string, Pending>();
  private singly = new Map<string, number>();
  private tokens: number;
  private tokensAt: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: RefusalTallyOptions) {
    this.now = o.now ?? Date.now;
    this.tokens = o.replyBurst;
    this.tokensAt = this.now();
  }

  /** Starts the periodic summary. */
  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** Counts a refusal; true when it is to be audited (and logged) on its own. */
  record(r: Refusal): boolean {
    this.totals.set(r.reason, (this.totals.get(r.reason) ?? 0) + 1);
    if (r.authenticated) {
      const n = this.singly.get(r.reason) ?? 0;
      if (n < this.o.singlyPerInterval) {
        this.singly.set(r.reason, n + 1);
        return true;
      }
    }
    const p = this.pending.get(r.reason) ?? { count: 0, devices: new Set<string>(), issuers: new Set<string>(), first: r.message };
    p.count++;
    if (p.devices.size < 8) p.devices.add(r.device);
    // Claimed issuers of unauthenticated messages are only claims: kept out of the summary.
    if (r.issuer && r.authenticated && p.issuers.size < 8) p.issuers.add(r.issuer);
    this.pending.set(r.reason, p);
    return false;
  }

  /** Commands dropped unread because the command queue was full. */
  dropped(deviceId: string, message: string): void {
    this.record({ time: '', device: deviceId, reason: QUEUE_FULL, message });
  }

  /** Whether a refusal may be answered now (token bucket over all refusals). */
  mayReply(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.o.replyBurst, this.tokens + ((now - this.tokensAt) * this.o.repliesPerS) / 1000);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.repliesSuppressed++;
    return false;
  }

  /** Writes the summaries (one audit entry per reason) and starts a new interval. */
  flush(): void {
    const pending = this.pending;
    this.pending = new Map();
    this.singly = new Map();
    if (pending.size === 0) return;
    const time = new Date(this.now()).toISOString();
    const s = Math.round(this.o.intervalMs / 1000);
    for (const [reason, p] of pending) {
      const devices = [...p.devices];
      const what = reason === QUEUE_FULL ? 'dropped unread (command queue full)' : 'refused';
      const detail = `${p.count} commands ${what} within ${s} s; first: ${p.first}${devices.length > 1 ? `; devices: ${devices.join(', ')}` : ''}`;
      this.o.audit.append(
        {
          time,
          device: devices.length === 1 ? devices[0]! : '*',
          ...(p.issuers.size === 1 ? { issuer: [...p.issuers][0]! } : {}),
          outcome: reason === QUEUE_FULL ? 'dropped' : 'rejected',
          reason,
          detail: detail.slice(0, 600),
          count: p.count,
        },
        { sync: false },
      );
      this.o.log.warn({ reason, count: p.count, devices, intervalS: s, first: p.first }, 'commands refused in aggregate');
    }
    this.o.audit.flush();
  }
}
