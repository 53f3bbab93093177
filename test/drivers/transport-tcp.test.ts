import t from 'tap';
import { createServer, type Socket } from 'node:net';
import { countValidSentences } from '../../drivers/transport/nmea-checksum.js';
import { openTransport } from '../../drivers/transport/open-transport.js';
import { parsePortSpec } from '../../drivers/transport/port-spec.js';
import { Simulator } from '../../sim/simulator.js';
import { waitFor } from './wait-for.js';

t.test('tcp:// reads the simulator; unplug closes with a reason; replug on the same port works', async (t) => {
  const sim = new Simulator({ cameras: 2, transport: 'tcp', rateHz: 10, seed: 9 });
  const ports = await sim.start();
  t.teardown(() => sim.stop());
  t.match(ports[1]!.port, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const tr = await openTransport(parsePortSpec(ports[1]!.port));
  t.equal(tr.description, ports[1]!.port);
  let text = '';
  tr.stream.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await waitFor(() => countValidSentences(text) >= 10, 'NMEA over TCP');
  const reason = new Promise<string>((r) => tr.onClose(r));
  await sim.unplug('BWC-0002');
  t.match(await reason, /remote end closed|connection lost/);
  await t.rejects(openTransport(parsePortSpec(ports[1]!.port)), { code: 'PORT_UNREACHABLE' });
  await sim.replug('BWC-0002');
  const tr2 = await openTransport(parsePortSpec(ports[1]!.port));
  t.teardown(() => tr2.close());
  let text2 = '';
  tr2.stream.on('data', (d: Buffer) => (text2 += d.toString('latin1')));
  await waitFor(() => countValidSentences(text2) >= 10, 'NMEA after the replug');
});

t.test('a tcp server that hangs up closes the transport; close() by us says so', async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as { port: number }).port;
  const a = await openTransport({ kind: 'tcp', host: '127.0.0.1', port });
  await waitFor(() => sockets.length === 1, 'accepted');
  const why = new Promise<string>((r) => a.onClose(r));
  sockets[0]!.end();
  t.equal(await why, 'remote end closed the connection');
  const b = await openTransport({ kind: 'tcp', host: '127.0.0.1', port });
  const whyB = new Promise<string>((r) => b.onClose(r));
  await b.close();
  t.equal(await whyB, 'closed by agent');
});
