import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { captureDate } from '../../drivers/nmea/capture-file.js';
import { decodeNmea } from '../../drivers/nmea/nmea-decoder.js';
import { fixFromJson, fixToJson } from '../../protocol/fix.js';
import { agentCli, capturesDir } from '../helpers/paths.js';
import { readFileSync } from 'node:fs';

const capture = join(capturesDir, 'quectel-l76k-nmea.log');

t.test('nmea decode FILE --jsonl prints the fixes as CLI contract records', async (t) => {
  const r = spawnSync('node', [agentCli, 'nmea', 'decode', capture, '--jsonl', '--stats'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  const bytes = readFileSync(capture);
  const expected = decodeNmea(bytes, { date: captureDate(bytes) }).filter((e) => e.fix).map((e) => JSON.stringify(fixToJson(e.fix!)));
  t.ok(lines.length > 100, `${lines.length} fixes`);
  t.same(lines, expected, 'same fixes as the library');
  lines.forEach((l, i) => fixFromJson(JSON.parse(l), `line ${i + 1}`));
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.notOk('device' in first || 'seq' in first, 'no device/seq');
  t.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const stats = JSON.parse(r.stderr.trim()) as Record<string, number>;
  t.equal(stats.fixes, lines.length, '--stats counts the fixes');
  t.type(stats.bad_checksum, 'number');
});

t.test('nmea decode - reads stdin and prints a fix as soon as its cycle is complete', async (t) => {
  const child = spawn('node', [agentCli, 'nmea', 'decode', '-', '--jsonl'], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill(); });
  const lines = readFileSync(join(capturesDir, 'ublox-neo-m9n-nmea.log'), 'latin1').split('\n');
  let out = '';
  const firstLine = new Promise<string>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
  });
  // Feed the first few cycles only and keep stdin open: output must not wait for the end.
  child.stdin.write(lines.slice(0, 80).join('\n') + '\n');
  const line = await firstLine;
  t.match(JSON.parse(line), { time: '2020-07-11T22:37:45.000Z', mode: 3 });
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 0);
});

t.test('errors go to stderr with a non-zero exit', async (t) => {
  const missing = spawnSync('node', [agentCli, 'nmea', 'decode', '/nonexistent/x.nmea', '--jsonl'], { encoding: 'utf8' });
  t.not(missing.status, 0);
  t.match(missing.stderr, /cannot read \/nonexistent\/x\.nmea: no such file/);
  t.equal(missing.stdout, '');
  const badDate = spawnSync('node', [agentCli, 'nmea', 'decode', capture, '--date', 'yesterday'], { encoding: 'utf8' });
  t.not(badDate.status, 0);
  t.match(badDate.stderr, /--date must look like/);
  const help = spawnSync('node', [agentCli, 'nmea', 'decode', '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  t.match(help.stdout, /--jsonl/);
});
