import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { naturalCompare, readSysAttr, usbAncestor, type UsbAncestor } from './usb-sysfs.js';

/** A V4L2 video node of a USB (UVC) camera, as sysfs describes it; usbPort is shared with the camera's serial ports when it has them. */
export interface UsbVideo extends UsbAncestor {
  /** /dev/videoN */
  path: string;
  /** The driver's name of the node ("HD Pro Webcam C920"). */
  name?: string;
  /** 0: the capture node; UVC adds a metadata node (1) for each camera, which gives no pictures. */
  index: number;
  capture: boolean;
  /** What to write in devices[].video. */
  spec: string;
}

/**
 * Lists the V4L2 nodes of USB cameras from sysfs (never udevadm): each
 * /sys/class/video4linux/videoN with a USB ancestor (usb-sysfs.ts). Nodes
 * without one (a platform camera, vivid) are left out. Never throws for a
 * missing or odd tree.
 */
export function listUsbVideo(sysRoot = '/sys', devRoot = '/dev'): UsbVideo[] {
  const classDir = join(sysRoot, 'class', 'video4linux');
  let names: string[];
  try {
    names = readdirSync(classDir);
  } catch {
    return [];
  }
  const out: UsbVideo[] = [];
  for (const name of names.filter((n) => /^video\d+$/.test(n)).sort(naturalCompare)) {
    const entry = join(classDir, name);
    const usb = usbAncestor(entry, sysRoot);
    if (!usb) continue;
    const nodeName = readSysAttr(entry, 'name');
    const index = Number(readSysAttr(entry, 'index') ?? '0');
    const path = join(devRoot, name);
    out.push({ path, ...(nodeName ? { name: nodeName } : {}), index: Number.isFinite(index) ? index : 0, capture: index === 0, ...usb, spec: `v4l2:${path}` });
  }
  return out;
}
