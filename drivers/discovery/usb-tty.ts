import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** A serial port that belongs to a USB device, as sysfs describes it. */
export interface UsbTty {
  /** The device node: /dev/ttyUSB0, /dev/ttyACM0 … */
  path: string;
  /** A stable /dev/serial/by-id/… link to it, when udev made one. */
  byId?: string;
  /** Lower-case 4-digit hex, as in sysfs: "1a86". */
  vendorId: string;
  productId: string;
  serial?: string;
  manufacturer?: string;
  product?: string;
  /** USB interface number of the port ("00", "01" …): a camera may expose GNSS and control on two. */
  interface?: string;
}

/** A camera model to look for: a vendor, and optionally one product of it. */
export interface UsbMatch {
  vendorId: string;
  productId?: string;
}

/**
 * Lists the USB serial ports by reading sysfs, never by running udevadm
 * (which SerialPort.list() spawns, and which gateways often lack):
 * /sys/class/tty/NAME/device leads into the USB interface directory
 * (bInterfaceNumber), whose parent is the USB device (idVendor, idProduct,
 * serial, manufacturer, product). ttys without a USB ancestor (consoles,
 * built-in UARTs, ptys) are left out. Never throws for a missing or odd tree.
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
    const tty = describe(sysRoot, classDir, name);
    if (!tty) continue;
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

function describe(sysRoot: string, classDir: string, name: string): Omit<UsbTty, 'path' | 'byId'> | undefined {
  let dir: string;
  let root: string;
  try {
    dir = realpathSync(join(classDir, name, 'device'));
    root = realpathSync(sysRoot);
  } catch {
    // No device link: a virtual tty (console, tty0, ptmx).
    return undefined;
  }
  let iface: string | undefined;
  // Walk up towards /sys/devices: the interface comes first, then the device.
  for (let depth = 0; depth < 12 && dir.startsWith(root + sep) && dir !== root; depth++) {
    iface ??= read(dir, 'bInterfaceNumber');
    const vendorId = read(dir, 'idVendor');
    if (vendorId) {
      const productId = read(dir, 'idProduct');
      if (!productId) return undefined;
      const info: Omit<UsbTty, 'path' | 'byId'> = { vendorId: vendorId.toLowerCase(), productId: productId.toLowerCase() };
      for (const k of ['serial', 'manufacturer', 'product'] as const) {
        const v = read(dir, k);
        if (v) info[k] = v;
      }
      if (iface) info.interface = iface;
      return info;
    }
    dir = dirname(dir);
  }
  return undefined;
}

function read(dir: string, file: string): string | undefined {
  try {
    const v = readFileSync(join(dir, file), 'utf8').trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
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

/** ttyUSB2 before ttyUSB10. */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
