import { createServer, connect, type Server } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { varintSize } from '../../protocol/bytes-codec.js';

export interface CapturedPublish {
  /** The whole PUBLISH packet: fixed header, remaining length, variable header, payload. */
  bytes: number;
  payload: number;
  /** Topic name with its 2-byte length, plus 3 for a topic alias property. */
  topicCost: number;
  topic: string;
  alias: number | undefined;
  firstByte: number;
}

export interface Capture {
  publishes: CapturedPublish[];
}

/**
 * A TCP proxy in front of a broker that parses what the client sends and
 * records every PUBLISH as it went on the wire (topic or alias, sizes), for
 * tests and benchmarks that count bytes.
 */
export async function countingProxy(targetPort: number, protocolVersion: 4 | 5): Promise<{ server: Server; port: number; capture: Capture }> {
  const capture: Capture = { publishes: [] };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (p) => {
      if (p.cmd !== 'publish') return;
      const payload = p.payload as Buffer;
      const remaining = p.length ?? 0;
      const alias = (p.properties as { topicAlias?: number } | undefined)?.topicAlias;
      capture.publishes.push({
        bytes: 1 + varintSize(remaining) + remaining,
        payload: payload.length,
        topicCost: 2 + Buffer.byteLength(p.topic) + (alias !== undefined ? 3 : 0),
        topic: String(p.topic),
        alias,
        firstByte: payload[0] ?? 0,
      });
    });
    client.on('data', (d) => {
      parser.parse(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => client.write(d));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, capture };
}
