import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { failedRow, printTable, type BenchRow } from './bench-kit.js';

/**
 * Runs every bench/*.bench.js (or those named on the command line) and prints
 * one table. A benchmark that throws gets a FAILED row with its reason, the
 * others still run, and the exit status is then non-zero.
 */
async function main(): Promise<void> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const only = process.argv.slice(2);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.bench.js'))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  const rows: BenchRow[] = [];
  for (const f of files) {
    process.stderr.write(`running ${f}\n`);
    try {
      const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run: () => Promise<BenchRow[]> };
      rows.push(...(await mod.run()));
    } catch (err) {
      process.stderr.write(`${f} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      rows.push(failedRow(f.replace(/\.bench\.js$/, ''), err));
    }
  }
  printTable(rows);
  if (rows.some((r) => r.failed !== undefined)) process.exitCode = 1;
}

void main();
