import t from 'tap';
import { chownSync, existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import { fakeUsb, runCli, startSim, tempDir, writeConfig } from './rig.js';

const OFFICER = ['--officer', '123456', '--name', '张三', '--unit', '330281520099'];

t.test('provision binds, sets the clock, writes settings, credentials and the configuration; a second run changes nothing', async (t) => {
  // The camera's clock starts 37 s ahead, so the clock step has work to do.
  const rig = await startSim(t, 1, { 0: { faults: ['clock-drift'], options: { clockOffsetMs: 37_000, driftPpm: 0 } } });
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const { control, port: gnss, device } = rig.ports[0]!;
  const cam = rig.cameras.get(device)!;
  const originalUnitName = cam.identity.unitName;

  const r = await runCli(['provision', '--port', control, '--gnss', gnss, ...OFFICER, '--config', config, '--setting', 'video.resolution=1080p', '--setting', 'gnss.rateHz=1', '--json']);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.equal(report.ok, true);
  t.equal(report.device, 'YY00001', 'device id defaults to the camera serial');
  t.same(report.steps.map((s: { step: string }) => s.step), ['validate', 'find', 'plan', 'clock-source', 'bind', 'clock', 'settings', 'credentials', 'config', 'verify'], 'every step reported, in order');
  t.match(report.steps.find((s: { step: string }) => s.step === 'clock-source').detail, /GNSS time/);
  t.equal(report.steps.find((s: { step: string }) => s.step === 'clock').result, 'changed');
  t.ok(report.clock.skewBeforeMs > 30_000, `the camera was ${report.clock.skewBeforeMs} ms ahead`);

  // What the camera now holds.
  t.match(cam.identity, { officerNumber: '123456', officerName: '张三', unitNumber: '330281520099', unitName: originalUnitName });
  t.ok(Math.abs(cam.state.clockMs - Date.now()) < 2000, 'camera clock set');
  t.same(cam.settings, { 'agent.id': 'gw-test', 'device.id': 'YY00001', 'video.resolution': '1080p', 'gnss.rateHz': 1 }, 'settings written, typed');

  // The configuration: entry added, comments kept, still valid.
  const text = readFileSync(config, 'utf8');
  t.match(text, /# Cameras by port; add more with `bwc-agent provision`/, 'comments kept');
  const loaded = await loadConfig(config);
  t.match(loaded.config.devices, [{ id: 'YY00001', control, gnss }]);

  // Credentials readable only by the agent.
  const key = join(dir, 'data', 'devices', 'YY00001', 'device.key');
  t.equal(statSync(key).mode & 0o777, 0o600);
  t.match(readFileSync(key, 'utf8'), /BEGIN PRIVATE KEY/);
  t.ok(existsSync(join(dir, 'data', 'devices', 'YY00001', 'device.pub')));
  const keyBefore = readFileSync(key, 'utf8');

  // Idempotent: same arguments again.
  const again = await runCli(['provision', '--port', control, '--gnss', gnss, ...OFFICER, '--config', config, '--setting', 'video.resolution=1080p', '--setting', 'gnss.rateHz=1', '--json']);
  t.equal(again.code, 0, again.stderr);
  const second = JSON.parse(again.stdout);
  t.equal(second.changed, false, 'nothing changed the second time');
  for (const step of ['bind', 'clock', 'credentials', 'config']) t.equal(second.steps.find((s: { step: string }) => s.step === step).result, 'unchanged', `${step} unchanged`);
  t.equal(readFileSync(config, 'utf8'), text, 'configuration byte for byte the same');
  t.equal(readFileSync(key, 'utf8'), keyBefore, 'credentials kept');

  // Human output: a progress line per step.
  const human = await runCli(['provision', '--port', control, ...OFFICER, '--config', config]);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /\[1\/10\] validate/);
  t.match(human.stdout, /\[10\/10\] verify\s+ok/);
});

t.test('dry run reads and plans, writes nothing', async (t) => {
  const rig = await startSim(t, 1);
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const before = readFileSync(config, 'utf8');
  const { control, device } = rig.ports[0]!;
  const identity = rig.cameras.get(device)!.identity;
  const r = await runCli(['provision', '--port', control, ...OFFICER, '--config', config, '--dry-run', '--json']);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.equal(report.dryRun, true);
  t.equal(report.changed, true);
  t.equal(report.steps.find((s: { step: string }) => s.step === 'bind').result, 'would-change');
  t.match(report.steps.find((s: { step: string }) => s.step === 'find').detail, /GNSS on \S+BWC-0001-gnss \(next to it, sending NMEA\)/, 'the GNSS port found beside the control port');
  t.match(report.steps.find((s: { step: string }) => s.step === 'clock-source').detail, /GNSS time from \S+BWC-0001-gnss/, 'GNSS time from it');
  t.same(rig.cameras.get(device)!.identity, identity, 'camera untouched');
  t.same(rig.cameras.get(device)!.settings, {}, 'no settings written');
  t.equal(readFileSync(config, 'utf8'), before, 'configuration untouched');
  t.notOk(existsSync(join(dir, 'data', 'devices')), 'no credentials');
});

t.test('failures: bad input, a silent camera, no camera, wrong permissions; nothing half-written', async (t) => {
  const rig = await startSim(t, 2, { 1: { faults: ['silent'] } });
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const before = readFileSync(config, 'utf8');
  const [good, silent] = rig.ports;

  const bad = await runCli(['provision', '--port', good!.control, '--officer', '12345', '--name', 'x', '--unit', '330281520099', '--config', config]);
  t.equal(bad.code, 2, 'bad input: exit 2');
  t.match(bad.stderr, /provision failed at step validate: officer number must be 6 digits, got "12345"/);
  // Unsafe ids and names are refused before the camera or a file is touched.
  const base = ['provision', '--port', good!.control, '--officer', '123456', '--unit', '330281520099', '--config', config];
  for (const [args, why] of [
    [['--name', 'Ann', '--device-id', '..'], /--device-id "\.\." must not be "\.\.": as a file name it is the parent folder/],
    [['--name', 'Ann', '--device-id', '.cam'], /--device-id "\.cam" must not start with a dot/],
    [['--name', 'Ann\u202e'], /officer name .*bidirectional override/],
    [['--name', '\u200b'], /officer name .*only blank or invisible/],
    [['--name', 'Ann\u0085'], /officer name .*control characters \(U\+0085\)/],
  ] as const) {
    const r = await runCli([...base, ...args]);
    t.equal(r.code, 2, `${JSON.stringify(args)}: exit 2`);
    t.match(r.stderr, why);
  }

  const dead = await runCli(['provision', '--port', silent!.control, ...OFFICER, '--config', config, '--timeout', '1500', '--json']);
  t.equal(dead.code, 1);
  t.match(dead.stderr, /at step find: the camera on .* does not answer/);
  t.match(JSON.parse(dead.stdout), { ok: false, failedStep: 'find' }, '--json still prints one document');

  const usb = fakeUsb(join(dir, 'empty'), []);
  const none = await runCli(['provision', ...OFFICER, '--config', config, '--sys-root', usb.sysRoot, '--dev-root', usb.devRoot]);
  t.equal(none.code, 1);
  t.match(none.stderr, /no camera found: plug it in and switch it on, or name its control port with --port/);

  t.equal(readFileSync(config, 'utf8'), before, 'configuration untouched by every failure');
  t.notOk(existsSync(join(dir, 'data', 'devices', 'YY00001')), 'no credentials');
  t.equal(rig.cameras.get(good!.device)!.identity.officerNumber, '810001', 'camera binding untouched');

  // The agent user without access to the port (as when it is not in dialout).
  const nobodyDir = tempDir(t);
  const nobodyConfig = writeConfig(nobodyDir);
  for (const f of [nobodyDir, nobodyConfig]) chownSync(f, 65534, 65534);
  const denied = await runCli(['provision', '--port', good!.control, ...OFFICER, '--config', nobodyConfig], { uid: 65534, gid: 65534 });
  t.equal(denied.code, 1, denied.stderr);
  t.match(denied.stderr, /at step find: no permission to open .* \(add the user to the dialout group\)/);
});

t.test('a failure after the camera was bound puts the binding back', async (t) => {
  const rig = await startSim(t, 1);
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const before = readFileSync(config, 'utf8');
  const { control, device } = rig.ports[0]!;
  // The credentials folder cannot be made: a file sits where it should go.
  mkdirSync(join(dir, 'data', 'devices'), { recursive: true });
  writeFileSync(join(dir, 'data', 'devices', 'YY00001'), 'in the way');
  const r = await runCli(['provision', '--port', control, ...OFFICER, '--config', config]);
  t.equal(r.code, 1);
  t.match(r.stdout, /\[4\/10\] clock-source|\[5\/10\] bind\s+changed/);
  // The device folder is first written by the settings step (the record of what was sent), else by credentials.
  t.match(r.stderr, /provision failed at step (settings|credentials): .*Undone: camera binding restored to officer 810001/);
  t.equal(rig.cameras.get(device)!.identity.officerNumber, '810001', 'binding put back');
  t.equal(readFileSync(config, 'utf8'), before, 'configuration untouched');
});

t.test('several cameras without --port or --serial: refused with the list; --serial picks one', async (t) => {
  const rig = await startSim(t, 2);
  const dir = tempDir(t);
  // Each camera as on USB: its control port and, on the same device, its GNSS port.
  const usb = fakeUsb(dir, rig.ports.flatMap((p, i) => [
    { name: `ttyACM${i}`, target: p.control, vendorId: '1a86', productId: '55d4', serial: `C${i}`, iface: '01' },
    { name: `ttyUSB${i}`, target: p.port, vendorId: '1a86', productId: '55d4', serial: `C${i}`, iface: '00' },
  ]));
  const config = writeConfig(dir);
  const hw = ['--sys-root', usb.sysRoot, '--dev-root', usb.devRoot];
  const several = await runCli(['provision', ...OFFICER, '--config', config, ...hw]);
  t.equal(several.code, 2);
  t.match(several.stderr, /2 cameras found \(YY00001 on .*ttyACM0, YY00002 on .*ttyACM1\): choose one with --port or --serial/);
  const picked = await runCli(['provision', ...OFFICER, '--config', config, ...hw, '--serial', 'YY00002', '--json']);
  t.equal(picked.code, 0, picked.stderr);
  t.equal(JSON.parse(picked.stdout).port, join(usb.devRoot, 'ttyACM1'));
  t.equal(JSON.parse(picked.stdout).gnss, join(usb.devRoot, 'ttyUSB1'), 'its GNSS port, beside it on USB');
  t.equal(rig.cameras.get(rig.ports[1]!.device)!.identity.officerNumber, '123456');
});

t.test('provision with a username/password credential: the password file is 0600 and kept on a second run', async (t) => {
  const rig = await startSim(t, 1);
  const dir = tempDir(t);
  const config = writeConfig(dir);
  const { control } = rig.ports[0]!;
  const args = ['provision', '--port', control, ...OFFICER, '--config', config, '--credentials', 'password', '--device-id', 'CAM-7', '--profile', 'vehicle', '--json'];
  const r = await runCli(args);
  t.equal(r.code, 0, r.stderr);
  const pw = join(dir, 'data', 'devices', 'CAM-7', 'device.password');
  t.same(JSON.parse(r.stdout).credentials, { kind: 'password', files: [pw] });
  t.equal(statSync(pw).mode & 0o777, 0o600);
  const secret = readFileSync(pw, 'utf8');
  t.match(secret, /^[A-Za-z0-9_-]{32}\n$/);
  t.match((await loadConfig(config)).config.devices, [{ id: 'CAM-7', control, profile: 'vehicle' }]);
  const again = await runCli(args);
  t.equal(JSON.parse(again.stdout).changed, false);
  t.equal(readFileSync(pw, 'utf8'), secret, 'password kept');
  const bad = await runCli(['provision', '--port', control, ...OFFICER, '--config', config, '--credentials', 'token']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--credentials must be keypair or password, got "token"/);
});
