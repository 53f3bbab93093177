import t from 'tap';
import { SerialPort } from 'serialport';
import { openPtyPair } from '../../sim/pty-pair.js';
import { commandLine, descendants, running } from '../helpers/process-tree.js';

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

t.test('an unplug finishes when socat does not leave on SIGTERM: it is killed', async (t) => {
  const before = new Set(descendants(process.pid));
  const pair = await openPtyPair();
  const socat = descendants(process.pid).find((pid) => !before.has(pid) && commandLine(pid).includes(pair.hostSide));
  t.ok(socat, 'the pair has its socat');
  // A stopped process keeps SIGTERM pending for ever: only SIGKILL ends it.
  process.kill(socat!, 'SIGSTOP');
  const closing = pair.close().then(() => 'closed');
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([closing, new Promise((r) => (timer = setTimeout(() => r('still waiting after 30 s'), 30_000)))]);
  clearTimeout(timer);
  t.equal(outcome, 'closed', 'the unplug finished');
  t.notOk(running(socat!), 'socat is gone');
});
