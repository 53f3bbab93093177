import { BwcError } from '../../common/errors.js';
import { detectBaud } from './detect-baud.js';
import { openGpsdTransport } from './gpsd-transport.js';
import type { PortSpec } from './port-spec.js';
import { openSerialTransport } from './serial-transport.js';
import { openTcpTransport } from './tcp-transport.js';
import type { Transport } from './transport.js';

export interface OpenTransportOptions {
  /** Serial only: a fixed rate, or 'auto' to detect it. The spec's own baud wins over this. Default 9600. */
  baud?: number | 'auto';
  /** How long opening (or connecting) may take, ms (default 5000). */
  openTimeoutMs?: number;
}

export const DEFAULT_BAUD = 9600;

/**
 * Opens one camera's byte stream. Fails with a BwcError (PORT_NOT_FOUND,
 * PORT_BUSY, PORT_ACCESS, PORT_UNREACHABLE, PORT_TIMEOUT, GPSD_PROTOCOL,
 * BAUD_NOT_FOUND …); never retries: that is the device manager's job.
 */
export async function openTransport(spec: PortSpec, opts: OpenTransportOptions = {}): Promise<Transport> {
  const openTimeoutMs = opts.openTimeoutMs ?? 5000;
  switch (spec.kind) {
    case 'serial': {
      let baud = spec.baud ?? opts.baud ?? DEFAULT_BAUD;
      if (baud === 'auto') baud = await detectBaud(spec.path, { openTimeoutMs });
      if (!Number.isInteger(baud) || baud <= 0) throw new BwcError('BAD_PORT', `baud rate for ${spec.path} must be a positive integer or "auto", got ${JSON.stringify(baud)}`);
      return openSerialTransport(spec.path, baud, openTimeoutMs);
    }
    case 'tcp':
      return openTcpTransport(spec.host, spec.port, openTimeoutMs);
    case 'gpsd':
      return openGpsdTransport(spec.host, spec.port, openTimeoutMs);
    default:
      throw new BwcError('BAD_PORT', `unknown port kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`);
  }
}
