import type { Command } from 'commander';
import { findCameras, type FindResult } from '../../technician/find-cameras.js';
import { collect, hardwareOptions, optionalConfig, positiveMs } from '../../technician/cli-options.js';
import { writeOut } from '../../../common/cli-kit.js';

interface DevicesOptions {
  json?: boolean;
  config?: string;
  port?: string[];
  timeout: number;
  sysRoot: string;
  devRoot: string;
  usb: boolean;
}

/** `bwc-agent devices [--json]` (shared CLI contract): every camera on USB/serial, and ports that do not answer. */
export function registerDevicesCommand(program: Command): void {
  const cmd = program
    .command('devices')
    .description('list cameras on USB/serial: port, USB vendor/product/serial, identity, recording state, battery; and camera-like ports that do not answer')
    .option('--json', 'print one JSON document: {"cameras":[…],"gnssOnly":[…],"unanswered":[…],"video":[…]}')
    .option('--config <file>', 'agent configuration: its discovery.usb ids select camera models, its device ports are probed too')
    .option('--port <path>', 'also probe this port (repeatable): a device path, tcp://host:port', collect)
    .option('--timeout <ms>', 'how long each port may take to answer', positiveMs('--timeout'), 2000)
    .option('--no-usb', 'skip USB discovery, probe only --port and configured ports');
  hardwareOptions(cmd).action(async (opts: DevicesOptions) => {
    const loaded = await optionalConfig(opts.config);
    const configured = loaded ? loaded.config.devices.flatMap((d) => [d.control, d.gnss]).filter((p): p is string => !!p && !p.startsWith('gpsd://')) : [];
    const result = await findCameras({
      sysRoot: opts.sysRoot,
      devRoot: opts.devRoot,
      match: loaded?.config.discovery.usb,
      extraPorts: [...configured, ...(opts.port ?? [])],
      noUsb: !opts.usb,
      timeoutMs: opts.timeout,
    });
    await writeOut(opts.json ? JSON.stringify(result) + '\n' : renderDevices(result));
  });
}

export function renderDevices(r: FindResult): string {
  const lines: string[] = [];
  for (const c of r.cameras) {
    const id = c.identity;
    lines.push(`camera ${id.serial}  ${id.model} firmware ${id.firmware}  officer ${id.officerNumber} ${id.officerName}  unit ${id.unitNumber} ${id.unitName}`);
    const usb = c.usb ? `  usb ${c.usb.vendorId}:${c.usb.productId}${c.usb.serial ? ` serial ${c.usb.serial}` : ''}` : '';
    lines.push(`  control ${c.port}${c.gnss ? `  gnss ${c.gnss}` : ''}${usb}`);
    const battery = c.batteryPct !== undefined ? `  battery ${c.batteryPct}%${c.charging ? ' (charging)' : ''}` : '';
    lines.push(`  recording ${c.recording}${battery}`);
  }
  for (const g of r.gnssOnly) lines.push(`gnss only ${g.port}${g.usb ? `  usb ${g.usb.vendorId}:${g.usb.productId}` : ''}: NMEA flows (${g.sentences} sentences) but no camera answered beside it`);
  for (const v of r.video) lines.push(`video ${v.path}  usb ${v.vendorId}:${v.productId}${v.name ? `  ${v.name}` : ''}  (devices[].video: ${v.spec})`);
  for (const u of r.unanswered) lines.push(`not answering ${u.port}${u.usb ? `  usb ${u.usb.vendorId}:${u.usb.productId}` : ''}: ${u.reason}`);
  if (r.cameras.length === 0) {
    lines.push('no cameras found: check that the camera is plugged in and switched on, that its USB ids are in discovery.usb of the configuration, or name its port with --port');
  }
  return lines.join('\n') + '\n';
}
