import t from 'tap';
import { NmeaFramer } from '../../drivers/nmea/framer.js';

/** Builds `$body*hh` with a correct checksum. */
function sentence(body: string, lower = false): string {
  let sum = 0;
  for (const ch of body) sum ^= ch.charCodeAt(0);
  const hex = sum.toString(16).padStart(2, '0');
  return `$${body}*${lower ? hex : hex.toUpperCase()}`;
}

const GGA = sentence('GPGGA,123519.250,4807.038,N,01131.324,E,1,08,0.9,545.4,M,46.9,M,,');
const RMC = sentence('GPRMC,123519.250,A,4807.038,N,01131.324,E,022.4,084.4,230394,003.1,W');

t.test('plain lines, either hex case, CR LF or LF', async (t) => {
  const f = new NmeaFramer();
  t.same(f.push(Buffer.from(`${GGA}\r\n${sentence('GPGSA,A,3,04,05,,,,,,,,,,,2.5,1.3,2.1', true)}\n`)), [GGA, sentence('GPGSA,A,3,04,05,,,,,,,,,,,2.5,1.3,2.1', true)]);
  t.equal(f.counters.sentences, 2);
});

t.test('a sentence split across chunks at every byte', async (t) => {
  const f = new NmeaFramer();
  const bytes = Buffer.from(`${GGA}\r\n${RMC}\r\n`);
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(...f.push(bytes.subarray(i, i + 1)));
  t.same(out, [GGA, RMC]);
});

t.test('junk, NULs, $$ prefix, two sentences on one line, resync', async (t) => {
  const f = new NmeaFramer();
  const input = Buffer.concat([
    Buffer.from('\x00\x00garbage#comment\r\n'),
    Buffer.from(`$${GGA}\r\n`),
    Buffer.from(`${RMC}${GGA}\r\n`),
    Buffer.from(`$GPGGA,0301${RMC}\r\n`),
    Buffer.from(`$GPRMC,000346.03,A,4808\x00\x00\x00   \r\n`),
  ]);
  t.same(f.push(input), [GGA, GGA, RMC]);
  t.ok(f.counters.garbage > 0, 'junk counted');
  t.equal(f.counters.truncated, 3, '$$, the joined RMC cut by a $, and the GGA cut by a $');
  t.equal(f.counters.bad_char, 1, 'NUL inside a sentence');
});

t.test('checksums: wrong, one digit, missing', async (t) => {
  const f = new NmeaFramer();
  const wrong = GGA.slice(0, -2) + (GGA.endsWith('00') ? '01' : '00');
  const oneDigit = GGA.slice(0, -1);
  t.same(f.push(Buffer.from(`${wrong}\r\n${oneDigit}\r\n$GPTXT,TELIT SW Version\r\n${RMC}\r\n`)), [RMC]);
  t.equal(f.counters.bad_checksum, 2);
  t.equal(f.counters.no_checksum, 1);
});

t.test('lines past 256 bytes are dropped and the next sentence is found', async (t) => {
  const f = new NmeaFramer();
  const long = sentence('GPTXT,' + 'x'.repeat(300));
  t.same(f.push(Buffer.from(`${long}\r\n${GGA}\r\n`)), [GGA]);
  t.equal(f.counters.too_long, 1);
  const justFits = sentence('GPTXT,' + 'y'.repeat(256 - 10));
  t.equal(justFits.length, 256);
  t.same(f.push(Buffer.from(`${justFits}\r\n`)), [justFits]);
});

t.test('a sentence cut off by an unplug is counted on flush', async (t) => {
  const f = new NmeaFramer();
  t.same(f.push(Buffer.from(`${GGA}\r\n${RMC.slice(0, 20)}`)), [GGA]);
  t.same(f.flush(), []);
  t.equal(f.counters.truncated, 1);
  t.same(f.push(Buffer.from(`${RMC}\r\n`)), [RMC], 'works again after a replug');
});
