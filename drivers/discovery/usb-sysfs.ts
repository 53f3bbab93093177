import { readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';

/** The USB device above a device node, as sysfs describes it. */
export interface UsbAncestor {
  /** The USB port path ("1-3"): a camera's serial and video nodes share it. */
  usbPort: string;
  /** Lower-case 4-digit hex, as in sysfs: "1a86". */
  vendorId: string;
  productId: string;
  serial?: string;
  manufacturer?: string;
  product?: string;
  /** USB interface number of the node ("00", "01" …). */
  interface?: string;
}

/**
 * The USB device a class entry (/sys/class/tty/ttyUSB0, /sys/class/video4linux/video0)
 * belongs to: its `device` link leads into the USB interface directory
 * (bInterfaceNumber), whose parent is the USB device (idVendor, idProduct,
 * serial, manufacturer, product). Undefined for a node without a USB ancestor
 * below `sysRoot` (a console, a built-in UART, a pty, a platform camera) and
 * for a missing or odd tree; never throws.
 */
export function usbAncestor(classEntry: string, sysRoot: string): UsbAncestor | undefined {
  let dir: string;
  let root: string;
  try {
    dir = realpathSync(join(classEntry, 'device'));
    root = realpathSync(sysRoot);
  } catch {
    return undefined;
  }
  let iface: string | undefined;
  // Walk up towards /sys/devices: the interface comes first, then the device.
  for (let depth = 0; depth < 12 && dir.startsWith(root + sep) && dir !== root; depth++) {
    iface ??= readSysAttr(dir, 'bInterfaceNumber');
    const vendorId = readSysAttr(dir, 'idVendor');
    if (vendorId) {
      const productId = readSysAttr(dir, 'idProduct');
      if (!productId) return undefined;
      const usb: UsbAncestor = { usbPort: basename(dir), vendorId: vendorId.toLowerCase(), productId: productId.toLowerCase() };
      for (const k of ['serial', 'manufacturer', 'product'] as const) {
        const v = readSysAttr(dir, k);
        if (v) usb[k] = v;
      }
      if (iface) usb.interface = iface;
      return usb;
    }
    dir = dirname(dir);
  }
  return undefined;
}

/** One sysfs attribute, trimmed; undefined when absent or empty. */
export function readSysAttr(dir: string, file: string): string | undefined {
  try {
    const v = readFileSync(join(dir, file), 'utf8').trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
}

/** ttyUSB2 before ttyUSB10, video2 before video10. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
