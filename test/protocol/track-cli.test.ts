import { spawn } from 'node:child_process';
import t from 'tap';
import { splitDelimited } from '../../protocol/delimited-codec.js';
import { decodeTrackBatch } from '../../protocol/track-codec.js';
import { agentCli, repoRoot } from '../helpers/paths.js';

/** Runs the compiled CLI as users do, feeding stdin; resolves with everything it printed. */
function run(args: string[], stdin: Uint8Array | string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [agentCli, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
    child.stdin.on('error', () => {}); // the CLI may exit before reading all of a bad input
    child.stdin.end(stdin);
  });
}

const T0 = Date.UTC(2026, 10, 25, 2, 0, 0);
/** On the codec's grid (5e-7°, 0.05 m/s, 0.1°), so decoded records equal the input exactly. */
function record(device: string, i: number, extra: Record<string, unknown> = {}) {
  const r: Record<string, unknown> = {
    device,
    time: new Date(T0 + i * 1000 + (i % 3) * 7).toISOString(),
    lat: Number((30.04 + i * 0.0000115).toFixed(7)),
    lon: Number((121.15 - i * 0.000006).toFixed(7)),
    mode: 3,
  };
  if (i % 5 !== 2) Object.assign(r, { alt: 12.3, speed: 1.45, course: Number(((350 + i) % 360).toFixed(1)), hdop: 0.9, sats: 11 });
  return { ...r, ...extra };
}
const jsonl = (rs: object[]) => rs.map((r) => JSON.stringify(r)).join('\n') + '\n';

t.test('encode then decode gives the fixes back, batched per device and flag', async (t) => {
  const recs = [
    ...Array.from({ length: 150 }, (_, i) => record('BWC-0001', i)),
    ...Array.from({ length: 7 }, (_, i) => record('BWC-0002', i, { seq: 500 + i * 2, historical: true })),
  ];
  const enc = await run(['track', 'encode', '--batch', '60'], jsonl(recs));
  t.equal(enc.code, 0, enc.stderr);
  const frames = splitDelimited(enc.stdout);
  t.same(frames.map((f) => decodeTrackBatch(f.bytes).fixes.length), [60, 60, 30, 7], 'batches of at most 60, split at the device change');
  t.ok(enc.stdout.length < 157 * 8, `${enc.stdout.length} bytes for 157 fixes`);

  const dec = await run(['track', 'decode'], enc.stdout);
  t.equal(dec.code, 0, dec.stderr);
  const lines = dec.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const expected = recs.map((r, i) => ({ ...r, seq: r.seq ?? 1 + i, historical: r.historical ?? false }));
  t.same(lines, expected);
});

t.test('--device fills records without one; single-fix batches', async (t) => {
  const recs = [0, 1, 2].map((i) => {
    const { device: _d, ...r } = record('x', i);
    return r;
  });
  const enc = await run(['track', 'encode', '--batch', '1', '--device', 'CAM-9', '--seq', '41'], jsonl(recs));
  t.equal(enc.code, 0, enc.stderr);
  t.equal(splitDelimited(enc.stdout).length, 3);
  const dec = await run(['track', 'decode'], enc.stdout);
  const lines = dec.stdout.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(lines.map((l) => [l.device, l.seq]), [['CAM-9', 41], ['CAM-9', 42], ['CAM-9', 43]]);
});

t.test('bad fixes are refused with the line named, nothing written, exit 2', async (t) => {
  const good = JSON.stringify(record('BWC-0001', 0));
  const cases: [string, RegExp][] = [
    [`${good}\n{"device":"BWC-0001","time":"2026-11-25T02:00:01.000Z","lat":NaN,"lon":121,"mode":3}\n`, /line 2: not JSON/],
    [`${good}\n${good}\n{"device":"BWC-0001","time":"2026-11-25T02:00:01.000Z","lat":"NaN","lon":121,"mode":3}\n`, /line 3: "lat"/],
    [`${good}\n{"device":"BWC-0001","time":"2026-11-25T02:00:01.000Z","lat":91,"lon":121,"mode":3}\n`, /line 2: "lat" must be a number in \[-90, 90\]/],
    [`{"device":"BWC-0001","time":"2026-11-25T02:00:01.000Z","lat":30,"lon":181,"mode":3}\n`, /line 1: "lon"/],
    [`${good}\n\n{"device":"BWC-0001","time":"25/11/2026 02:00","lat":30,"lon":121,"mode":3}\n`, /line 3: "time"/],
    [`{"time":"2026-11-25T02:00:01.000Z","lat":30,"lon":121,"mode":3}\n`, /line 1: no "device"/],
    [`{"device":"a/b","time":"2026-11-25T02:00:01.000Z","lat":30,"lon":121,"mode":3}\n`, /line 1: .*cannot be a topic level/],
  ];
  for (const [input, re] of cases) {
    const r = await run(['track', 'encode'], input);
    t.equal(r.code, 2, `exit 2 for ${re}`);
    t.match(r.stderr, re);
    t.equal(r.stdout.length, 0, 'nothing on stdout');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const usage = await run(['track', 'encode', '--batch', '0'], '');
  t.not(usage.code, 0);
  t.match(usage.stderr, /--batch must be an integer/);
});

t.test('truncated or garbage input to decode: a clear error naming the byte, no output', async (t) => {
  const enc = await run(['track', 'encode', '--batch', '10'], jsonl(Array.from({ length: 30 }, (_, i) => record('BWC-0001', i))));
  const whole = enc.stdout;
  const frames = splitDelimited(whole);

  const cut = await run(['track', 'decode'], whole.subarray(0, whole.length - 5));
  t.equal(cut.code, 2);
  t.match(cut.stderr, new RegExp(`at byte ${frames[2]!.offset - 1}: message of ${frames[2]!.bytes.length} bytes but only ${frames[2]!.bytes.length - 5} left \\(truncated input\\)`));
  t.equal(cut.stdout.length, 0, 'no partial result');

  // A damaged byte inside the fixes blob of the second message: its length prefix still holds.
  const damaged = Buffer.from(whole);
  const second = frames[1]!;
  damaged[second.offset + second.bytes.length - 3] = 0xff;
  damaged[second.offset + second.bytes.length - 2] = 0xff;
  const bad = await run(['track', 'decode'], damaged);
  t.equal(bad.code, 2, bad.stderr);
  t.match(bad.stderr, /message 2 \(input bytes \d+\.\.\d+\)/);
  t.equal(bad.stdout.length, 0);

  const garbage = await run(['track', 'decode'], Buffer.from('this is not protobuf at all, just text\n'));
  t.equal(garbage.code, 2);
  t.match(garbage.stderr, /byte \d+/);
  t.notMatch(garbage.stderr, /\n\s+at /, 'no stack trace');

  const empty = await run(['track', 'decode'], Buffer.alloc(0));
  t.equal(empty.code, 0);
  t.equal(empty.stdout.length, 0);
});
