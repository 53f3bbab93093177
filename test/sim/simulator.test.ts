import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNmea } from '../../drivers/nmea/nmea-decoder.js';
import { openTransport } from '../../drivers/transport/open-transport.js';
import { parsePortSpec } from '../../drivers/transport/port-spec.js';
import type { Transport } from '../../drivers/transport/transport.js';
import { Simulator } from '../../sim/simulator.js';
import { parseCapture, loadCapture } from '../../sim/gnss/replay.js';
import { capturesDir } from '../helpers/paths.js';
import { waitFor } from '../drivers/wait-for.js';
import { readdirSync, readFileSync } from 'node:fs';

function reader(tr: Transport): { bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  tr.stream.on('data', (d: Buffer) => chunks.push(d));
  return { bytes: () => Buffer.concat(chunks) };
}

const fixesIn = (b: Buffer) => decodeNmea(b).filter((e) => e.fix).length;

t.test('emitted() counts exactly the fixes a decoder finds, even on a noisy line', async (t) => {
  const sim = new Simulator({ cameras: 1, transport: 'tcp', rateHz: 10, seed: 21, scenario: 'noisy-line' });
  const ports = await sim.start();
  t.teardown(() => sim.stop());
  const tr = await openTransport(parsePortSpec(ports[0]!.port));
  const r = reader(tr);
  await waitFor(() => fixesIn(r.bytes()) >= 60, '60 fixes through the noise');
  const closed = new Promise<string>((res) => tr.onClose(res));
  await sim.stop();
  await closed;
  const emitted = sim.emitted()['BWC-0001']!;
  const epochs = decodeNmea(r.bytes());
  const fixes = epochs.flatMap((e) => (e.fix ? [e.fix] : []));
  t.equal(fixes.length, emitted.fixes, `decoded ${fixes.length}, emitted ${emitted.fixes}`);
  t.equal(new Date(fixes[0]!.timeMs).toISOString(), emitted.first);
  t.equal(new Date(fixes.at(-1)!.timeMs).toISOString(), emitted.last);
  t.ok(fixes.every((f) => Math.abs(f.lat - 30.04) < 0.01 && Math.abs(f.lon - 121.15) < 0.01), 'no bogus position got through');
});

t.test('no-fix (tunnel) and clock drift faults, switched per camera', async (t) => {
  const sim = new Simulator({ cameras: 2, transport: 'tcp', rateHz: 10, seed: 4 });
  const ports = await sim.start();
  t.teardown(() => sim.stop());
  const a = reader(await openTransport(parsePortSpec(ports[0]!.port)));
  const b = reader(await openTransport(parsePortSpec(ports[1]!.port)));
  await waitFor(() => fixesIn(a.bytes()) >= 5 && fixesIn(b.bytes()) >= 5, 'fixes from both');
  sim.inject('BWC-0001', 'no-fix', true);
  sim.inject('BWC-0002', 'clock-drift', true);
  const aMark = a.bytes().length;
  await waitFor(() => decodeNmea(a.bytes().subarray(aMark)).length >= 30, '30 tunnel epochs');
  const tunnel = decodeNmea(a.bytes().subarray(aMark + 2000));
  t.ok(tunnel.length > 10 && tunnel.every((e) => !e.fix), 'in the tunnel: epochs without fixes');
  t.same(sim.activeFaults()['BWC-0001'], ['no-fix']);
  sim.inject('BWC-0001', 'no-fix', false);
  const back = a.bytes().length;
  await waitFor(() => fixesIn(a.bytes().subarray(back)) >= 5, 'fixes again after the tunnel');
  // Drift: fix times run ahead of the host clock by 20 ms per second.
  const driftStart = Date.now();
  await waitFor(() => Date.now() - driftStart > 3000, 'three seconds of drift');
  const last = decodeNmea(b.bytes()).filter((e) => e.fix).at(-1)!.fix!;
  const ahead = last.timeMs - Date.now();
  t.ok(ahead > 30, `receiver clock ahead of the host by ${ahead} ms`);
  t.throws(() => sim.inject('BWC-0009', 'no-fix', true), { code: 'UNKNOWN_DEVICE' });
});

t.test('a capture replays at its own pace scaled, its sentences as recorded', async (t) => {
  const file = join(capturesDir, 'ublox-neo-m9n-nmea.log');
  const epochs = loadCapture(file);
  t.ok(epochs.length > 30);
  const sim = new Simulator({ cameras: 1, transport: 'tcp', nmeaFile: file, replaySpeed: 20 });
  const ports = await sim.start();
  t.teardown(() => sim.stop());
  const r = reader(await openTransport(parsePortSpec(ports[0]!.port)));
  const body = readFileSync(file, 'latin1').split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\r$/, ''));
  const some = body.slice(100, 110).join('\r\n');
  await waitFor(() => r.bytes().toString('latin1').includes(some), 'ten recorded lines in order, byte for byte', 60_000);
  t.ok(sim.emitted()['BWC-0001']!.fixes > 0);
});

t.test('captures split into epochs by sentence time; comments gone; nothing else lost', async (t) => {
  for (const name of readdirSync(capturesDir).filter((f) => f.endsWith('.log'))) {
    const raw = readFileSync(join(capturesDir, name), 'latin1');
    const epochs = parseCapture(raw);
    const joined = epochs.map((e) => e.text).join('');
    const expected = raw.split('\n').filter((l, i, a) => !l.startsWith('#') && !(i === a.length - 1 && l === '')).map((l, i, a) => l.replace(/\r$/, '') + (i === a.length - 1 && !raw.endsWith('\n') ? '' : '\r\n')).join('');
    t.equal(joined, expected, `${name}: every non-comment line kept`);
    t.ok(epochs.every((e, i) => i === 0 || e.offsetMs >= epochs[i - 1]!.offsetMs), `${name}: offsets never go back`);
  }
  const e = parseCapture('# x\n$GPRMC,235959.000,A,3002.0,N,12109.0,E,0,0,241126,,*00\n$GPGGA,235959.000,x\n$GPRMC,000000.000,V,,,,,,,251126,,*00\n');
  t.same(e.map((x) => [x.offsetMs, x.valid]), [[0, true], [1000, false]], 'midnight: one second on');
  t.equal(e[0]!.timeMs, Date.UTC(2026, 10, 24, 23, 59, 59));
});

t.test('unknown scenario, bad counts and a missing capture are refused clearly', async (t) => {
  t.throws(() => new Simulator({ cameras: 0 }), { code: 'BAD_SIM_OPTIONS', message: /cameras must be an integer from 1 to 256/ });
  t.throws(() => new Simulator({ cameras: 1, scenario: 'quake' }), { code: 'BAD_SCENARIO' });
  t.throws(() => new Simulator({ cameras: 1, rateHz: 2 as 1 }), { message: /1, 5 or 10/ });
  const dir = mkdtempSync(join(tmpdir(), 'bwc-sim-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(new Simulator({ cameras: 1, nmeaFile: join(dir, 'none.log'), portDir: dir }).start(), { code: 'BAD_NMEA_FILE' });
});
