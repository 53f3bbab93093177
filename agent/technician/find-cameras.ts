import { listUsbTtys, matchesAny, type UsbMatch, type UsbTty } from '../../drivers/discovery/index.js';
import { listUsbVideo, type UsbVideo } from '../../drivers/discovery/usb-video.js';
import type { CameraIdentity, CameraStatus, RecordingState } from '../../drivers/camera/camera-driver.js';
import { describeError } from '../../common/errors.js';
import { identifyCamera } from './camera-link.js';
import { sampleNmea } from './nmea-sample.js';
import { findGnssPort, nameSiblings } from './gnss-port-finder.js';

/** A port's USB description as sysfs gives it (the port path is reported beside it). */
export type UsbInfo = Omit<UsbTty, 'path'>;

/** A camera that answered on its control port. */
export interface FoundCamera {
  /** The control port (where it answered identify). */
  port: string;
  /** Its GNSS port, when one was found beside it (same USB device) or given. */
  gnss?: string;
  usb?: UsbInfo;
  identity: CameraIdentity;
  recording: RecordingState;
  batteryPct?: number;
  charging?: boolean;
  clockMs?: number;
}

/** A port that looks like a camera's (matching USB ids, or named) but said nothing useful. */
export interface SilentPort {
  port: string;
  usb?: UsbInfo;
  reason: string;
}

export interface FindOptions {
  sysRoot?: string;
  devRoot?: string;
  /** USB ids of camera models; empty: every USB serial port. */
  match?: readonly UsbMatch[];
  /** Ports to probe besides the USB ones (configured ports, --port). */
  extraPorts?: string[];
  /** Skip USB discovery (only extraPorts). */
  noUsb?: boolean;
  timeoutMs?: number;
}

export interface FindResult {
  cameras: FoundCamera[];
  /** GNSS ports with no camera answering beside them. */
  gnssOnly: { port: string; usb?: UsbInfo; sentences: number }[];
  unanswered: SilentPort[];
  /** V4L2 capture nodes of USB (UVC) cameras: sources for devices[].video. */
  video: UsbVideo[];
}

interface Probe {
  port: string;
  usb?: UsbInfo;
  camera?: { identity: CameraIdentity; status: CameraStatus };
  nmea?: number;
  error?: string;
}

/**
 * Every camera on USB/serial: USB serial ports from sysfs (never udevadm),
 * filtered by the camera models' vendor/product ids, plus ports named
 * explicitly. Each port is asked to identify itself over the control
 * protocol; a port that does not answer is listened to for NMEA (a camera's
 * GNSS interface). Ports of one USB device (same ids and serial) make one
 * camera. Probes run in parallel: each costs at most a few seconds.
 */
export async function findCameras(opts: FindOptions = {}): Promise<FindResult> {
  const ttys: UsbTty[] = opts.noUsb ? [] : listUsbTtys(opts.sysRoot, opts.devRoot).filter((t) => matchesAny(t, opts.match));
  const targets: { port: string; usb?: UsbInfo }[] = ttys.map((t) => ({ port: t.path, usb: usbInfo(t) }));
  for (const p of opts.extraPorts ?? []) if (!targets.some((t) => t.port === p)) targets.push({ port: p });
  const probes = await Promise.all(targets.map((t) => probe(t.port, t.usb, opts.timeoutMs ?? 2000)));

  const result: FindResult = { cameras: [], gnssOnly: [], unanswered: [], video: opts.noUsb ? [] : listUsbVideo(opts.sysRoot, opts.devRoot).filter((v) => v.capture) };
  const gnssPorts = probes.filter((p) => p.nmea !== undefined);
  const usedGnss = new Set<string>();
  for (const p of probes) {
    if (!p.camera) continue;
    const sibling = p.usb ? gnssPorts.find((g) => g.usb && sameUsbDevice(g.usb, p.usb!) && !usedGnss.has(g.port)) : undefined;
    if (sibling) usedGnss.add(sibling.port);
    const s = p.camera.status;
    result.cameras.push({
      port: p.port,
      ...(sibling ? { gnss: sibling.port } : {}),
      ...(p.usb ? { usb: p.usb } : {}),
      identity: p.camera.identity,
      recording: s.recording,
      ...(s.batteryPct !== undefined ? { batteryPct: s.batteryPct } : {}),
      ...(s.charging !== undefined ? { charging: s.charging } : {}),
      ...(s.clockMs !== undefined ? { clockMs: s.clockMs } : {}),
    });
  }
  // Without USB ids to pair by, a camera's GNSS port is the one named like its control port.
  for (const cam of result.cameras) {
    if (cam.gnss) continue;
    const taken = [...usedGnss, ...result.cameras.map((c) => c.port)];
    const known = nameSiblings(cam.port).find((p) => gnssPorts.some((g) => g.port === p) && !usedGnss.has(p));
    const gnss = known ?? (await findGnssPort(cam.port, { sysRoot: opts.sysRoot, devRoot: opts.devRoot, exclude: taken, listenMs: opts.timeoutMs ?? 2000 })).found?.port;
    if (gnss) {
      cam.gnss = gnss;
      usedGnss.add(gnss);
    }
  }
  for (const g of gnssPorts) if (!usedGnss.has(g.port)) result.gnssOnly.push({ port: g.port, ...(g.usb ? { usb: g.usb } : {}), sentences: g.nmea! });
  for (const p of probes) if (!p.camera && p.nmea === undefined) result.unanswered.push({ port: p.port, ...(p.usb ? { usb: p.usb } : {}), reason: p.error ?? 'no answer' });
  return result;
}

async function probe(port: string, usb: UsbInfo | undefined, timeoutMs: number): Promise<Probe> {
  try {
    return { port, usb, camera: await identifyCamera(port, { timeoutMs, openTimeoutMs: timeoutMs }) };
  } catch (err) {
    const cameraError = describeError(err);
    // A port we cannot open at all (missing, permissions, busy) will not speak NMEA either.
    if (/^PORT_|BAD_PORT/.test((err as { code?: string }).code ?? '')) return { port, usb, error: cameraError };
    try {
      const s = await sampleNmea(port, { baud: 'auto', durationMs: timeoutMs });
      if (s.sentences > 0) return { port, usb, nmea: s.sentences };
    } catch {
      // Not NMEA either: report the control-channel reason, which names the likely cause.
    }
    return { port, usb, error: cameraError };
  }
}

function usbInfo(t: UsbTty): UsbInfo {
  const { path: _path, ...rest } = t;
  return rest;
}

function sameUsbDevice(a: UsbInfo, b: UsbInfo): boolean {
  return a.vendorId === b.vendorId && a.productId === b.productId && (a.serial ?? '') === (b.serial ?? '') && a.serial !== undefined;
}
