import t from 'tap';
import { join } from 'node:path';
import { listUsbTtys } from '../../drivers/discovery/usb-tty.js';
import { UsbWatcher } from '../../drivers/discovery/usb-watcher.js';
import type { UsbTty } from '../../drivers/discovery/usb-tty.js';
import { waitFor } from './wait-for.js';
import { FakeSys } from '../helpers/fake-sysfs.js';

t.test('lists USB serial ports with ids, serial, names and interface; skips built-in and virtual ttys', async (t) => {
  const fs = new FakeSys();
  t.teardown(() => fs.remove());
  fs.builtIn();
  fs.usbSerial('ttyUSB0', '1-1', '00', { idVendor: '1a86', idProduct: '7523', product: 'USB Serial' });
  fs.acm('ttyACM0', '1-2', { idVendor: '2E3A', idProduct: '0005', serial: 'BWC123456', manufacturer: 'Shenzhen Cam', product: 'Body Camera' });
  fs.usbSerial('ttyUSB10', '1-3', '01', { idVendor: '0403', idProduct: '6015', serial: 'FT12AB' });
  fs.usbSerial('ttyUSB2', '1-4', '00', { idVendor: '10c4', idProduct: 'ea60' });
  fs.byId('usb-Shenzhen_Cam_Body_Camera_BWC123456-if00', 'ttyACM0');
  const list = listUsbTtys(fs.sys, fs.dev);
  t.same(list.map((x) => x.path), ['ttyACM0', 'ttyUSB0', 'ttyUSB2', 'ttyUSB10'].map((n) => join(fs.dev, n)), 'USB ports only, in natural order');
  t.same(list[0], {
    path: join(fs.dev, 'ttyACM0'),
    byId: join(fs.dev, 'serial', 'by-id', 'usb-Shenzhen_Cam_Body_Camera_BWC123456-if00'),
    vendorId: '2e3a',
    productId: '0005',
    serial: 'BWC123456',
    manufacturer: 'Shenzhen Cam',
    product: 'Body Camera',
    interface: '00',
  });
  t.same(list[1], { path: join(fs.dev, 'ttyUSB0'), vendorId: '1a86', productId: '7523', product: 'USB Serial', interface: '00' });
  t.equal(list[3]!.interface, '01');
  t.equal(list[3]!.serial, 'FT12AB');
});

t.test('a missing or foreign tree gives an empty list, never an exception', async (t) => {
  t.same(listUsbTtys('/nonexistent-sys', '/nonexistent-dev'), []);
  const fs = new FakeSys();
  t.teardown(() => fs.remove());
  fs.builtIn();
  t.same(listUsbTtys(fs.sys, fs.dev), []);
});

t.test('the real /sys of this machine is read without a crash', async (t) => {
  const list = listUsbTtys();
  t.ok(Array.isArray(list));
  for (const x of list) t.match(x, { path: /^\/dev\/tty/, vendorId: /^[0-9a-f]{4}$/, productId: /^[0-9a-f]{4}$/ });
});

t.test('the watcher reports cameras plugged in later and pulled out, filtered by vendor/product', async (t) => {
  const fs = new FakeSys();
  t.teardown(() => fs.remove());
  fs.usbSerial('ttyUSB0', '1-1', '00', { idVendor: '1a86', idProduct: '7523' });
  const w = new UsbWatcher({ sysRoot: fs.sys, devRoot: fs.dev, intervalMs: 100, match: [{ vendorId: '2E3A', productId: '0005' }, { vendorId: '0403' }] });
  const added: UsbTty[] = [];
  const removed: UsbTty[] = [];
  w.on('added', (x) => added.push(x));
  w.on('removed', (x) => removed.push(x));
  w.start();
  t.teardown(() => w.stop());
  t.same(added, [], 'the adapter that is not a camera is ignored');
  fs.acm('ttyACM0', '1-2', { idVendor: '2e3a', idProduct: '0005', serial: 'CAM1' });
  fs.usbSerial('ttyUSB1', '1-3', '00', { idVendor: '0403', idProduct: '6001', serial: 'FTDI1' });
  await waitFor(() => added.length === 2, 'two cameras added');
  t.same(added.map((a) => a.serial).sort(), ['CAM1', 'FTDI1']);
  const scans = w.scans;
  await waitFor(() => w.scans >= scans + 3, 'three more scans');
  t.equal(added.length, 2, 'no repeats while nothing changes');
  fs.unplug('ttyACM0', '1-2');
  await waitFor(() => removed.length === 1, 'camera removed');
  t.equal(removed[0]!.serial, 'CAM1');
  t.same(w.current().map((c) => c.serial), ['FTDI1']);
  // Another camera on the same node is a different device.
  fs.acm('ttyACM0', '1-2', { idVendor: '2e3a', idProduct: '0005', serial: 'CAM2' });
  await waitFor(() => added.length === 3, 'new camera on the same node');
  t.equal(added[2]!.serial, 'CAM2');
});

t.test('the default poll is 1 s, so a camera plugged in later is seen within 2 s', async (t) => {
  const w = new UsbWatcher({ sysRoot: '/nonexistent' });
  t.equal((w as unknown as { intervalMs: number }).intervalMs, 1000);
});
