import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runIfMain, type BenchRow } from './bench-kit.js';
import { capturesDir } from '../test/helpers/paths.js';
import { NmeaDecoder } from '../drivers/nmea/nmea-decoder.js';
import { fixToJson } from '../protocol/fix.js';

/**
 * NMEA decoding speed against gpsd's own C decoder on the same bytes: all
 * captures concatenated to about 20 MB, decoded by ours (fed in 64 KiB chunks
 * as a port delivers them, fixes turned into JSON records as the CLI prints
 * them) and by `gpsdecode -j < file` (Debian gpsd-clients). Goal: our wall
 * time ≤ gpsdecode's.
 */
const TARGET_BYTES = Number(process.env.NMEA_BENCH_BYTES ?? 20 * 1024 * 1024);
const CHUNK = 64 * 1024;

function corpus(): Buffer {
  const parts = readdirSync(capturesDir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => readFileSync(join(capturesDir, n)));
  const one = Buffer.concat(parts.map((p) => (p[p.length - 1] === 0x0a ? p : Buffer.concat([p, Buffer.from('\n')]))));
  const copies = Math.max(1, Math.ceil(TARGET_BYTES / one.length));
  return Buffer.concat(Array.from({ length: copies }, () => one));
}

function ours(bytes: Buffer): { ms: number; fixes: number } {
  const t0 = performance.now();
  const d = new NmeaDecoder();
  let fixes = 0;
  let jsonBytes = 0;
  for (let p = 0; p < bytes.length; p += CHUNK) {
    for (const e of d.push(bytes.subarray(p, p + CHUNK))) {
      if (e.fix !== undefined) {
        fixes++;
        jsonBytes += JSON.stringify(fixToJson(e.fix)).length;
      }
    }
  }
  for (const e of d.end()) if (e.fix !== undefined) fixes++;
  const ms = performance.now() - t0;
  if (jsonBytes < 0) throw new Error('unreachable');
  return { ms, fixes };
}

function gpsdecode(file: string): Promise<{ ms: number; tpv: number } | undefined> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const fd = openSync(file, 'r');
    const child = spawn('gpsdecode', ['-j'], { stdio: [fd, 'pipe', 'ignore'] });
    let tpv = 0;
    let tail = '';
    const stdout = child.stdout!;
    stdout.setEncoding('latin1');
    stdout.on('data', (s: string) => {
      // Count TPV reports cheaply; the output must be consumed for a fair wall time.
      const text = tail + s;
      let at = text.indexOf('"TPV"');
      while (at >= 0) {
        tpv++;
        at = text.indexOf('"TPV"', at + 5);
      }
      tail = text.slice(-5);
    });
    child.on('error', () => {
      closeSync(fd);
      resolve(undefined);
    });
    child.on('close', () => {
      closeSync(fd);
      resolve({ ms: performance.now() - t0, tpv });
    });
  });
}

export async function run(): Promise<BenchRow[]> {
  const bytes = corpus();
  const mb = bytes.length / (1024 * 1024);
  const dir = mkdtempSync(join(tmpdir(), 'nmea-bench-'));
  const file = join(dir, 'corpus.nmea');
  writeFileSync(file, bytes);
  try {
    ours(bytes.subarray(0, 2 * 1024 * 1024)); // warm up the JIT
    const a = ours(bytes);
    const haveGpsdecode = spawnSync('sh', ['-c', 'command -v gpsdecode']).status === 0;
    const g = haveGpsdecode ? await gpsdecode(file) : undefined;
    const rows: BenchRow[] = [
      { bench: 'nmea-decode', metric: `input size`, value: Number(mb.toFixed(1)), unit: 'MB' },
      { bench: 'nmea-decode', metric: 'ours: wall time', value: Math.round(a.ms), unit: 'ms', goal: g ? `<= ${Math.round(g.ms)}` : undefined, met: g ? a.ms <= g.ms : undefined },
      { bench: 'nmea-decode', metric: 'ours: throughput', value: mb / (a.ms / 1000), unit: 'MB/s' },
      { bench: 'nmea-decode', metric: 'ours: fixes', value: a.fixes, unit: 'fixes' },
    ];
    if (g) {
      rows.push(
        { bench: 'nmea-decode', metric: 'gpsdecode -j: wall time', value: Math.round(g.ms), unit: 'ms' },
        { bench: 'nmea-decode', metric: 'gpsdecode -j: throughput', value: mb / (g.ms / 1000), unit: 'MB/s' },
        { bench: 'nmea-decode', metric: 'gpsdecode -j: TPV reports', value: g.tpv, unit: 'reports' },
      );
    } else {
      rows.push({ bench: 'nmea-decode', metric: 'gpsdecode missing (apt-get install gpsd-clients)', value: 0, unit: '' });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void runIfMain(import.meta.url, run);
