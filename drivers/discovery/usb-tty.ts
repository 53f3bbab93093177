import { readdirSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { naturalCompare, usbAncestor, type UsbAncestor } from './usb-sysfs.js';

/** A serial port that belongs to a USB device, as sysfs describes it (`interface`: a camera may expose GNSS and control on two). */
export interface UsbTty extends Omit<UsbAncestor, 'usbPort'> {
  /** The device node: /dev/ttyUSB0, /dev/ttyACM0 … */
  path: string;
  /** A stable /dev/serial/by-id/… link to it, when udev made one. */
  byId?: string;
}

/** A camera model to look for: a vendor, and optionally one product of it. */
export interface UsbMatch {
  vendorId: string;
  productId?: string;
}

/**
 * Lists the USB serial ports by reading sysfs, never by running udevadm
 * (which SerialPort.list() spawns, and which gateways often lack): each
 * /sys/class/tty entry with a USB ancestor (usb-sysfs.ts). ttys without one
 * (consoles, built-in UARTs, ptys) are left out. Never throws for a missing
 * or odd tree.
 */
export function listUsbTtys(sysRoot = '/sys', devRoot = '/dev'): UsbTty[] {
  const classDir = join(sysRoot, 'class', 'tty');
  let names: string[];
  try {
    names = readdirSync(classDir);
  } catch {
    return [];
  }
  const byId = byIdLinks(devRoot);
  const out: UsbTty[] = [];
  for (const name of names.sort(naturalCompare)) {
    const usb = usbAncestor(join(classDir, name), sysRoot);
    if (!usb) continue;
    const { usbPort: _port, ...tty } = usb;
    const path = join(devRoot, name);
    const link = byId.get(path);
    out.push({ path, ...(link ? { byId: link } : {}), ...tty });
  }
  return out;
}

export function matchesAny(tty: UsbTty, match: readonly UsbMatch[] | undefined): boolean {
  if (!match || match.length === 0) return true;
  return match.some((m) => m.vendorId.toLowerCase() === tty.vendorId && (m.productId === undefined || m.productId.toLowerCase() === tty.productId));
}

/** /dev/serial/by-id/* links by the device node they point at. */
function byIdLinks(devRoot: string): Map<string, string> {
  const dir = join(devRoot, 'serial', 'by-id');
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      const target = realpathSync(join(dir, n));
      // The target is under the real devRoot; report it under the devRoot we were given.
      out.set(join(devRoot, target.slice(target.lastIndexOf(sep) + 1)), join(dir, n));
    } catch {
      // A dangling link: the device just went away.
    }
  }
  return out;
}
