import { BwcError } from '../../common/errors.js';

/** Where a camera's byte stream comes from (see parsePortSpec for the text forms). */
export type PortSpec =
  | { kind: 'serial'; path: string; baud?: number }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'gpsd'; host: string; port: number };

export const GPSD_DEFAULT_PORT = 2947;

/**
 * Reads a port as written in configuration or on the command line:
 * - a device path: `/dev/ttyUSB0`, `/dev/ttyACM0`, `/dev/serial/by-id/…`, or any path (a pty symlink);
 * - `tcp://host:port`: a serial-over-IP server or the simulator;
 * - `gpsd://host[:port]`: NMEA from a gpsd that owns the receiver (default port 2947).
 */
export function parsePortSpec(text: string): PortSpec {
  if (typeof text !== 'string' || text.trim() === '') throw new BwcError('BAD_PORT', 'port is empty: give a device path such as /dev/ttyUSB0, tcp://host:port or gpsd://host:port');
  const s = text.trim();
  if (s.includes('\0')) throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)} contains a NUL byte`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(s);
  if (!scheme) return { kind: 'serial', path: s };

  const kind = scheme[1]!.toLowerCase();
  if (kind !== 'tcp' && kind !== 'gpsd') {
    throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)}: unsupported scheme "${kind}://" (use a device path, tcp://host:port or gpsd://host:port)`);
  }
  let url: URL;
  try {
    url = new URL(s);
  } catch (err) {
    throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)} is not a valid ${kind}:// address (expected ${kind}://host:port)`, { cause: err });
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)} has no host (expected ${kind}://host:port)`);
  if ((url.pathname && url.pathname !== '/') || url.search || url.hash || url.username) {
    throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)}: only ${kind}://host:port is accepted, without a path, query or user`);
  }
  let port: number;
  if (url.port === '') {
    if (kind === 'tcp') throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)} has no TCP port number (expected tcp://host:port)`);
    port = GPSD_DEFAULT_PORT;
  } else {
    port = Number(url.port);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new BwcError('BAD_PORT', `port ${JSON.stringify(s)}: TCP port must be 1-65535`);
  return { kind, host, port };
}

/** The text form of a spec (inverse of parsePortSpec). */
export function formatPortSpec(spec: PortSpec): string {
  if (spec.kind === 'serial') return spec.path;
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  return `${spec.kind}://${host}:${spec.port}`;
}
