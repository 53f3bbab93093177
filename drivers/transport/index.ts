/** Transports: how the agent gets one camera's bytes (serial path, tcp://, gpsd://). */
export { parsePortSpec, formatPortSpec, GPSD_DEFAULT_PORT, type PortSpec } from './port-spec.js';
export { classifyError, type Transport, type ErrorClass } from './transport.js';
export { openTransport, DEFAULT_BAUD, type OpenTransportOptions } from './open-transport.js';
export { detectBaud, COMMON_BAUD_RATES, type DetectBaudOptions } from './detect-baud.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { countValidSentences } from './nmea-checksum.js';
