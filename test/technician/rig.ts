import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Simulator, type SimCameraPorts } from '../../sim/simulator.js';
import { SimCamera, type SimCameraFault } from '../../sim/camera/sim-camera.js';
import type { FaultOptions } from '../../sim/camera/camera-faults.js';
import { writeMinimalConfig } from '../../config/write-config.js';
import { agentCli } from '../helpers/paths.js';
import { agentCliFor } from '../helpers/reachable-cli.js';
import type { TapTest } from '../helpers/tap-test.js';

export interface SimRig {
  sim: Simulator;
  ports: SimCameraPorts[];
  /** The simulated cameras by device id, to look at what the host wrote. */
  cameras: Map<string, SimCamera>;
}

/** Simulated cameras on real pseudo-terminals, stopped at teardown. */
export async function startSim(t: TapTest, cameras: number, faults: Record<number, { faults: SimCameraFault[]; options?: FaultOptions }> = {}): Promise<SimRig> {
  // Port links in a folder every user can traverse (tests run the CLI as another user too).
  const portDir = tempDir(t, 'bwc-tech-ports-');
  const sim = new Simulator({ cameras, seed: 7, portDir });
  const made = new Map<string, SimCamera>();
  let i = 0;
  sim.controlFactory = (c) => {
    const f = faults[i++];
    const cam = new SimCamera({ ...c, recordingPlan: 'off', ...(f ? { faults: f.faults, faultOptions: f.options } : {}) });
    made.set(c.deviceId, cam);
    return cam;
  };
  const ports = await sim.start();
  t.teardown(() => sim.stop());
  return { sim, ports, cameras: made };
}

export function tempDir(t: TapTest, name = 'bwc-tech-'): string {
  const dir = mkdtempSync(join(tmpdir(), name));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A configuration file with a comment of our own, to see it kept. */
export function writeConfig(dir: string, broker = 'mqtt://127.0.0.1:1883', extra = ''): string {
  const file = join(dir, 'agent.yaml');
  writeMinimalConfig({ broker, dataDir: join(dir, 'data'), out: file, agentId: 'gw-test' });
  if (extra) writeFileSync(file, readFileSync(file, 'utf8') + extra);
  return file;
}

export interface UsbPortSpec {
  name: string;
  target: string;
  vendorId: string;
  productId: string;
  serial: string;
  iface: string;
}

/**
 * A sysfs tree as the kernel lays it out for USB serial ports
 * (/sys/class/tty/NAME/device → the interface folder, whose parent holds
 * idVendor, idProduct, serial), with /dev/NAME a link to a simulated
 * camera's pseudo-terminal: USB discovery reads it exactly as real sysfs.
 */
export function fakeUsb(dir: string, ports: UsbPortSpec[]): { sysRoot: string; devRoot: string } {
  const sysRoot = join(dir, 'sys');
  const devRoot = join(dir, 'dev');
  mkdirSync(join(sysRoot, 'class', 'tty'), { recursive: true });
  mkdirSync(devRoot, { recursive: true });
  for (const p of ports) {
    const usbDev = join(sysRoot, 'devices', 'pci0000:00', 'usb1', `1-${p.serial}`);
    const ifaceDir = join(usbDev, `1-${p.serial}:1.${p.iface}`, p.name);
    mkdirSync(ifaceDir, { recursive: true });
    writeFileSync(join(usbDev, 'idVendor'), `${p.vendorId}\n`);
    writeFileSync(join(usbDev, 'idProduct'), `${p.productId}\n`);
    writeFileSync(join(usbDev, 'serial'), `${p.serial}\n`);
    writeFileSync(join(usbDev, 'manufacturer'), 'Sim Cameras\n');
    writeFileSync(join(usbDev, `1-${p.serial}:1.${p.iface}`, 'bInterfaceNumber'), `${p.iface}\n`);
    mkdirSync(join(sysRoot, 'class', 'tty', p.name), { recursive: true });
    symlinkSync(join(usbDev, `1-${p.serial}:1.${p.iface}`), join(sysRoot, 'class', 'tty', p.name, 'device'));
    symlinkSync(p.target, join(devRoot, p.name));
  }
  return { sysRoot, devRoot };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI as a separate process, as a technician or a script does. */
export function runCli(args: string[], opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    // Another user cannot write tap's process-info files, and tap adds its loader to
    // every child's environment: `env -i` starts that one with a plain environment.
    const [cmd, argv] =
      opts.uid !== undefined
        ? ['env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'LANG=C.UTF-8', ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`), process.execPath, agentCliFor(opts.uid), ...args]]
        : [process.execPath, [agentCli, ...args]];
    const child = spawn(cmd, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
