import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { BwcError } from '../../common/errors.js';
import { connectTcp, SocketTransport } from './tcp-transport.js';
import type { Transport } from './transport.js';

/** gpsd's watch request for raw NMEA: its JSON reports are then left out and sentences pass as sent. */
export const GPSD_WATCH_NMEA = '?WATCH={"enable":true,"nmea":true};\n';
/** A line longer than this is not NMEA nor a gpsd report worth keeping. */
const MAX_LINE = 4096;

/**
 * Reads NMEA from a gpsd that already owns the receiver (as many gateways
 * run it): connect, check that gpsd greets with its VERSION report, ask for
 * NMEA, and pass the sentences through so that the same NMEA decoder handles
 * them as from a serial port. gpsd's own JSON lines are dropped.
 */
export async function openGpsdTransport(host: string, port: number, openTimeoutMs: number): Promise<Transport> {
  const socket = await connectTcp(host, port, openTimeoutMs, 'gpsd');
  const leftover = await awaitGreeting(socket, host, port, openTimeoutMs);
  const stream = new GpsdNmeaStream(socket, leftover);
  socket.write(GPSD_WATCH_NMEA);
  return new SocketTransport(socket, stream, `gpsd://${host}:${port}`);
}

/** Waits for `{"class":"VERSION",…}`; returns the bytes that followed it. */
function awaitGreeting(socket: Socket, host: string, port: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err?: BwcError, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(rest!);
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      if (nl < 0) {
        if (buf.length > MAX_LINE) done(new BwcError('GPSD_PROTOCOL', `gpsd://${host}:${port} does not speak the gpsd protocol (no VERSION line)`));
        return;
      }
      const line = buf.subarray(0, nl).toString('utf8').trim();
      let version: unknown;
      try {
        version = JSON.parse(line);
      } catch {
        version = undefined;
      }
      if ((version as { class?: unknown } | undefined)?.class !== 'VERSION') {
        done(new BwcError('GPSD_PROTOCOL', `gpsd://${host}:${port} does not speak the gpsd protocol: first line was ${JSON.stringify(line.slice(0, 80))}`));
        return;
      }
      done(undefined, buf.subarray(nl + 1));
    };
    const onClose = (): void => done(new BwcError('GPSD_PROTOCOL', `gpsd://${host}:${port} closed the connection before greeting`));
    const onError = (err: Error): void => done(new BwcError('PORT_OPEN_FAILED', `gpsd://${host}:${port}: ${err.message}`, { cause: err }));
    const timer = setTimeout(() => done(new BwcError('PORT_TIMEOUT', `gpsd://${host}:${port} sent no VERSION greeting within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

/**
 * The readable side yields every line of gpsd's output that is not one of
 * its JSON reports (those start with `{`), each ended by CRLF, so that the
 * NMEA framer sees the receiver's sentences (and any junk) as sent; writes are accepted and dropped
 * (a watcher cannot talk to the receiver). Backpressure pauses the socket.
 */
export class GpsdNmeaStream extends Duplex {
  private pending = '';
  /** gpsd JSON lines seen (reports, errors); not passed on. */
  reports = 0;
  lastError: string | undefined;

  constructor(private readonly socket: Socket, leftover: Buffer) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => this.ingest(chunk));
    socket.on('end', () => this.push(null));
    socket.on('close', () => {
      if (!this.readableEnded) this.push(null);
    });
    if (leftover.length) queueMicrotask(() => this.ingest(leftover));
  }

  private ingest(chunk: Buffer): void {
    // latin1 keeps every byte as one char, so junk survives to the NMEA framer unchanged.
    this.pending += chunk.toString('latin1');
    let nl: number;
    let out = '';
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).replace(/\r$/, '');
      this.pending = this.pending.slice(nl + 1);
      if (line.startsWith('{')) {
        this.reports++;
        if (line.includes('"class":"ERROR"')) this.lastError = line;
        continue;
      }
      if (line.length > 0) out += line + '\r\n';
    }
    if (this.pending.length > MAX_LINE) this.pending = '';
    if (out && !this.push(Buffer.from(out, 'latin1'))) this.socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(_chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
