import t from 'tap';
import { NmeaDecoder } from '../../drivers/nmea/nmea-decoder.js';
import type { Epoch } from '../../drivers/nmea/types.js';
import { loadCaptures } from './gpsd-reference.js';

/**
 * Fuzzing the framer and decoder with random and mutated lines (seeded: the
 * seed is printed; NMEA_FUZZ_SEED=… replays a run). Checked:
 * - nothing throws, whatever the bytes and however they are chunked;
 * - every fix is sane: finite numbers, lat/lon in range, not (0,0), mode 2|3;
 * - a line whose checksum is wrong contributes nothing: the stream decodes to
 *   exactly the same epochs as the stream of only its valid lines.
 */
const LINES = Number(process.env.NMEA_FUZZ_LINES ?? 120_000);
const seed = Number(process.env.NMEA_FUZZ_SEED ?? Math.floor(Math.random() * 0xffffffff));
console.log(`# fuzz seed ${seed} (replay with NMEA_FUZZ_SEED=${seed}), ${LINES} lines`);

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(seed);
const int = (n: number) => Math.floor(rnd() * n);

const real: string[] = [];
for (const c of loadCaptures()) {
  for (const line of c.bytes.toString('latin1').split(/\r?\n/)) if (line.startsWith('$')) real.push(line.replace(/\r$/, ''));
}

function withChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i);
  return `$${body}*${sum.toString(16).toUpperCase().padStart(2, '0')}`;
}

const FIELD_JUNK = ['', '0', '00', '-1', '99.99', '1e5', 'NaN', 'A', 'V', 'N', 'S', 'E', 'W', '9999.9999', '0000.0000', '.', '1..2', '235960', '999999.999', '320299', '010180', '12', '-0', '+5', ' ', '*', ',,'];

/** One fuzzed line, without CR/LF. */
function fuzzLine(): string {
  const base = real[int(real.length)]!;
  const r = rnd();
  if (r < 0.1) {
    // random bytes
    let s = int(2) ? '$' : '';
    const n = int(120);
    for (let i = 0; i < n; i++) s += String.fromCharCode(int(256) === 0 ? 0 : 0x20 + int(0x60));
    return s;
  }
  if (r < 0.35) {
    // a real sentence with fields replaced by junk, re-checksummed: framed, but nonsense inside
    const body = base.slice(1, base.lastIndexOf('*') > 0 ? base.lastIndexOf('*') : undefined);
    const fields = body.split(',');
    const k = 1 + int(4);
    for (let i = 0; i < k; i++) fields[1 + int(Math.max(1, fields.length - 1))] = FIELD_JUNK[int(FIELD_JUNK.length)]!;
    if (int(10) === 0) fields.length = int(fields.length) + 1;
    return withChecksum(fields.join(','));
  }
  if (r < 0.45) return base; // unmodified lines keep epochs flowing
  // byte-level mutations of a real line
  let s = base;
  const k = 1 + int(3);
  for (let i = 0; i < k; i++) {
    const p = int(s.length + 1);
    switch (int(6)) {
      case 0: s = s.slice(0, p) + String.fromCharCode(s.charCodeAt(p) ^ (1 << int(7))) + s.slice(p + 1); break; // bit flip
      case 1: s = s.slice(0, p); break; // truncation
      case 2: s = s.slice(0, p) + String.fromCharCode(0x20 + int(0x5f)) + s.slice(p); break; // insertion
      case 3: s = s.slice(0, p) + '\0'.repeat(1 + int(4)) + s.slice(p); break; // NULs
      case 4: s = '$' + s; break; // duplicated $
      default: s = s.slice(0, p) + s.slice(p + 1 + int(3)); break; // deletion
    }
  }
  return s;
}

/**
 * What the framer must accept of a line: a mutation may have put a CR or LF
 * into it, which makes it two lines on the wire; of each, the text after its
 * last `$`, printable, ≤ 256 bytes, with the right checksum.
 */
function validParts(line: string): string[] {
  return line.split(/[\r\n]/).flatMap((l) => validPart(l) ?? []);
}

function validPart(line: string): string | undefined {
  const at = line.lastIndexOf('$');
  if (at < 0) return undefined;
  const s = line.slice(at);
  if (s.length > 256 || s.length < 9) return undefined;
  if (!/^\$[\x20-\x7e]*\*[0-9A-Fa-f]{2}$/.test(s)) return undefined;
  let sum = 0;
  for (let i = 1; i < s.length - 3; i++) sum ^= s.charCodeAt(i);
  return sum === parseInt(s.slice(-2), 16) ? s : undefined;
}

function checkEpochs(t: { fail: (msg: string) => unknown }, epochs: Epoch[]): number {
  let fixes = 0;
  for (const e of epochs) {
    const f = e.fix;
    if (f === undefined) continue;
    fixes++;
    const numbers = Object.values(f).filter((v) => typeof v === 'number') as number[];
    if (!numbers.every(Number.isFinite) || !(Math.abs(f.lat) <= 90) || !(Math.abs(f.lon) <= 180) || (f.lat === 0 && f.lon === 0) ||
      (f.mode !== 2 && f.mode !== 3) || f.timeMs !== e.timeMs || (f.speed !== undefined && f.speed < 0) ||
      (f.course !== undefined && (f.course < 0 || f.course >= 360)) || (f.hdop !== undefined && f.hdop < 0)) {
      t.fail(`bad fix ${JSON.stringify(f)}`);
    }
  }
  return fixes;
}


t.test(`${LINES} fuzzed lines through framer and decoder`, async (t) => {
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) lines.push(fuzzLine());
  const all = Buffer.from(lines.join('\r\n') + '\r\n', 'latin1');
  const validOnly = Buffer.from(lines.flatMap(validParts).join('\r\n') + '\r\n', 'latin1');

  // The whole stream, in random chunks as a serial port delivers it.
  const a = new NmeaDecoder({ date: '2020-01-01' });
  const fromAll: Epoch[] = [];
  for (let p = 0; p < all.length; ) {
    const n = 1 + int(700);
    fromAll.push(...a.push(all.subarray(p, p + n)));
    p += n;
  }
  fromAll.push(...a.end());

  const b = new NmeaDecoder({ date: '2020-01-01' });
  const fromValid = [...b.push(validOnly), ...b.end()];

  const fixes = checkEpochs(t, fromAll);
  t.comment(`epochs ${fromAll.length}, fixes ${fixes}, counters ${JSON.stringify(a.counters())}`);
  t.ok(fixes > 100, 'the unmodified lines still give fixes');
  // Where the framer and the rule disagree, line by line (only printed when they do).
  const disagree = a.counters().sentences === b.counters().sentences ? [] : lines.filter((l) => {
    const f = new NmeaDecoder({ date: '2020-01-01' });
    f.push(Buffer.from(l + '\r\n', 'latin1'));
    return f.counters().sentences !== validParts(l).length;
  });
  t.equal(a.counters().sentences, b.counters().sentences, `the framer accepted exactly the lines with a right checksum${disagree.length ? `; lines it judged otherwise: ${JSON.stringify(disagree.slice(0, 3))}` : ''}`);
  t.same(fromAll, fromValid, 'lines with a wrong checksum changed nothing');
});

t.test('random bytes only', async (t) => {
  const d = new NmeaDecoder();
  const out: Epoch[] = [];
  for (let i = 0; i < 200; i++) {
    const chunk = Buffer.alloc(1 + int(4096));
    for (let k = 0; k < chunk.length; k++) chunk[k] = int(8) === 0 ? 0x24 : int(256);
    out.push(...d.push(chunk));
  }
  out.push(...d.end());
  checkEpochs(t, out);
  t.pass('no exception');
});
