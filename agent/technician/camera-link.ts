import { openReferenceCamera } from '../../drivers/camera/reference-driver.js';
import type { CameraDriver, CameraIdentity, CameraStatus } from '../../drivers/camera/camera-driver.js';
import { openTransport, parsePortSpec, type Transport } from '../../drivers/transport/index.js';
import { BwcError, isBwcError } from '../../common/errors.js';

/** The reference control protocol runs at 115200 8N1 (drivers/camera/README.md). */
export const CONTROL_BAUD = 115_200;

export interface CameraLinkOptions {
  /** How long each answer may take (default 2000 ms: a technician is waiting). */
  timeoutMs?: number;
  openTimeoutMs?: number;
}

/**
 * Opens a camera's control port, runs `fn` with its driver and always closes
 * both again, so a technician command never leaves a port locked. Errors
 * come out as BwcErrors whose message says what to check.
 */
export async function withCamera<T>(port: string, fn: (cam: CameraDriver) => Promise<T>, opts: CameraLinkOptions = {}): Promise<T> {
  const transport = await openControl(port, opts.openTimeoutMs);
  const cam = openReferenceCamera(transport.stream, { timeoutMs: opts.timeoutMs ?? 2000 });
  try {
    return await fn(cam);
  } catch (err) {
    throw explainCameraError(port, err);
  } finally {
    await cam.close().catch(() => {});
    await transport.close().catch(() => {});
  }
}

export async function openControl(port: string, openTimeoutMs = 5000): Promise<Transport> {
  return openTransport(parsePortSpec(port), { baud: CONTROL_BAUD, openTimeoutMs });
}

/** Identity and status in one visit. */
export function identifyCamera(port: string, opts: CameraLinkOptions = {}): Promise<{ identity: CameraIdentity; status: CameraStatus }> {
  return withCamera(port, async (cam) => ({ identity: await cam.identify(), status: await cam.status() }), opts);
}

/** A timeout on the control channel means the port opened but nothing speaks our protocol there. */
export function explainCameraError(port: string, err: unknown): unknown {
  if (isBwcError(err, 'CAMERA_TIMEOUT')) {
    return new BwcError('CAMERA_TIMEOUT', `the camera on ${port} does not answer (${err.message}): check that it is switched on and that ${port} is its control port, not its GNSS port`, { cause: err });
  }
  if (isBwcError(err, 'CAMERA_CLOSED')) {
    return new BwcError('CAMERA_CLOSED', `the link to the camera on ${port} closed (${err.message}): check the cable and try again`, { cause: err });
  }
  return err;
}
