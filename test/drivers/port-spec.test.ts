import t from 'tap';
import { formatPortSpec, parsePortSpec } from '../../drivers/transport/port-spec.js';
import { isBwcError } from '../../common/errors.js';

t.test('device paths, tcp:// and gpsd:// are read', async (t) => {
  t.same(parsePortSpec('/dev/ttyUSB0'), { kind: 'serial', path: '/dev/ttyUSB0' });
  t.same(parsePortSpec('/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0'), { kind: 'serial', path: '/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0' });
  t.same(parsePortSpec(' /tmp/bwc-sim-x/BWC-0001-gnss '), { kind: 'serial', path: '/tmp/bwc-sim-x/BWC-0001-gnss' });
  t.same(parsePortSpec('tcp://127.0.0.1:4001'), { kind: 'tcp', host: '127.0.0.1', port: 4001 });
  t.same(parsePortSpec('TCP://gateway.local:23'), { kind: 'tcp', host: 'gateway.local', port: 23 });
  t.same(parsePortSpec('tcp://[::1]:9000'), { kind: 'tcp', host: '::1', port: 9000 });
  t.same(parsePortSpec('gpsd://localhost'), { kind: 'gpsd', host: 'localhost', port: 2947 });
  t.same(parsePortSpec('gpsd://10.1.2.3:2948'), { kind: 'gpsd', host: '10.1.2.3', port: 2948 });
});

t.test('formatPortSpec is the inverse', async (t) => {
  for (const s of ['/dev/ttyACM0', 'tcp://127.0.0.1:4001', 'gpsd://localhost:2947', 'tcp://[::1]:9000']) t.equal(formatPortSpec(parsePortSpec(s)), s);
});

t.test('bad ports are refused with BAD_PORT and a message naming the problem', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['udp://1.2.3.4:5', /unsupported scheme "udp/],
    ['tcp://host', /no TCP port/],
    ['tcp://:4001', /not a valid|no host/],
    ['tcp://host:0', /1-65535/],
    ['tcp://host:70000', /not a valid|1-65535/],
    ['tcp://host:12/path', /without a path/],
    ['gpsd://user@host:2947', /without a path, query or user/],
    ['/dev/tty\0USB0', /NUL/],
  ];
  for (const [text, why] of cases) {
    try {
      parsePortSpec(text);
      t.fail(`accepted ${JSON.stringify(text)}`);
    } catch (err) {
      t.ok(isBwcError(err, 'BAD_PORT'), `${JSON.stringify(text)} -> BAD_PORT`);
      t.match((err as Error).message, why);
    }
  }
});
