/** One import for what the device manager needs to open a port (same as index.ts, kept for its importers). */
export { parsePortSpec, formatPortSpec, type PortSpec } from './port-spec.js';
export { openTransport, type OpenTransportOptions } from './open-transport.js';
export { classifyError, type Transport } from './transport.js';
export { detectBaud } from './detect-baud.js';
