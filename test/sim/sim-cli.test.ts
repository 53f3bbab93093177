import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { countValidSentences } from '../../drivers/transport/nmea-checksum.js';
import { openTransport } from '../../drivers/transport/open-transport.js';
import { parsePortSpec } from '../../drivers/transport/port-spec.js';
import { agentCli } from '../helpers/paths.js';
import { waitFor } from '../drivers/wait-for.js';

/** socat processes whose command line mentions `dir` (ours only: others' tests run beside). */
function socatsUnder(dir: string): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.startsWith('socat') && cmd.includes(dir)) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

for (const transport of ['pty', 'tcp'] as const) {
  t.test(`sim --json (${transport}) prints one line per camera, serves NMEA, exits cleanly on SIGTERM`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-sim-cli-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const portDir = join(dir, 'ports');
    const args = [agentCli, 'sim', '--cameras', '3', '--json', '--rate', '5', '--port-dir', portDir, '--footage', join(dir, 'footage')];
    if (transport === 'tcp') args.push('--tcp');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    await waitFor(() => lines.length >= 3 || child.exitCode !== null, 'three JSON lines');
    t.equal(lines.length, 3, `three lines (stderr: ${stderr})`);
    const ports = lines.map((l) => JSON.parse(l) as { device: string; port: string; control: string });
    t.same(ports.map((p) => p.device), ['BWC-0001', 'BWC-0002', 'BWC-0003']);
    t.same(ports.map((p) => Object.keys(p)), ports.map(() => ['device', 'port', 'control']), 'exactly the contract fields');
    if (transport === 'pty') {
      for (const p of ports) t.ok(existsSync(p.port) && existsSync(p.control) && p.port.startsWith(portDir), `${p.device}: ports exist under --port-dir`);
      t.equal(socatsUnder(portDir), 6, 'one socat per port');
    } else for (const p of ports) t.match(p.port, /^tcp:\/\/127\.0\.0\.1:\d+$/);

    const tr = await openTransport(parsePortSpec(ports[2]!.port));
    let text = '';
    tr.stream.on('data', (d: Buffer) => (text += d.toString('latin1')));
    await waitFor(() => countValidSentences(text) >= 10, 'NMEA from the spawned simulator');
    const closed = new Promise<string>((r) => tr.onClose(r));

    child.kill('SIGTERM');
    t.equal(await exited, 0, 'exit code 0 on SIGTERM');
    t.ok((await closed).length > 0, 'the reader saw the port go');
    if (transport === 'pty') {
      t.equal(socatsUnder(portDir), 0, 'no socat left behind');
      t.notOk(ports.some((p) => existsSync(p.port)), 'port links removed');
    }
    t.equal(stderr, '', 'nothing on stderr');
  });
}

t.test('bad options are refused with a clear message and exit code 2', async (t) => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [agentCli, 'sim', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d: Buffer) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
  const cases: Array<[string[], RegExp]> = [
    [['--cameras', '0'], /--cameras must be an integer from 1 to 256/],
    [['--rate', '3'], /--rate must be 1, 5 or 10/],
    [['--scenario', 'earthquake'], /unknown scenario "earthquake"; choose one of: patrol, vehicle, tunnel, flaky-usb, noisy-line/],
    [['--nmea', '/nonexistent/capture.log'], /cannot read NMEA capture \/nonexistent\/capture\.log/],
    [['--centre', 'Yuyao'], /--centre must be LAT,LON/],
  ];
  for (const [args, why] of cases) {
    const r = await run(args);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.err, why);
  }
});
