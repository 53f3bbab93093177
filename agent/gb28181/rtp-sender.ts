import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { frame4571 } from './rtp-packetizer.js';

/**
 * Where a session's RTP goes: a UDP peer (a connected socket, so an ICMP
 * port-unreachable from a vanished viewer surfaces as an error), or a TCP
 * connection with RFC 4571 framing that the device opens (the platform is
 * passive) or accepts (the platform is active). `gone` is called once when
 * the peer cannot be reached any more.
 */
export interface RtpSender {
  /** The local port to put in the SDP answer. */
  readonly localPort: number;
  send(packets: Buffer[]): void;
  /** Bytes queued and not yet written (TCP), to drop frames when the viewer is slow. */
  readonly backlog: number;
  close(): void;
}

export async function openUdpSender(o: { host: string; port: number; localHost: string; gone: (why: string) => void }): Promise<RtpSender> {
  const s: UdpSocket = createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, o.localHost, () => s.connect(o.port, o.host, () => (s.off('error', reject), resolve())));
  });
  let dead = false;
  const fail = (why: string) => {
    if (dead) return;
    dead = true;
    o.gone(why);
  };
  s.on('error', (err) => fail(`RTP peer ${o.host}:${o.port} unreachable: ${err.message}`));
  return {
    localPort: s.address().port,
    backlog: 0,
    send(packets) {
      if (dead) return;
      for (const p of packets) s.send(p, (err) => err && fail(`RTP peer ${o.host}:${o.port} unreachable: ${err.message}`));
    },
    close() {
      dead = true;
      try {
        s.close();
      } catch {
        // closed already
      }
    },
  };
}

/** TCP: connect to the platform (it is passive). */
export async function openTcpActiveSender(o: { host: string; port: number; localHost: string; gone: (why: string) => void; timeoutMs?: number }): Promise<RtpSender> {
  const sock = await new Promise<Socket>((resolve, reject) => {
    const c = connect({ host: o.host, port: o.port, localAddress: o.localHost === '0.0.0.0' ? undefined : o.localHost, timeout: o.timeoutMs ?? 5000 });
    c.once('connect', () => (c.setTimeout(0), c.off('error', reject), resolve(c)));
    c.once('timeout', () => (c.destroy(), reject(new Error(`RTP TCP connect to ${o.host}:${o.port} timed out`))));
    c.once('error', reject);
  });
  return tcpSender(sock, sock.localPort ?? 0, o.gone);
}

/**
 * TCP: listen and take the platform's connection (it is active). The port
 * is known at once (for the SDP answer); frames sent before the platform
 * connects are dropped, and the stream starts at the next keyframe.
 */
export async function openTcpPassiveSender(o: { localHost: string; gone: (why: string) => void; acceptTimeoutMs?: number }): Promise<RtpSender & { connected: Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, o.localHost, () => (server.off('error', reject), resolve()));
  });
  const port = (server.address() as { port: number }).port;
  let inner: RtpSender | undefined;
  let closed = false;
  const connected = new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.close();
      if (!closed) o.gone(`the platform did not connect to RTP port ${port} within ${(o.acceptTimeoutMs ?? 10_000) / 1000} s`);
    }, o.acceptTimeoutMs ?? 10_000);
    server.once('connection', (sock: Socket) => {
      clearTimeout(timer);
      server.close();
      inner = tcpSender(sock, port, o.gone);
      resolve();
    });
  });
  return {
    localPort: port,
    connected,
    get backlog() {
      return inner?.backlog ?? 0;
    },
    send(packets) {
      inner?.send(packets);
    },
    close() {
      closed = true;
      server.close();
      inner?.close();
    },
  };
}

function tcpSender(sock: Socket, localPort: number, gone: (why: string) => void): RtpSender {
  sock.setNoDelay(true);
  let dead = false;
  const fail = (why: string) => {
    if (dead) return;
    dead = true;
    gone(why);
  };
  sock.on('error', (err) => fail(`RTP TCP peer gone: ${err.message}`));
  sock.on('close', () => fail('RTP TCP peer closed the connection'));
  sock.on('data', () => {}); // RTCP or anything else from the platform: read and ignored
  return {
    localPort,
    get backlog() {
      return sock.writableLength;
    },
    send(packets) {
      if (dead) return;
      for (const p of packets) sock.write(frame4571(p));
    },
    close() {
      dead = true;
      sock.destroy();
    },
  };
}
