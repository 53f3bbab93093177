import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config/load-config.js';
import { upsertDevice } from '../../config/write-config.js';
import { FleetRecorder } from '../helpers/fleet-recorder.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { agentCli, repoRoot } from '../helpers/paths.js';
import { runCli, startSim, tempDir } from './rig.js';

/**
 * The README's technician guide, followed literally with a simulated camera
 * as the hardware: config init → provision with --port alone → doctor →
 * tail shows a fix → run publishes it → a subscriber receives it.
 */
t.test('the technician guide, step by step as written', { timeout: 300_000 }, async (t) => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  // The steps this test walks are the ones the guide gives.
  t.match(readme, /bwc-agent provision --port \/dev\/ttyACM1 --officer 810001 --name 王伟 --unit 330281520001 --config /, 'the guide provisions with --port alone');
  t.match(readme, /bwc-agent doctor/);
  t.match(readme, /bwc-agent tail DEVICE/);

  const rig = await startSim(t, 1);
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const dir = tempDir(t);
  const config = join(dir, 'config.yaml');
  const { control, port: gnss } = rig.ports[0]!;

  const init = await runCli(['config', 'init', '--broker', broker.url, '--data-dir', join(dir, 'data'), '--out', config, '--agent-id', 'gw-guide']);
  t.equal(init.code, 0, init.stderr);

  const prov = await runCli(['provision', '--port', control, '--officer', '810001', '--name', '王伟', '--unit', '330281520001', '--config', config]);
  t.equal(prov.code, 0, prov.stderr);
  t.match(prov.stdout, /find\s+ok\s.*GNSS on \S+ \(next to it, sending NMEA\)/, 'the GNSS port was found beside the control port');
  const device = (await loadConfig(config)).config.devices[0]!;
  t.match(device, { control, gnss }, 'the configured camera has both of its ports');

  const doctor = await runCli(['doctor', '--config', config, '--json', '--listen', '4000']);
  const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ check: string; level: string; detail: string }> }).checks;
  t.same(checks.filter((c) => c.level === 'fail'), [], 'doctor fails nothing');
  t.match(checks.find((c) => c.check === 'fix'), { level: 'pass', detail: /3D fix/ });

  const tail = await runCli(['tail', device.id, '--config', config, '--jsonl', '--count', '2']);
  t.equal(tail.code, 0, tail.stderr);
  const epochs = tail.stdout.trim().split('\n').map((l) => JSON.parse(l) as { note?: string; fix?: { lat: number } }).filter((l) => !l.note);
  t.ok(epochs.length === 2 && epochs.every((e) => typeof e.fix?.lat === 'number'), 'tail shows fixes');

  const recorder = await FleetRecorder.start(broker.url);
  t.teardown(() => recorder.stop());
  const agent = spawn(process.execPath, [agentCli, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  agent.stderr.on('data', (d: Buffer) => (log += d.toString()));
  t.teardown(() => agent.kill('SIGKILL'));
  await recorder.waitFor(() => recorder.fixes(device.id).length >= 2, 120_000, `fixes of ${device.id} at the broker`);
  t.pass(`the subscriber received ${recorder.fixes(device.id).length} fixes of ${device.id}`);

  const exited = new Promise<number | null>((r) => agent.once('exit', (c) => r(c)));
  agent.kill('SIGTERM');
  t.equal(await exited, 0, 'run exits 0 on SIGTERM');
  const lines = log.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
  t.match(lines.at(-1), { level: 30, msg: /^stopped/ }, 'run ends with a stopped line (JSON when stderr is not a terminal)');
  t.same(lines.filter((l) => l.level >= 40).map((l) => l.msg), [], 'a clean run and stop log no warnings');
});

t.test('provision with --port alone and no GNSS port beside it asks for --gnss; doctor and tail say what is missing', { timeout: 120_000 }, async (t) => {
  const rig = await startSim(t, 1);
  const dir = tempDir(t);
  // The control port alone in a folder: nothing named like it sends NMEA.
  const lonely = join(dir, 'lonely');
  mkdirSync(lonely);
  const control = join(lonely, 'cam-control');
  symlinkSync(rig.ports[0]!.control, control);
  const config = join(dir, 'config.yaml');
  t.equal((await runCli(['config', 'init', '--broker', 'mqtt://127.0.0.1:1883', '--data-dir', join(dir, 'data'), '--out', config])).code, 0);

  const prov = await runCli(['provision', '--port', control, '--officer', '810001', '--name', '王伟', '--unit', '330281520001', '--config', config]);
  t.equal(prov.code, 1, 'provisioning fails');
  t.match(prov.stderr + prov.stdout, /GNSS port .*--gnss PORT/, 'and names --gnss');
  t.same((await loadConfig(config)).config.devices, [], 'nothing added to the configuration');

  // A configuration written by hand without a GNSS port.
  upsertDevice(config, { id: 'NOGNSS', control });
  const doctor = await runCli(['doctor', '--config', config, '--json', '--listen', '1000']);
  const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ check: string; subject?: string; level: string; hint?: string }> }).checks;
  t.match(checks.find((c) => c.check === 'nmea' && c.subject === 'NOGNSS'), { level: 'fail', hint: /--gnss/ });
  t.equal(doctor.code, 1);
  const tail = await runCli(['tail', 'NOGNSS', '--config', config, '--duration', '2']);
  t.match(tail.stdout, /no GNSS port configured/);
});
