import type { Duplex } from 'node:stream';

/**
 * An open byte stream to one camera. Single-use (as Z-Wave JS's
 * ZWaveSerialStream): once closed, by us or by an unplug, it stays closed
 * and the device manager opens a new one; a driver never retries by itself.
 */
export interface Transport {
  readonly stream: Duplex;
  /** Human-readable origin, for logs: "/dev/ttyUSB0 @ 9600", "tcp://127.0.0.1:4001". */
  readonly description: string;
  readonly closed: boolean;
  /** Closes the port; resolves once it is closed. Safe to call twice. */
  close(): Promise<void>;
  /** Called once with why the transport closed ("closed by agent", "device disconnected: …"). Called at once (async) if already closed. */
  onClose(cb: (reason: string) => void): void;
}

export type ErrorClass = 'canceled' | 'disconnected';

/** Errno codes that mean the device or the peer is gone. */
const GONE = new Set(['EIO', 'ENXIO', 'ENODEV', 'EBADF', 'ENOENT', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN', 'UNKNOWN']);

/**
 * As node-serialport's bindings-interface: an error is either "canceled"
 * (a read or write cut short by our own close: ignore it) or "disconnected"
 * (the port is gone: close and let the device manager reopen). Anything we
 * cannot place is treated as disconnected, because a port in an unknown state
 * is not worth keeping.
 */
export function classifyError(err: unknown): ErrorClass {
  const e = err as { canceled?: boolean; disconnected?: boolean; disconnect?: boolean; code?: string } | null;
  if (e && e.canceled) return 'canceled';
  if (e && (e.disconnected || e.disconnect)) return 'disconnected';
  if (e && typeof e.code === 'string' && e.code === 'ERR_STREAM_DESTROYED') return 'canceled';
  if (e && typeof e.code === 'string' && GONE.has(e.code)) return 'disconnected';
  return 'disconnected';
}

/**
 * The close bookkeeping every transport shares: the reason is recorded once,
 * listeners run once, and listeners added late still hear it.
 */
export class CloseSignal {
  private reason: string | undefined;
  private readonly listeners: Array<(reason: string) => void> = [];

  get closed(): boolean {
    return this.reason !== undefined;
  }

  get why(): string | undefined {
    return this.reason;
  }

  /** Records the reason; returns false if the transport had already closed. */
  fire(reason: string): boolean {
    if (this.reason !== undefined) return false;
    this.reason = reason;
    for (const cb of this.listeners.splice(0)) queueMicrotask(() => safe(cb, reason));
    return true;
  }

  on(cb: (reason: string) => void): void {
    if (this.reason !== undefined) {
      const r = this.reason;
      queueMicrotask(() => safe(cb, r));
    } else this.listeners.push(cb);
  }
}

function safe(cb: (reason: string) => void, reason: string): void {
  try {
    cb(reason);
  } catch {
    // A listener's own failure must not take the transport (or the process) down.
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ? `${err.message}` : err.message;
  return String(err);
}
