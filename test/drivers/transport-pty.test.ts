import t from 'tap';
import type { TapTest } from '../helpers/tap-test.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countValidSentences } from '../../drivers/transport/nmea-checksum.js';
import { openTransport } from '../../drivers/transport/open-transport.js';
import { parsePortSpec } from '../../drivers/transport/port-spec.js';
import type { Transport } from '../../drivers/transport/transport.js';
import { isBwcError } from '../../common/errors.js';
import { Simulator } from '../../sim/simulator.js';
import { waitFor } from './wait-for.js';

function collect(tr: Transport): { text: () => string } {
  let text = '';
  tr.stream.on('data', (d: Buffer) => (text += d.toString('latin1')));
  return { text: () => text };
}

async function startSim(t: TapTest, extra: Partial<ConstructorParameters<typeof Simulator>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-transport-'));
  const sim = new Simulator({ cameras: 1, seed: 3, portDir: join(dir, 'ports'), footageDir: join(dir, 'footage'), rateHz: 5, ...extra });
  const ports = await sim.start();
  t.teardown(async () => {
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sim, ports, dir };
}

t.test('a transport on a pty reads the simulated receiver, checksums valid', async (t) => {
  const { sim, ports } = await startSim(t);
  const tr = await openTransport(parsePortSpec(ports[0]!.port), { baud: 9600 });
  t.teardown(() => tr.close());
  t.match(tr.description, /BWC-0001-gnss @ 9600/);
  const c = collect(tr);
  await waitFor(() => countValidSentences(c.text()) >= 20 && c.text().includes('$BDGSV'), '20 valid sentences and a sky view');
  t.match(c.text(), /\$GNRMC,\d{6}\.\d{3},A,/);
  t.match(c.text(), /\$GNGGA,/);
  t.match(c.text(), /\$BDGSV,/);
  t.ok(sim.emitted()['BWC-0001']!.fixes > 0, 'the simulator counts what it wrote');
});

t.test('unplug closes the transport with a reason; replug on the same path works', async (t) => {
  const { sim, ports } = await startSim(t);
  const path = ports[0]!.port;
  const tr = await openTransport(parsePortSpec(path));
  const c = collect(tr);
  let errors = 0;
  tr.stream.on('error', () => errors++);
  await waitFor(() => countValidSentences(c.text()) >= 3, 'data before the unplug');
  const reason = new Promise<string>((resolve) => tr.onClose(resolve));
  await sim.unplug('BWC-0001');
  const why = await reason;
  t.match(why, /disconnect|error|closed/, `closed with a reason: ${why}`);
  t.not(why, 'closed by agent');
  t.ok(tr.closed);
  t.notOk(existsSync(path), 'the port path is gone while unplugged');
  // A late listener still hears the reason.
  t.equal(await new Promise<string>((r) => tr.onClose(r)), why);
  await tr.close();

  await t.rejects(openTransport(parsePortSpec(path), { openTimeoutMs: 3000 }), { code: 'PORT_NOT_FOUND' }, 'opening while unplugged fails clearly');

  await sim.replug('BWC-0001');
  t.ok(existsSync(path), 'the same path is back');
  const tr2 = await openTransport(parsePortSpec(path));
  t.teardown(() => tr2.close());
  const c2 = collect(tr2);
  await waitFor(() => countValidSentences(c2.text()) >= 3, 'data after the replug');
  const closedByUs = new Promise<string>((r) => tr2.onClose(r));
  await tr2.close();
  t.equal(await closedByUs, 'closed by agent');
});

t.test('opening a missing device fails with PORT_NOT_FOUND naming the path', async (t) => {
  const err = await openTransport({ kind: 'serial', path: '/dev/ttyUSB-not-here' }).catch((e: unknown) => e);
  t.ok(isBwcError(err, 'PORT_NOT_FOUND'));
  t.match((err as Error).message, /ttyUSB-not-here/);
});

t.test('unplugging many times never throws uncaught and always closes', async (t) => {
  const { sim, ports } = await startSim(t, { scenario: 'noisy-line' });
  for (let i = 0; i < 3; i++) {
    const tr = await openTransport(parsePortSpec(ports[0]!.port));
    const c = collect(tr);
    await waitFor(() => c.text().length > 200, 'some bytes');
    const reason = new Promise<string>((r) => tr.onClose(r));
    await sim.unplug('BWC-0001');
    t.ok((await reason).length > 0, `round ${i}: closed`);
    await sim.replug('BWC-0001');
  }
});
