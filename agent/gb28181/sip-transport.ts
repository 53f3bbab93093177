import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { parseSip, serializeSip, SipParseError, type SipMessage } from './sip-message.js';
import { SipStreamFramer } from './sip-stream-framer.js';

export interface Peer {
  host: string;
  port: number;
}

/**
 * The SIP socket towards the platform: one UDP socket (requests from the
 * platform may come from any address and are answered there), or one TCP
 * connection opened by the device and reopened on demand after it closes.
 * Emits 'message' (msg, from) and 'bad' (SipParseError, from, raw).
 */
export class SipTransport extends EventEmitter {
  private udp: UdpSocket | undefined;
  private tcp: Socket | undefined;
  private tcpConnecting: Promise<Socket> | undefined;
  localPort = 0;
  /** The address the platform sees: for Via, Contact and SDP. */
  advertisedHost = '127.0.0.1';
  private closed = false;

  constructor(
    readonly o: { transport: 'UDP' | 'TCP'; server: Peer; localHost: string; localPort: number; advertisedHost?: string; log: Logger },
  ) {
    super();
  }

  get proto(): 'UDP' | 'TCP' {
    return this.o.transport;
  }

  async open(): Promise<void> {
    this.advertisedHost = this.o.advertisedHost ?? (await routeAddress(this.o.server, this.o.localHost));
    if (this.o.transport === 'UDP') {
      const s = createSocket({ type: this.o.server.host.includes(':') ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(this.o.localPort, this.o.localHost, () => {
          s.off('error', reject);
          resolve();
        });
      });
      s.on('error', (err) => this.o.log.warn({ err: err.message }, 'SIP UDP socket error'));
      s.on('message', (raw, rinfo) => this.receive(raw, { host: rinfo.address, port: rinfo.port }));
      this.udp = s;
      this.localPort = s.address().port;
    } else {
      this.localPort = this.o.localPort;
      await this.tcpSocket();
    }
  }

  private receive(raw: Buffer, from: Peer): void {
    if (raw.length <= 4 && raw.toString('latin1').trim() === '') return; // CRLF keepalive
    try {
      this.emit('message', parseSip(raw), from);
    } catch (err) {
      if (err instanceof SipParseError) this.emit('bad', err, from, raw);
      else throw err;
    }
  }

  private tcpSocket(): Promise<Socket> {
    if (this.tcp && !this.tcp.destroyed) return Promise.resolve(this.tcp);
    this.tcpConnecting ??= new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: this.o.server.host, port: this.o.server.port, localAddress: this.o.localHost === '0.0.0.0' ? undefined : this.o.localHost, localPort: this.o.localPort || undefined });
      const from = { host: this.o.server.host, port: this.o.server.port };
      const framer = new SipStreamFramer(
        (m) => this.emit('message', m, from),
        (err) => this.emit('bad', err, from, Buffer.alloc(0)),
      );
      s.once('connect', () => {
        s.off('error', reject);
        s.setNoDelay(true);
        this.localPort = s.localPort ?? 0;
        this.tcp = s;
        this.tcpConnecting = undefined;
        s.on('error', (err) => this.o.log.warn({ err: err.message }, 'SIP TCP connection error'));
        resolve(s);
      });
      s.once('error', (err) => {
        this.tcpConnecting = undefined;
        reject(err);
      });
      s.on('data', (chunk: Buffer) => {
        try {
          framer.push(chunk);
        } catch (err) {
          this.o.log.warn({ err: (err as Error).message }, 'SIP TCP stream unreadable: closing the connection');
          s.destroy();
        }
      });
      s.on('close', () => {
        if (this.tcp === s) this.tcp = undefined;
        if (!this.closed) this.o.log.info('SIP TCP connection closed; reopened with the next request');
      });
    });
    return this.tcpConnecting;
  }

  /** Requests go to the server; responses go to where the request came from (rport behaviour). */
  async send(m: SipMessage, to: Peer = this.o.server): Promise<void> {
    if (this.closed) throw new Error('SIP transport closed');
    const bytes = serializeSip(m);
    if (this.udp) {
      await new Promise<void>((resolve, reject) => this.udp!.send(bytes, to.port, to.host, (err) => (err ? reject(err) : resolve())));
    } else {
      const s = await this.tcpSocket();
      await new Promise<void>((resolve, reject) => s.write(bytes, (err) => (err ? reject(err) : resolve())));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.udp?.close();
    this.tcp?.destroy();
  }
}

/** The local address of the route towards the server (what the platform will see), via a connected UDP socket. */
async function routeAddress(server: Peer, localHost: string): Promise<string> {
  if (localHost !== '0.0.0.0' && localHost !== '::') return localHost;
  const s = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.connect(server.port, server.host, () => resolve());
    });
    return s.address().address;
  } catch {
    return '127.0.0.1';
  } finally {
    s.close();
  }
}
