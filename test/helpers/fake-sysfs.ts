import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

/**
 * A fake sysfs laid out as the kernel does it:
 *   /sys/class/tty/ttyUSB0 -> ../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/ttyUSB0/tty/ttyUSB0
 *   …/tty/ttyUSB0/device  -> ../../../ttyUSB0            (usb-serial: the port dir under the interface)
 *   /sys/class/tty/ttyACM0 -> ../../devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/tty/ttyACM0
 *   …/tty/ttyACM0/device  -> ../../../1-2:1.0            (cdc_acm: the interface itself)
 *   /sys/class/tty/ttyS0  -> ../../devices/pnp0/00:01/tty/ttyS0, device -> ../../../00:01 (no USB)
 *   /sys/class/tty/tty0   -> ../../devices/virtual/tty/tty0 (no device link)
 */
export class FakeSys {
  readonly root = mkdtempSync(join(tmpdir(), 'bwc-sysfs-'));
  readonly sys = join(this.root, 'sys');
  readonly dev = join(this.root, 'dev');
  constructor() {
    mkdirSync(join(this.sys, 'class', 'tty'), { recursive: true });
    mkdirSync(this.dev, { recursive: true });
  }
  private link(target: string, at: string): void {
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(relative(dirname(at), target), at);
  }
  private files(dir: string, f: Record<string, string>): void {
    mkdirSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(f)) writeFileSync(join(dir, k), v + '\n');
  }
  usbDevice(port: string, attrs: Record<string, string>): string {
    const dir = join(this.sys, 'devices', 'pci0000:00', '0000:00:14.0', 'usb1', port);
    this.files(dir, attrs);
    return dir;
  }
  /** `devTarget`: make the /dev node a link to a real terminal (a pty) so the port can be opened. */
  usbSerial(name: string, port: string, iface: string, attrs: Record<string, string>, devTarget?: string): void {
    const devDir = this.usbDevice(port, attrs);
    const ifDir = join(devDir, `${port}:1.${Number(iface)}`);
    this.files(ifDir, { bInterfaceNumber: iface, bInterfaceClass: 'ff' });
    const ttyDir = join(ifDir, name, 'tty', name);
    this.files(ttyDir, { dev: '188:0' });
    this.link(join(ifDir, name), join(ttyDir, 'device'));
    this.link(ttyDir, join(this.sys, 'class', 'tty', name));
    if (devTarget) symlinkSync(devTarget, join(this.dev, name));
    else writeFileSync(join(this.dev, name), '');
  }
  acm(name: string, port: string, attrs: Record<string, string>): void {
    const devDir = this.usbDevice(port, attrs);
    const ifDir = join(devDir, `${port}:1.0`);
    this.files(ifDir, { bInterfaceNumber: '00', bInterfaceClass: '02' });
    const ttyDir = join(ifDir, 'tty', name);
    this.files(ttyDir, { dev: '166:0' });
    this.link(ifDir, join(ttyDir, 'device'));
    this.link(ttyDir, join(this.sys, 'class', 'tty', name));
    writeFileSync(join(this.dev, name), '');
  }
  builtIn(): void {
    const pnp = join(this.sys, 'devices', 'pnp0', '00:01');
    const ttyDir = join(pnp, 'tty', 'ttyS0');
    this.files(ttyDir, { dev: '4:64' });
    this.link(pnp, join(ttyDir, 'device'));
    this.link(ttyDir, join(this.sys, 'class', 'tty', 'ttyS0'));
    const virt = join(this.sys, 'devices', 'virtual', 'tty', 'tty0');
    this.files(virt, { dev: '4:0' });
    this.link(virt, join(this.sys, 'class', 'tty', 'tty0'));
  }
  /** A UVC camera's V4L2 node: /sys/class/video4linux/videoN -> …/usb1/PORT/PORT:1.IF/video4linux/videoN, device -> the interface. */
  uvc(name: string, port: string, iface: string, index: number, attrs: Record<string, string>, nodeName = 'USB Camera'): void {
    const devDir = join(this.sys, 'devices', 'pci0000:00', '0000:00:14.0', 'usb1', port);
    this.files(devDir, attrs);
    const ifDir = join(devDir, `${port}:1.${Number(iface)}`);
    this.files(ifDir, { bInterfaceNumber: iface, bInterfaceClass: '0e' });
    const node = join(ifDir, 'video4linux', name);
    this.files(node, { name: nodeName, index: String(index), dev: '81:0' });
    this.link(ifDir, join(node, 'device'));
    this.link(node, join(this.sys, 'class', 'video4linux', name));
    writeFileSync(join(this.dev, name), '');
  }
  /** A video node with no USB ancestor (a platform camera). */
  platformVideo(name: string): void {
    const plat = join(this.sys, 'devices', 'platform', 'camera0');
    const node = join(plat, 'video4linux', name);
    this.files(node, { name: 'platform cam', index: '0' });
    this.link(plat, join(node, 'device'));
    this.link(node, join(this.sys, 'class', 'video4linux', name));
  }
  byId(linkName: string, devName: string): void {
    this.link(join(this.dev, devName), join(this.dev, 'serial', 'by-id', linkName));
  }
  unplug(name: string, port: string): void {
    rmSync(join(this.sys, 'class', 'tty', name));
    rmSync(join(this.sys, 'devices', 'pci0000:00', '0000:00:14.0', 'usb1', port), { recursive: true });
    rmSync(join(this.dev, name));
  }
  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

