import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { settledWithin } from '../../common/within.js';
import { openPtyPair, type PtyPair } from '../pty-pair.js';

/**
 * The camera's end of one port, as the simulator serves it: a pseudo-terminal
 * pair (the agent opens `address`, the host side) or a TCP server on
 * 127.0.0.1. Unplug makes the port vanish (pty gone, or server closed and
 * clients cut); replug brings it back at the same address.
 */
export interface PortEndpoint {
  /** What the agent opens: a pty path or tcp://127.0.0.1:N. Stable across unplug/replug. */
  readonly address: string;
  readonly plugged: boolean;
  plug(): Promise<void>;
  unplug(): Promise<void>;
  /**
   * Sends bytes to whoever is on the host side. Returns false (nothing sent)
   * while unplugged or while the line is backed up, as a UART drops bytes
   * nobody reads; `done` runs once the bytes left (only if sent).
   */
  write(data: string | Buffer, done?: () => void): boolean;
  /** Each camera-side stream as it appears (a pty open, a TCP client): for a request/response server. */
  onStream(cb: (stream: Duplex) => void): void;
}

/** How long an unplug waits for the camera side's close. */
const CLOSE_WAIT_MS = 5000;

/** Past this many queued bytes the reader is not keeping up: drop, do not queue without bound. */
const BACKLOG_LIMIT = 16 * 1024;

export class PtyEndpoint implements PortEndpoint {
  private pair: PtyPair | undefined;
  private port: SerialPort | undefined;
  private readonly listeners: Array<(s: Duplex) => void> = [];

  constructor(readonly address: string, private readonly cameraSide: string) {}

  get plugged(): boolean {
    return this.port !== undefined;
  }

  async plug(): Promise<void> {
    if (this.pair) return;
    this.pair = await openPtyPair({ hostSide: this.address, cameraSide: this.cameraSide });
    const port = await new Promise<SerialPort>((resolve, reject) => {
      const p: SerialPort = new SerialPort({ path: this.cameraSide, baudRate: 115200, lock: false }, (err) => (err ? reject(err) : resolve(p)));
    });
    // Unplug makes the camera side fail too: expected, never fatal.
    port.on('error', () => {});
    port.on('close', () => {
      if (this.port === port) this.port = undefined;
    });
    this.port = port;
    for (const cb of this.listeners) cb(port);
  }

  async unplug(): Promise<void> {
    const pair = this.pair, port = this.port;
    this.pair = undefined;
    this.port = undefined;
    // socat first: closing a tty that still has output queued blocks in close()
    // (the kernel waits for it to drain) and would hold a libuv thread for up to 30 s.
    await pair?.close();
    // The camera side is gone with socat; its close (on a libuv thread) is waited for only so
    // long: a close that blocks must not make the unplug hang.
    if (port?.isOpen) await settledWithin(CLOSE_WAIT_MS, new Promise<void>((r) => port.close(() => r())));
  }

  write(data: string | Buffer, done?: () => void): boolean {
    const port = this.port;
    if (!port || !port.isOpen || port.writableLength > BACKLOG_LIMIT) return false;
    port.write(data, (err) => {
      if (!err) done?.();
    });
    return true;
  }

  onStream(cb: (stream: Duplex) => void): void {
    this.listeners.push(cb);
    if (this.port) cb(this.port);
  }
}

export class TcpEndpoint implements PortEndpoint {
  private server: Server | undefined;
  private port = 0;
  private readonly clients = new Set<Socket>();
  private readonly listeners: Array<(s: Duplex) => void> = [];

  get address(): string {
    return `tcp://127.0.0.1:${this.port}`;
  }

  get plugged(): boolean {
    return this.server !== undefined;
  }

  async plug(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => {});
      this.clients.add(socket);
      socket.on('close', () => this.clients.delete(socket));
      for (const cb of this.listeners) cb(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The first plug takes a free port; a replug takes the same one again.
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {});
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async unplug(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  write(data: string | Buffer, done?: () => void): boolean {
    let sent = false;
    for (const c of this.clients) {
      if (c.destroyed || c.writableLength > BACKLOG_LIMIT) continue;
      c.write(data);
      sent = true;
    }
    if (sent) done?.();
    return sent;
  }

  onStream(cb: (stream: Duplex) => void): void {
    this.listeners.push(cb);
  }
}
