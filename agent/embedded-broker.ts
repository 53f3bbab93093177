import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';

/**
 * An in-process MQTT broker (aedes) for the demo, so that a newcomer sees the
 * whole chain work with one command. aedes speaks MQTT 3.1.1 only: the
 * agent's fallback from MQTT 5 is what lets it connect. Not for production.
 */
export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(port = 0, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `mqtt://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        broker.close(() => undefined);
      }),
  };
}
