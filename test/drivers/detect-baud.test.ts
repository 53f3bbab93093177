import t from 'tap';
import type { TapTest } from '../helpers/tap-test.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectBaud } from '../../drivers/transport/detect-baud.js';
import { countValidSentences } from '../../drivers/transport/nmea-checksum.js';
import { openTransport } from '../../drivers/transport/open-transport.js';
import { Simulator } from '../../sim/simulator.js';
import { waitFor } from './wait-for.js';

async function sim(t: TapTest, baud: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-baud-'));
  const s = new Simulator({ cameras: 1, seed: 5, rateHz: 5, baud, portDir: join(dir, 'ports'), footageDir: join(dir, 'footage') });
  const ports = await s.start();
  t.teardown(async () => {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return ports[0]!;
}

for (const rate of [38400, 115200, 4800]) {
  t.test(`detects a receiver sending at ${rate} baud on a pty`, async (t) => {
    const p = await sim(t, rate);
    t.equal(await detectBaud(p.port, { perRateMs: 4000 }), rate);
  });
}

t.test('at a wrong rate the bytes hold no valid sentence; openTransport with baud auto finds the right one', async (t) => {
  const p = await sim(t, 38400);
  const wrong = await openTransport({ kind: 'serial', path: p.port }, { baud: 9600 });
  // The simulated receiver learns the host's rate by polling the tty's
  // termios (every 50 ms, later on a loaded machine), so sentences it sent
  // before it noticed may still arrive whole. From the first byte a UART at
  // the wrong rate made (NMEA is ASCII; framing garbage is not) none may.
  let text = '';
  wrong.stream.on('data', (d: Buffer) => {
    const from = text ? 0 : d.findIndex((b) => b >= 0x80);
    if (from >= 0) text += d.subarray(from).toString('latin1');
  });
  await waitFor(() => text.length > 3000, '3000 bytes at the wrong rate');
  await wrong.close();
  t.equal(countValidSentences(text), 0, 'garbage only');

  const right = await openTransport({ kind: 'serial', path: p.port }, { baud: 'auto' });
  t.teardown(() => right.close());
  t.match(right.description, /@ 38400$/);
  let good = '';
  right.stream.on('data', (d: Buffer) => (good += d.toString('latin1')));
  await waitFor(() => countValidSentences(good) >= 5, 'valid sentences at the detected rate');
});

t.test('a port with no NMEA at any rate ends with BAUD_NOT_FOUND naming the rates', async (t) => {
  const p = await sim(t, 9600);
  // The control port carries no NMEA.
  await t.rejects(detectBaud(p.control, { perRateMs: 300, rates: [4800, 9600] }), { code: 'BAUD_NOT_FOUND', message: /4800 \(0 valid\), 9600 \(0 valid\)/ });
});
