import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';

/** A V4L2 video node of a USB (UVC) camera, as sysfs describes it. */
export interface UsbVideo {
  /** /dev/videoN */
  path: string;
  /** The driver's name of the node ("HD Pro Webcam C920"). */
  name?: string;
  /** 0: the capture node; UVC adds a metadata node (1) for each camera, which gives no pictures. */
  index: number;
  capture: boolean;
  vendorId: string;
  productId: string;
  serial?: string;
  manufacturer?: string;
  product?: string;
  interface?: string;
  /** The USB port path ("1-3"), shared with the camera's serial ports when it has them. */
  usbPort: string;
  /** What to write in devices[].video. */
  spec: string;
}

/**
 * Lists the V4L2 nodes of USB cameras from sysfs (never udevadm):
 * /sys/class/video4linux/videoN/device leads into the USB interface
 * (bInterfaceNumber), whose parent is the USB device (idVendor, idProduct,
 * serial). Nodes without a USB ancestor (a platform camera, vivid) are left
 * out. Never throws for a missing or odd tree.
 */
export function listUsbVideo(sysRoot = '/sys', devRoot = '/dev'): UsbVideo[] {
  const classDir = join(sysRoot, 'class', 'video4linux');
  let names: string[];
  try {
    names = readdirSync(classDir);
  } catch {
    return [];
  }
  let root: string;
  try {
    root = realpathSync(sysRoot);
  } catch {
    return [];
  }
  const out: UsbVideo[] = [];
  for (const name of names.filter((n) => /^video\d+$/.test(n)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    let dir: string;
    try {
      dir = realpathSync(join(classDir, name, 'device'));
    } catch {
      continue;
    }
    const nodeName = read(join(classDir, name), 'name');
    const index = Number(read(join(classDir, name), 'index') ?? '0');
    let iface: string | undefined;
    for (let depth = 0; depth < 12 && dir.startsWith(root + sep) && dir !== root; depth++) {
      iface ??= read(dir, 'bInterfaceNumber');
      const vendorId = read(dir, 'idVendor');
      if (vendorId) {
        const productId = read(dir, 'idProduct');
        if (!productId) break;
        const path = join(devRoot, name);
        const v: UsbVideo = {
          path, index: Number.isFinite(index) ? index : 0, capture: index === 0, vendorId: vendorId.toLowerCase(), productId: productId.toLowerCase(),
          usbPort: basename(dir), spec: `v4l2:${path}`,
        };
        if (nodeName) v.name = nodeName;
        for (const k of ['serial', 'manufacturer', 'product'] as const) {
          const x = read(dir, k);
          if (x) v[k] = x;
        }
        if (iface) v.interface = iface;
        out.push(v);
        break;
      }
      dir = dirname(dir);
    }
  }
  return out;
}

function read(dir: string, file: string): string | undefined {
  try {
    const v = readFileSync(join(dir, file), 'utf8').trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
}
