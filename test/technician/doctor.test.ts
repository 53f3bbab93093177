import t from 'tap';
import { chownSync } from 'node:fs';
import { join } from 'node:path';
import { editConfigFile, upsertDevice } from '../../config/write-config.js';
import { TestMosquitto, freePort } from '../helpers/mosquitto.js';
import { runCli, startSim, tempDir, writeConfig } from './rig.js';
import { makeTlsMaterial, startTlsMosquitto } from './tls-broker.js';

interface Check {
  check: string;
  subject?: string;
  level: string;
  detail: string;
  hint?: string;
}

const ORDER = ['config', 'serial-permissions', 'nmea', 'fix', 'camera', 'video', 'clock', 'broker', 'tls', 'disk', 'buffer'];

function doctor(config: string, opts: Parameters<typeof runCli>[1] = {}) {
  return runCli(['doctor', '--json', '--config', config, '--listen', '2500', '--timeout', '1500'], opts);
}

function checks(stdout: string): Check[] {
  return JSON.parse(stdout).checks as Check[];
}

t.test('doctor: a working camera and broker pass every check, in order; exit 0', async (t) => {
  const rig = await startSim(t, 1);
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const dir = tempDir(t);
  const config = writeConfig(dir, broker.url);
  upsertDevice(config, { id: 'CAM-1', gnss: rig.ports[0]!.port, control: rig.ports[0]!.control });
  const r = await doctor(config);
  const doc = JSON.parse(r.stdout);
  const seen = [...new Set((doc.checks as Check[]).map((c) => c.check))];
  t.same(seen, ORDER, 'every check, in order');
  // The disk check depends on the machine the test runs on: a full CI disk may warn.
  for (const c of doc.checks as Check[]) if (c.check !== 'disk') t.ok(c.level === 'pass' || c.level === 'skip', `${c.check} ${c.subject ?? ''}: ${c.level} ${c.detail}`);
  const disk = (doc.checks as Check[]).find((c) => c.check === 'disk')!;
  t.equal(doc.worst, disk.level === 'pass' ? 'pass' : disk.level);
  t.equal(r.code, { pass: 0, warn: 3, fail: 1 }[doc.worst as 'pass'], `exit status follows the worst result (${doc.worst})`);
  t.match(doc.checks.find((c: Check) => c.check === 'fix').detail, /3D fix, HDOP [\d.]+; satellites used\/in view: gps \d+\/\d+/);
  t.match(doc.checks.find((c: Check) => c.check === 'camera').detail, /camera YY00001 .* answers/);

  const human = await runCli(['doctor', '--config', config, '--listen', '2500']);
  t.equal(human.code, r.code);
  t.match(human.stdout, /^PASS  config /m);
  t.match(human.stdout, /^PASS  camera {13}CAM-1: camera YY00001/m);
  t.match(human.stdout, /summary: \d+ pass, \d+ warn, 0 fail/);
});

t.test('doctor: no camera, a camera that does not answer, broker down: each fails with a hint; exit 1', async (t) => {
  const rig = await startSim(t, 1, { 0: { faults: ['silent'] } });
  const dir = tempDir(t);
  // Nothing listens on this port: the broker is down.
  const config = writeConfig(dir, `mqtt://127.0.0.1:${await freePort()}`);
  upsertDevice(config, { id: 'GONE', gnss: join(dir, 'ttyUSB7') });
  upsertDevice(config, { id: 'MUTE', control: rig.ports[0]!.control });
  const r = await doctor(config);
  t.equal(r.code, 1, 'exit 1: a check failed');
  const cs = checks(r.stdout);
  t.match(cs.find((c) => c.check === 'serial-permissions' && c.subject?.startsWith('GONE')), { level: 'fail', detail: /does not exist/, hint: /plug the camera in/ });
  t.match(cs.find((c) => c.check === 'nmea' && c.subject === 'GONE'), { level: 'skip' });
  t.match(cs.find((c) => c.check === 'camera' && c.subject === 'MUTE'), { level: 'fail', detail: /does not answer/, hint: /switch it on, check the cable/ });
  t.match(cs.find((c) => c.check === 'broker'), { level: 'fail', detail: /cannot connect to mqtt:\/\/127\.0\.0\.1:\d+/, hint: /nothing listens there: is the broker running/ });
  t.match(cs.find((c) => c.check === 'nmea' && c.subject === 'MUTE'), { level: 'fail', detail: /no GNSS port configured/, hint: /--gnss/ });
  t.match(r.stderr, /doctor: 4 check\(s\) failed: serial-permissions \(GONE .*\), nmea \(MUTE\), camera \(MUTE\), broker/);
});

t.test('doctor: warnings alone exit 3 (no fix, no devices)', async (t) => {
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const dir = tempDir(t);
  const config = writeConfig(dir, broker.url);
  const r = await doctor(config);
  t.equal(r.code, 3, r.stdout);
  t.match(checks(r.stdout).find((c) => c.check === 'serial-permissions'), { level: 'warn', detail: 'no devices configured', hint: /bwc-agent provision/ });
});

t.test('doctor: the agent user without access to the serial port is told to join the owning group', async (t) => {
  const rig = await startSim(t, 1);
  const dir = tempDir(t);
  const config = writeConfig(dir);
  upsertDevice(config, { id: 'CAM-1', gnss: rig.ports[0]!.port, control: rig.ports[0]!.control });
  chownSync(dir, 65534, 65534);
  const r = await doctor(config, { uid: 65534, gid: 65534 });
  t.equal(r.code, 1, r.stderr);
  const perm = checks(r.stdout).filter((c) => c.check === 'serial-permissions');
  t.equal(perm.length, 2);
  for (const c of perm) t.match(c, { level: 'fail', detail: /nobody may not open/, hint: /sudo usermod -aG \S+ nobody/ });
  t.match(checks(r.stdout).find((c) => c.check === 'camera'), { level: 'skip' });
});

t.test('doctor: a broker certificate from a CA the agent does not trust fails the TLS check; the right CA passes', async (t) => {
  const dir = tempDir(t);
  const tls = makeTlsMaterial(dir);
  const broker = await startTlsMosquitto(t, dir, tls);

  const untrusted = withCa(writeConfig(tempDir(t), broker.url), tls.otherCaFile);
  const r = await doctor(untrusted);
  t.equal(r.code, 1);
  const cs = checks(r.stdout);
  t.match(cs.find((c) => c.check === 'tls'), { level: 'fail', detail: /does not verify: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY).*chain: CN=127\.0\.0\.1 ← CN=bwc test ca/, hint: /set mqtt\.tls\.caFile to the CA that signed it/ });
  t.match(cs.find((c) => c.check === 'broker'), { level: 'fail', hint: /TLS verification failed: see the tls check/ });

  const trusted = withCa(writeConfig(tempDir(t), broker.url), tls.caFile);
  const ok = await doctor(trusted);
  const good = checks(ok.stdout);
  t.match(good.find((c) => c.check === 'tls'), { level: 'pass', detail: /^verified; expires .* \((363|364|365) days\)/ });
  t.match(good.find((c) => c.check === 'broker'), { level: 'pass' });
});

t.test('doctor: a broker certificate about to expire is a warning', async (t) => {
  const dir = tempDir(t);
  const tls = makeTlsMaterial(dir, 5);
  const broker = await startTlsMosquitto(t, dir, tls);
  const r = await doctor(withCa(writeConfig(tempDir(t), broker.url), tls.caFile));
  t.match(checks(r.stdout).find((c) => c.check === 'tls'), { level: 'warn', detail: /verified, but the broker certificate expires in [45] days/, hint: /renew/ });
});

function withCa(file: string, caFile: string): string {
  editConfigFile(file, (doc) => doc.setIn(['mqtt', 'tls', 'caFile'], caFile));
  return file;
}

t.test('doctor: no fix (a tunnel) fails with a hint; damaged sentences are counted', async (t) => {
  const rig = await startSim(t, 2);
  rig.sim.inject(rig.ports[0]!.device, 'no-fix', true);
  rig.sim.inject(rig.ports[1]!.device, 'bad-checksum', true);
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const dir = tempDir(t);
  const config = writeConfig(dir, broker.url);
  upsertDevice(config, { id: 'TUNNEL', gnss: rig.ports[0]!.port });
  upsertDevice(config, { id: 'NOISY', gnss: rig.ports[1]!.port });
  const r = await runCli(['doctor', '--json', '--config', config, '--listen', '4000']);
  const cs = checks(r.stdout);
  t.match(cs.find((c) => c.check === 'fix' && c.subject === 'TUNNEL'), { level: 'fail', detail: /no position fix within 4 s/, hint: /open sky/ });
  t.equal(r.code, 1, 'a camera without a fix fails');
  const noisy = cs.find((c) => c.check === 'nmea' && c.subject === 'NOISY')!;
  const bad = Number(/(\d+) (?:with )?bad checksums/.exec(noisy.detail)?.[1]);
  t.ok(bad > 0, `bad checksums counted: ${noisy.detail}`);
});
