import type { SerialPort } from 'serialport';
import { BwcError } from '../../common/errors.js';
import { countValidSentences } from './nmea-checksum.js';
import { openSerialPort } from './serial-transport.js';
import { errorText } from './transport.js';

/** Time for a line to settle after a rate change; what arrives meanwhile is discarded. */
const SETTLE_MS = 150;

/** The rates GNSS receivers ship with, most common first for cameras (9600), then the rest. */
export const COMMON_BAUD_RATES = [4800, 9600, 38400, 115200];

export interface DetectBaudOptions {
  rates?: number[];
  /** How long to listen at each rate (default 2500 ms: a 1 Hz receiver sends several sentences in that time). */
  perRateMs?: number;
  /** Valid sentences needed to accept a rate (default 2: one could be luck). */
  needed?: number;
  openTimeoutMs?: number;
}

/**
 * Finds the rate a receiver sends at: listens at each rate in turn until
 * sentences with correct checksums arrive. At a wrong rate the UART delivers
 * framing garbage in which a valid `$…*hh` is vanishingly rare.
 * The port is opened once and re-rated in place (tcsetattr), then closed.
 */
export async function detectBaud(path: string, opts: DetectBaudOptions = {}): Promise<number> {
  const rates = opts.rates ?? COMMON_BAUD_RATES;
  const perRateMs = opts.perRateMs ?? 2500;
  const needed = opts.needed ?? 2;
  if (rates.length === 0) throw new BwcError('BAD_PORT', 'detectBaud needs at least one rate to try');
  const port = await openSerialPort(path, rates[0]!, opts.openTimeoutMs ?? 5000);
  port.on('error', () => {});
  const tried: string[] = [];
  try {
    for (const rate of rates) {
      if (!port.isOpen) throw new BwcError('PORT_CLOSED', `serial port ${path} closed while detecting its baud rate`);
      if (rate !== port.baudRate) await update(port, rate);
      // Bytes received at the previous rate are not evidence for this one,
      // nor are those in flight while the line settles at the new one.
      await flush(port);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      await flush(port);
      const valid = await listen(port, perRateMs, needed);
      if (valid >= needed) return rate;
      tried.push(`${rate} (${valid} valid)`);
    }
  } finally {
    if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }
  throw new BwcError('BAUD_NOT_FOUND', `no valid NMEA on ${path} at any rate tried: ${tried.join(', ')}; check the cable and that the receiver sends NMEA`);
}

function update(port: SerialPort, baudRate: number): Promise<void> {
  return new Promise((resolve, reject) =>
    port.update({ baudRate }, (err) => (err ? reject(new BwcError('PORT_OPEN_FAILED', `cannot set ${port.path} to ${baudRate} baud: ${errorText(err)}`, { cause: err })) : resolve())),
  );
}

function flush(port: SerialPort): Promise<void> {
  return new Promise((resolve) => port.flush(() => resolve()));
}

/** Collects bytes until `needed` valid sentences are seen or the time is up; returns the count. */
function listen(port: SerialPort, ms: number, needed: number): Promise<number> {
  return new Promise((resolve) => {
    let text = '';
    let valid = 0;
    const finish = (): void => {
      clearTimeout(timer);
      port.off('data', onData);
      port.off('close', finish);
      resolve(valid);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      valid = countValidSentences(text);
      if (valid >= needed) finish();
      // Keep memory bounded on a fast garbage stream; a sentence is < 100 bytes.
      if (text.length > 8192) text = text.slice(-512);
    };
    const timer = setTimeout(finish, ms);
    port.on('data', onData);
    port.once('close', finish);
  });
}
