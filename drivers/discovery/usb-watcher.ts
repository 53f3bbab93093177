import { EventEmitter } from 'node:events';
import { listUsbTtys, matchesAny, type UsbMatch, type UsbTty } from './usb-tty.js';

export interface UsbWatcherOptions {
  sysRoot?: string;
  devRoot?: string;
  /** Poll period (default 1000 ms: a camera plugged in is seen within about a second). */
  intervalMs?: number;
  /** Cameras to report, by USB vendor/product id; empty or absent: every USB serial port. */
  match?: readonly UsbMatch[];
}

export interface UsbWatcherEvents {
  added: [UsbTty];
  removed: [UsbTty];
}

/**
 * Polls sysfs for USB serial ports and reports cameras that appear and
 * disappear. Polling (not netlink or udev) because it needs nothing but
 * /sys and costs one small directory walk a second. A port whose device
 * changed (another serial number on the same ttyUSB0) is removed, then added.
 */
export class UsbWatcher extends EventEmitter<UsbWatcherEvents> {
  private readonly sysRoot: string;
  private readonly devRoot: string;
  private readonly intervalMs: number;
  private readonly match: readonly UsbMatch[] | undefined;
  private readonly known = new Map<string, UsbTty>();
  private timer: NodeJS.Timeout | undefined;
  /** Scans done, for status. */
  scans = 0;

  constructor(opts: UsbWatcherOptions = {}) {
    super();
    this.sysRoot = opts.sysRoot ?? '/sys';
    this.devRoot = opts.devRoot ?? '/dev';
    this.intervalMs = opts.intervalMs ?? 1000;
    this.match = opts.match;
  }

  /** Scans now (emitting `added` for what is already there) and then every interval. */
  start(): void {
    if (this.timer) return;
    this.scan();
    this.timer = setInterval(() => this.scan(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The matching ports seen at the last scan. */
  current(): UsbTty[] {
    return [...this.known.values()];
  }

  /** One poll: compares sysfs with what was known and emits the differences. */
  scan(): void {
    this.scans++;
    const now = new Map<string, UsbTty>();
    for (const t of listUsbTtys(this.sysRoot, this.devRoot)) if (matchesAny(t, this.match)) now.set(identityKey(t), t);
    for (const [k, t] of this.known) {
      if (!now.has(k)) {
        this.known.delete(k);
        this.safeEmit('removed', t);
      }
    }
    for (const [k, t] of now) {
      if (!this.known.has(k)) {
        this.known.set(k, t);
        this.safeEmit('added', t);
      }
    }
  }

  private safeEmit(event: 'added' | 'removed', t: UsbTty): void {
    try {
      this.emit(event, t);
    } catch {
      // A listener's failure must not stop discovery.
    }
  }
}

function identityKey(t: UsbTty): string {
  return [t.path, t.vendorId, t.productId, t.serial ?? '', t.interface ?? ''].join('|');
}
