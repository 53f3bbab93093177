import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'stall';

/**
 * A TCP proxy between the agent and the broker, to break the link the ways
 * mobile networks do: `stall` (connections are accepted, bytes go nowhere
 * and nothing comes back: a broker that accepts TCP and never answers, or a
 * NAT that silently dropped the flow) and `reset()` (every open connection
 * is torn down with an RST, as a middlebox does).
 */
export class TcpProxy {
  mode: ProxyMode = 'pass';
  private server: Server | undefined;
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket; stalled: boolean }>();
  port = 0;
  accepted = 0;
  resets = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => this.onClient(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  private onClient(client: Socket): void {
    this.accepted++;
    client.on('error', () => {});
    const pair: { client: Socket; upstream?: Socket; stalled: boolean } = { client, stalled: this.mode === 'stall' };
    this.pairs.add(pair);
    // A stalled flow is silent to the end: one side giving up sends the other no FIN
    // (a broker then learns of the death only by its keepalive).
    client.on('close', () => {
      this.pairs.delete(pair);
      if (!pair.stalled) pair.upstream?.destroy();
    });
    if (pair.stalled) {
      // Swallow everything, answer nothing.
      client.on('data', () => {});
      return;
    }
    const upstream = connect(this.targetPort, '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', () => void (pair.stalled || client.destroy()));
    upstream.on('close', () => void (pair.stalled || client.destroy()));
    client.on('data', (d) => {
      if (!pair.stalled) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!pair.stalled) client.write(d);
    });
  }

  /** From now on nothing passes, on open connections and on new ones, not even a close. */
  stall(): void {
    this.mode = 'stall';
    for (const p of this.pairs) p.stalled = true;
  }

  /** New connections pass again; stalled ones stay dead until their ends give up. */
  resume(): void {
    this.mode = 'pass';
  }

  /** Tears down every open connection with an RST. */
  reset(): number {
    let n = 0;
    for (const p of this.pairs) {
      p.client.resetAndDestroy();
      p.upstream?.resetAndDestroy();
      n++;
    }
    this.resets += n;
    return n;
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
