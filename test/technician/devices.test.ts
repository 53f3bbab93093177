import t from 'tap';
import { join } from 'node:path';
import { fakeUsb, runCli, startSim, tempDir, writeConfig } from './rig.js';
import { FakeSys } from '../helpers/fake-sysfs.js';

const CAMERA_USB = { vendorId: '1a86', productId: '55d4' };
const DISCOVERY = '\ndiscovery:\n  usb:\n    - vendorId: "1a86"\n      productId: "55d4"\n';

t.test('devices: cameras on USB with their GNSS port, a silent camera, and ports of other makers left alone', async (t) => {
  // Camera 1 answers; camera 2 has its control channel silent (a hung firmware).
  const rig = await startSim(t, 2, { 1: { faults: ['silent'] } });
  const dir = tempDir(t);
  const [a, b] = rig.ports;
  const usb = fakeUsb(dir, [
    { name: 'ttyUSB0', target: a!.port, ...CAMERA_USB, serial: 'CAM1', iface: '00' },
    { name: 'ttyUSB1', target: a!.control, ...CAMERA_USB, serial: 'CAM1', iface: '01' },
    { name: 'ttyUSB2', target: b!.control, ...CAMERA_USB, serial: 'CAM2', iface: '01' },
    // Another maker's adapter: not probed (nothing is written to it).
    { name: 'ttyUSB3', target: b!.port, vendorId: '0403', productId: '6001', serial: 'FTDI', iface: '00' },
  ]);
  const config = writeConfig(dir, 'mqtt://127.0.0.1:1883', DISCOVERY);
  const r = await runCli(['devices', '--json', '--config', config, '--sys-root', usb.sysRoot, '--dev-root', usb.devRoot, '--timeout', '3000']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.equal(doc.cameras.length, 1, 'one camera answers');
  const cam = doc.cameras[0];
  t.equal(cam.port, join(usb.devRoot, 'ttyUSB1'), 'its control port');
  t.equal(cam.gnss, join(usb.devRoot, 'ttyUSB0'), 'its GNSS port, found beside it on the same USB device');
  t.match(cam.usb, { vendorId: '1a86', productId: '55d4', serial: 'CAM1', manufacturer: 'Sim Cameras' });
  t.same(cam.identity, rig.cameras.get(a!.device)!.identity, 'identity read over the control channel');
  t.equal(cam.recording, 'off');
  t.type(cam.batteryPct, 'number');
  t.equal(doc.unanswered.length, 1, 'the silent camera is listed as not answering');
  t.equal(doc.unanswered[0].port, join(usb.devRoot, 'ttyUSB2'));
  t.match(doc.unanswered[0].reason, /does not answer/);
  t.notOk(JSON.stringify(doc).includes('ttyUSB3'), 'a port of another USB vendor is not probed');

  const human = await runCli(['devices', '--config', config, '--sys-root', usb.sysRoot, '--dev-root', usb.devRoot, '--timeout', '3000']);
  t.equal(human.code, 0);
  t.match(human.stdout, /camera YY00001/);
  t.match(human.stdout, /not answering .*ttyUSB2/);
});

t.test('devices: a camera\'s UVC video node listed beside its serial port, ready for devices[].video', async (t) => {
  const rig = await startSim(t, 1);
  const [a] = rig.ports;
  const fs = new FakeSys();
  t.teardown(() => fs.remove());
  // One USB camera: its control channel on a serial interface, its picture on a UVC interface.
  const ids = { idVendor: '1a86', idProduct: '55d4', serial: 'CAM1', manufacturer: 'Sim Cameras' };
  fs.usbSerial('ttyUSB0', '1-3', '01', ids, a!.control);
  fs.uvc('video0', '1-3', '02', 0, ids, 'Body Camera');
  fs.uvc('video1', '1-3', '02', 1, ids, 'Body Camera'); // UVC's metadata node: no pictures
  fs.platformVideo('video2'); // not on USB
  const config = writeConfig(tempDir(t), 'mqtt://127.0.0.1:1883', DISCOVERY);
  const r = await runCli(['devices', '--json', '--config', config, '--sys-root', fs.sys, '--dev-root', fs.dev, '--timeout', '3000']);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.equal(doc.cameras.length, 1, 'the camera answers on its serial port');
  t.equal(doc.cameras[0].port, join(fs.dev, 'ttyUSB0'));
  t.same(doc.video, [{
    path: join(fs.dev, 'video0'), index: 0, capture: true, vendorId: '1a86', productId: '55d4', usbPort: '1-3',
    spec: `v4l2:${join(fs.dev, 'video0')}`, name: 'Body Camera', serial: 'CAM1', manufacturer: 'Sim Cameras', interface: '02',
  }], 'its capture node only: not the metadata node, not the platform camera');

  const human = await runCli(['devices', '--config', config, '--sys-root', fs.sys, '--dev-root', fs.dev, '--timeout', '3000']);
  t.equal(human.code, 0);
  t.match(human.stdout, /camera YY00001/);
  t.ok(human.stdout.includes(`video ${join(fs.dev, 'video0')}  usb 1a86:55d4  Body Camera  (devices[].video: v4l2:${join(fs.dev, 'video0')})`), 'a line names the node, its USB ids and what to write in devices[].video');
  t.notOk(human.stdout.includes('video1') || human.stdout.includes('video2'), 'and no line for the other nodes');
});

t.test('devices: no camera says so and what to check', async (t) => {
  const dir = tempDir(t);
  const usb = fakeUsb(dir, []);
  const json = await runCli(['devices', '--json', '--sys-root', usb.sysRoot, '--dev-root', usb.devRoot]);
  t.equal(json.code, 0);
  t.same(JSON.parse(json.stdout), { cameras: [], gnssOnly: [], unanswered: [], video: [] });
  const human = await runCli(['devices', '--sys-root', usb.sysRoot, '--dev-root', usb.devRoot]);
  t.match(human.stdout, /no cameras found: check that the camera is plugged in/);
});

t.test('devices: a named port that does not exist is reported, not a crash', async (t) => {
  const dir = tempDir(t);
  const r = await runCli(['devices', '--json', '--no-usb', '--port', join(dir, 'ttyUSB9')]);
  t.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  t.equal(doc.unanswered[0].port, join(dir, 'ttyUSB9'));
  t.match(doc.unanswered[0].reason, /does not exist/);
});
