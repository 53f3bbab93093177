import t from 'tap';
import type { TapTest } from '../helpers/tap-test.js';
import { createServer, type Server, type Socket } from 'node:net';
import { openTransport } from '../../drivers/transport/open-transport.js';
import { GPSD_WATCH_NMEA } from '../../drivers/transport/gpsd-transport.js';
import { NmeaWriter } from '../../sim/gnss/nmea-writer.js';
import { Patrol } from '../../sim/gnss/patrol.js';
import { waitFor } from './wait-for.js';

/**
 * A small gpsd stand-in speaking the start of the gpsd protocol: VERSION on
 * connect, DEVICES and WATCH after ?WATCH, then the receiver's NMEA mixed
 * with JSON reports, as gpsd sends with "nmea":true.
 */
async function fakeGpsd(t: TapTest, opts: { greeting?: string } = {}): Promise<{ port: number; received: string[]; clients: Socket[] }> {
  const received: string[] = [];
  const clients: Socket[] = [];
  const server: Server = createServer((s) => {
    clients.push(s);
    s.on('error', () => {});
    s.write((opts.greeting ?? '{"class":"VERSION","release":"3.22","rev":"3.22","proto_major":3,"proto_minor":14}') + '\r\n');
    s.on('data', (d: Buffer) => {
      received.push(d.toString());
      if (!d.toString().startsWith('?WATCH=')) return;
      s.write('{"class":"DEVICES","devices":[{"class":"DEVICE","path":"/dev/ttyUSB0","bps":9600}]}\r\n{"class":"WATCH","enable":true,"json":false,"nmea":true}\r\n');
      const patrol = new Patrol({ seed: 4 });
      const writer = new NmeaWriter({ seed: 4 });
      let n = 0;
      const timer = setInterval(() => {
        const f = patrol.next();
        // A JSON report in the middle, split across two writes, must not leak into the NMEA.
        const epoch = writer.epochText(f.timeMs, f);
        s.write(epoch.slice(0, 30));
        s.write(epoch.slice(30) + (n++ % 2 ? '{"class":"DEVICE","path":"/dev/ttyUSB0",' : '') );
        if (n % 2 === 0) s.write('"activated":"x"}\r\n');
      }, 20);
      s.on('close', () => clearInterval(timer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const c of clients) c.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as { port: number }).port, received, clients };
}

t.test('gpsd:// asks for NMEA and passes only the sentences through', async (t) => {
  const g = await fakeGpsd(t);
  const tr = await openTransport({ kind: 'gpsd', host: '127.0.0.1', port: g.port });
  t.teardown(() => tr.close());
  t.equal(tr.description, `gpsd://127.0.0.1:${g.port}`);
  let text = '';
  tr.stream.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await waitFor(() => (text.match(/\$GNRMC/g) ?? []).length >= 5, 'five RMC sentences');
  t.same(g.received, [GPSD_WATCH_NMEA], 'the watch request was sent once');
  t.notMatch(text, /class|\{/, 'no gpsd JSON in the stream');
  const lines = text.split('\r\n').filter((l) => l);
  t.ok(lines.every((l) => /^\$[A-Z]{5},.*\*[0-9A-F]{2}$/.test(l)), 'every line a whole sentence');
  const why = new Promise<string>((r) => tr.onClose(r));
  for (const c of g.clients) c.destroy();
  t.match(await why, /remote end closed|connection lost/);
});

t.test('a server that is not gpsd is refused with GPSD_PROTOCOL', async (t) => {
  const g = await fakeGpsd(t, { greeting: 'SSH-2.0-OpenSSH_9.2' });
  await t.rejects(openTransport({ kind: 'gpsd', host: '127.0.0.1', port: g.port }), { code: 'GPSD_PROTOCOL', message: /SSH-2.0/ });
});

t.test('nobody listening: PORT_UNREACHABLE', async (t) => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  await t.rejects(openTransport({ kind: 'gpsd', host: '127.0.0.1', port }), { code: 'PORT_UNREACHABLE' });
});
