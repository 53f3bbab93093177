import t from 'tap';
import { upsertDevice } from '../../config/write-config.js';
import { runCli, startSim, tempDir, writeConfig } from './rig.js';

t.test('tail: live epochs with fix, satellites per constellation, HDOP, recording and battery', async (t) => {
  const rig = await startSim(t, 2);
  const dir = tempDir(t);
  const config = writeConfig(dir);
  for (const [i, p] of rig.ports.entries()) upsertDevice(config, { id: `CAM-${i + 1}`, gnss: p.port, control: p.control });

  const r = await runCli(['tail', 'CAM-2', '--config', config, '--jsonl', '--count', '3']);
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const notes = lines.filter((l) => l.note);
  const epochs = lines.filter((l) => !l.note);
  t.equal(epochs.length, 3, 'stops after --count epochs');
  t.match(notes[0], { device: 'CAM-2', note: /camera YY00002 officer 810002/ });
  for (const e of epochs) {
    t.equal(e.device, 'CAM-2', 'only the device asked for');
    t.match(e, { mode: 3, recording: 'off', batteryPct: Number });
    t.type(e.hdop, 'number');
    t.ok(e.sats.gps.inView >= e.sats.gps.used, 'GPS used/in view');
    t.ok(e.sats.beidou, 'BeiDou reported apart');
    t.match(e.fix, { device: 'CAM-2', lat: Number, lon: Number, mode: 3 });
    t.match(e.fix.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }

  const human = await runCli(['tail', '--config', config, '--count', '4']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /CAM-1 {2}\d\d:\d\d:\d\d\.\d{3}Z {2}\d+\.\d{6},\d+\.\d{6} {2}3D {2}hdop \d+\.\d {2}GPS \d+\/\d+ .*BDS \d+\/\d+ {2}off bat \d+%/);
  t.match(human.stdout, /CAM-2 /, 'all devices when none is named');
});

t.test('tail: an unknown device or no configuration is refused with what to do', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir);
  upsertDevice(config, { id: 'CAM-1', gnss: '/dev/ttyUSB0' });
  const r = await runCli(['tail', 'CAM-9', '--config', config]);
  t.equal(r.code, 2);
  t.match(r.stderr, /no device "CAM-9" in .*; configured: CAM-1/);
  const none = await runCli(['tail'], { env: { BWC_CONFIG: '' } });
  t.equal(none.code, 2);
  t.match(none.stderr, /tail needs devices: pass --config FILE/);
});

t.test('tail: a port that does not exist is an error, not a hang', async (t) => {
  const dir = tempDir(t);
  const r = await runCli(['tail', '--gnss', `${dir}/ttyUSB5`, '--count', '1']);
  t.equal(r.code, 1);
  t.match(r.stderr, /does not exist \(is the camera plugged in\?\)/);
});
