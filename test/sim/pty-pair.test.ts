import t from 'tap';
import { SerialPort } from 'serialport';
import { openPtyPair } from '../../sim/pty-pair.js';

function openPort(path: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const p = new SerialPort({ path, baudRate: 9600 }, (err) => (err ? reject(err) : resolve(p)));
  });
}

t.test('bytes written on the camera side arrive on the host side, and an unplug closes the host port', async (t) => {
  const pair = await openPtyPair();
  t.teardown(() => pair.close());
  const host = await openPort(pair.hostSide);
  const camera = await openPort(pair.cameraSide);
  const received: Buffer[] = [];
  host.on('data', (d: Buffer) => received.push(d));
  const closedOnUnplug = new Promise<void>((resolve) => host.once('close', () => resolve()));
  host.on('error', () => {});
  camera.on('error', () => {});
  camera.write('$GPGGA,hello*00\r\n');
  while (Buffer.concat(received).length < 17) await new Promise((r) => setTimeout(r, 10));
  t.equal(Buffer.concat(received).toString(), '$GPGGA,hello*00\r\n');
  await pair.close();
  await closedOnUnplug;
  t.ok(host.closed || !host.isOpen, 'host port is closed after the unplug');
  if (camera.isOpen) camera.close();
});
