import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { Agent } from '../../agent/agent.js';
import { loadConfigText } from '../../config/load-config.js';
import { Simulator } from '../../sim/simulator.js';
import { FakeSys } from '../helpers/fake-sysfs.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { FleetRecorder } from '../helpers/fleet-recorder.js';

/**
 * A camera plugged in after the agent started is found on USB and run;
 * pulled out, its runtime stops and the agent keeps going. USB cannot be
 * plugged here, so sysfs is a fake tree laid out as the kernel does it, and
 * its /dev node is a real pseudo-terminal fed by a simulated camera.
 */
t.test('a camera plugged in later is picked up and its fixes reach the broker; pulled out, it is stopped', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-disc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const sim = new Simulator({ cameras: 1, transport: 'pty', rateHz: 1, seed: 3, footageDir: join(dir, 'footage'), portDir: join(dir, 'ports') });
  const [ports] = await sim.start();
  t.teardown(() => sim.stop());

  const fake = new FakeSys();
  t.teardown(() => fake.remove());
  const yaml = stringify({
    agent: { id: 'disc-gw', dataDir: join(dir, 'data') },
    mqtt: { brokers: [broker.url] },
    discovery: { enabled: false, usb: [{ vendorId: '1a86', productId: '7523' }], pollMs: 200 },
    reporting: { movingIntervalS: 1, stationaryIntervalS: 1 },
  });
  const agent = await Agent.start(loadConfigText(yaml, join(dir, 'agent.yaml')), pino({ level: 'silent' }));
  t.teardown(() => agent.stop());
  agent.startDiscovery(fake.sys, fake.dev);
  const recorder = await FleetRecorder.start(broker.url);
  t.teardown(() => recorder.stop());

  t.equal(agent.devices.size, 0, 'no camera before the plug');
  fake.usbSerial('ttyUSB0', '1-1', '00', { idVendor: '1a86', idProduct: '7523', serial: 'CAM0042' }, ports!.port);
  // An adapter of another model is not a camera.
  fake.usbSerial('ttyUSB1', '1-2', '00', { idVendor: '0403', idProduct: '6001', serial: 'FTDI01' });
  await recorder.waitFor(() => recorder.fixes('USB-CAM0042').length >= 2, 30_000, 'fixes from the discovered camera');
  t.same([...agent.devices.keys()], ['USB-CAM0042'], 'only the matching camera runs, named by its USB serial');

  fake.unplug('ttyUSB0', '1-1');
  const deadline = Date.now() + 10_000;
  while (agent.devices.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(agent.devices.size, 0, 'the pulled camera is stopped');
  await recorder.waitFor(() => recorder.records.some((r) => r.type === 'event' && r.event === 'camera_disconnected' && r.device === 'USB-CAM0042'), 10_000, 'a camera_disconnected event');
});
