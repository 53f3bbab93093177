import { connect, type Socket } from 'node:net';
import { BwcError } from '../../common/errors.js';
import { CloseSignal, errorText, type Transport } from './transport.js';

/** Connects to host:port and resolves with the connected socket, or a BwcError naming the address. */
export function connectTcp(host: string, port: number, openTimeoutMs: number, what = 'tcp'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = errorText(err);
      const code = /ECONNREFUSED/.test(text) ? 'PORT_UNREACHABLE' : /ENOTFOUND|EAI_AGAIN/.test(text) ? 'PORT_NOT_FOUND' : 'PORT_OPEN_FAILED';
      reject(new BwcError(code, `cannot connect to ${what}://${host}:${port}: ${text}`, { cause: err }));
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${openTimeoutMs} ms`)), openTimeoutMs);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.setNoDelay(true);
      // Notice a dead serial server (or a pulled network cable) within about a minute.
      socket.setKeepAlive(true, 15_000);
      resolve(socket);
    });
  });
}

/**
 * Watches a socket's end of life and turns it into one close reason.
 * Shared by the tcp:// and gpsd:// transports.
 */
export function watchSocket(socket: Socket, signal: CloseSignal, isClosingByUs: () => boolean): void {
  let lastError: Error | undefined;
  socket.on('error', (err) => {
    // Followed by 'close': only remember why.
    lastError = err;
  });
  socket.on('close', () => {
    if (isClosingByUs()) signal.fire('closed by agent');
    else if (lastError) signal.fire(`connection lost: ${errorText(lastError)}`);
    else signal.fire('remote end closed the connection');
  });
}

export async function openTcpTransport(host: string, port: number, openTimeoutMs: number): Promise<Transport> {
  const socket = await connectTcp(host, port, openTimeoutMs);
  return new SocketTransport(socket, socket, `tcp://${host}:${port}`);
}

/** A transport over a socket; `stream` may be the socket itself or a filter in front of it. */
export class SocketTransport implements Transport {
  private readonly signal = new CloseSignal();
  private closingByUs = false;

  constructor(private readonly socket: Socket, readonly stream: import('node:stream').Duplex, readonly description: string) {
    watchSocket(socket, this.signal, () => this.closingByUs);
    if (stream !== socket) stream.on('error', () => {});
  }

  get closed(): boolean {
    return this.signal.closed;
  }

  onClose(cb: (reason: string) => void): void {
    this.signal.on(cb);
  }

  close(): Promise<void> {
    this.closingByUs = true;
    if (this.signal.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.signal.on(() => resolve());
      this.socket.destroy();
      if (this.stream !== this.socket) this.stream.destroy();
    });
  }
}
