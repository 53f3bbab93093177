import { readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { listUsbTtys, type UsbTty } from '../../drivers/discovery/index.js';
import { sampleNmea } from './nmea-sample.js';

/** Where the search for a GNSS port ended: the port found, or why none was chosen. */
export interface GnssPortSearch {
  /** The port found, and how. */
  found?: { port: string; how: 'usb' | 'name'; sentences: number };
  /** Why none was chosen, for the message that asks for --gnss. */
  reason?: string;
  /** Every candidate listened to, and how many NMEA sentences it gave. */
  candidates: { port: string; sentences: number; error?: string }[];
}

export interface GnssPortSearchOptions {
  sysRoot?: string;
  devRoot?: string;
  /** How long to listen to each candidate (they are listened to together). */
  listenMs?: number;
  /** Ports that belong to other cameras already: never candidates. */
  exclude?: readonly string[];
}

/**
 * Finds the GNSS port of a camera known by its control port, so a camera is
 * never provisioned without positions. A body camera exposes GNSS and
 * control as two serial ports of one USB device (interfaces 00 and 01);
 * without USB information (a pseudo-terminal, a serial-to-network bridge)
 * its ports are still named alike: `…-if00`/`…-if01` under
 * /dev/serial/by-id, `BWC-0001-gnss`/`BWC-0001-control` from the simulator.
 *
 * Candidates are, in this order, the other ports of the same USB device,
 * then the ports next to the control port whose name differs only in its
 * last part; each is listened to, and the one that speaks NMEA is the GNSS
 * port. Two that speak NMEA is a question only the technician can answer.
 */
export async function findGnssPort(control: string, opts: GnssPortSearchOptions = {}): Promise<GnssPortSearch> {
  const exclude = new Set([control, ...(opts.exclude ?? [])].map(canonical));
  const listenMs = opts.listenMs ?? 2500;
  const usb = usbSiblings(control, opts.sysRoot, opts.devRoot).filter((p) => !exclude.has(canonical(p)));
  const named = nameSiblings(control).filter((p) => !exclude.has(canonical(p)) && !usb.some((u) => canonical(u) === canonical(p)));
  const candidates: GnssPortSearch['candidates'] = [];
  for (const [how, ports] of [['usb', usb], ['name', named]] as const) {
    if (ports.length === 0) continue;
    const heard = await Promise.all(ports.map((port) => listen(port, listenMs)));
    candidates.push(...heard);
    const speaking = heard.filter((h) => h.sentences > 0);
    if (speaking.length === 1) return { found: { port: speaking[0]!.port, how, sentences: speaking[0]!.sentences }, candidates };
    if (speaking.length > 1) {
      return { reason: `several ports beside ${control} send NMEA (${speaking.map((s) => s.port).join(', ')})`, candidates };
    }
  }
  if (candidates.length === 0) return { reason: `no port beside ${control} (same USB device, or a name that differs only in its last part)`, candidates };
  return { reason: `none of the ports beside ${control} sends NMEA (${candidates.map((c) => c.port).join(', ')})`, candidates };
}

async function listen(port: string, ms: number): Promise<{ port: string; sentences: number; error?: string }> {
  try {
    return { port, sentences: (await sampleNmea(port, { baud: 'auto', durationMs: ms })).sentences };
  } catch (err) {
    return { port, sentences: 0, error: err instanceof Error ? err.message : String(err) };
  }
}

/** The other ports of the USB device the control port belongs to. */
function usbSiblings(control: string, sysRoot?: string, devRoot?: string): string[] {
  const ttys = listUsbTtys(sysRoot, devRoot);
  const target = canonical(control);
  const own = ttys.find((t) => canonical(t.path) === target || (t.byId !== undefined && canonical(t.byId) === target));
  if (!own || own.serial === undefined) return [];
  return ttys.filter((t) => t !== own && sameDevice(t, own)).map((t) => t.byId ?? t.path);
}

function sameDevice(a: UsbTty, b: UsbTty): boolean {
  return a.vendorId === b.vendorId && a.productId === b.productId && a.serial === b.serial;
}

/**
 * Ports in the control port's folder named like it but for the last part:
 * `usb-Cam_BWC0001-if01` → `usb-Cam_BWC0001-if00`, `BWC-0001-control` →
 * `BWC-0001-gnss`. A bare kernel name (`ttyACM1`) has no such part: its
 * siblings would be every other camera's ports, so none are offered.
 */
export function nameSiblings(control: string): string[] {
  const name = basename(control);
  const cut = Math.max(name.lastIndexOf('-'), name.lastIndexOf('_'), name.lastIndexOf('.'));
  if (cut <= 0) return [];
  const stem = name.slice(0, cut + 1);
  const dir = dirname(control);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((e) => e !== name && e.startsWith(stem) && !/[-_.]/.test(e.slice(stem.length)) && isCharDevice(join(dir, e)))
    .sort()
    .map((e) => join(dir, e));
}

function isCharDevice(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice();
  } catch {
    return false;
  }
}

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
