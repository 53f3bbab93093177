import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import t from 'tap';
import type { CameraIdentity } from '../../drivers/camera/camera-driver.js';
import { openReferenceCamera, type ReferenceCameraOptions } from '../../drivers/camera/reference-driver.js';
import { openPtyPair, type PtyPair } from '../../sim/pty-pair.js';
import { SimCamera, type SimCameraOptions } from '../../sim/camera/sim-camera.js';
import { loadScaled } from '../helpers/deadline.js';

/** A simulated camera and the reference driver on the two ends of a real pseudo-terminal pair. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

export const IDENTITY: CameraIdentity = {
  serial: 'A1B2C3D', model: 'DSJ-SIM1', firmware: '1.4.2', officerNumber: '123456',
  officerName: 'Li Lei', unitNumber: '330281000001', unitName: 'Yuyao Enforcement',
};

export function openPort(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const p = new SerialPort({ path, baudRate: 115200 }, (err) => (err ? reject(err) : resolve(p)));
  });
}

export interface Rig {
  pair: PtyPair;
  sim: SimCamera;
  host: SerialPort;
  camera: SerialPort;
  driver: ReturnType<typeof openReferenceCamera>;
  footageDir: string;
}

export async function openRig(t: Tap, sim: Partial<SimCameraOptions> = {}, driver: ReferenceCameraOptions = {}): Promise<Rig> {
  const footageDir = mkdtempSync(join(tmpdir(), 'bwc-footage-'));
  const pair = await openPtyPair();
  const host = await openPort(pair.hostSide);
  const camera = await openPort(pair.cameraSide);
  host.on('error', () => {});
  camera.on('error', () => {});
  const cam = new SimCamera({ deviceId: 'BWC-0001', identity: IDENTITY, footageDir, seed: 7, recordingPlan: 'off', footageFps: 5, ...sim });
  cam.serve(camera);
  // A request's answer is awaited long enough for a loaded machine; tests of the timeout itself pass their own.
  const drv = openReferenceCamera(host, { timeoutMs: loadScaled(10_000), ...driver });
  t.teardown(async () => {
    await drv.close();
    await cam.stop();
    if (camera.isOpen) await new Promise((r) => camera.close(() => r(undefined)));
    await pair.close();
    rmSync(footageDir, { recursive: true, force: true });
  });
  return { pair, sim: cam, host, camera, driver: drv, footageDir };
}
