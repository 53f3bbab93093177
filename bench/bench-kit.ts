/**
 * Benchmarks print figures, they never assert. Each bench file exports
 * `run()` returning rows, and can be run alone: `node dist/bench/NAME.bench.js`.
 */
export interface BenchRow {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  /** The goal as text, e.g. "<= 6"; shown beside the figure. */
  goal?: string;
  /** Whether the figure meets the goal, when there is one. */
  met?: boolean;
  /** Set when the benchmark could not produce its figures: the reason, printed as FAILED. */
  failed?: string;
}

/** The row that stands for a benchmark that threw: the table still prints, and says why. */
export function failedRow(bench: string, err: unknown): BenchRow {
  const reason = err instanceof Error ? err.message : String(err);
  return { bench, metric: 'FAILED', value: NaN, unit: '', failed: reason.split('\n')[0]!.slice(0, 160) };
}

export function printTable(rows: BenchRow[]): void {
  const cells = rows.map((r) =>
    r.failed !== undefined
      ? [r.bench, 'FAILED', '', '', r.failed, 'NO']
      : [r.bench, r.metric, formatNumber(r.value), r.unit, r.goal ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO'],
  );
  const head = ['bench', 'metric', 'value', 'unit', 'goal', 'met'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => (i === 2 ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3);
}

/** Runs a bench module's `run` when the file is executed directly. */
export async function runIfMain(metaUrl: string, run: () => Promise<BenchRow[]>): Promise<void> {
  const { fileURLToPath } = await import('node:url');
  if (process.argv[1] && fileURLToPath(metaUrl) === process.argv[1]) {
    const name = fileURLToPath(metaUrl).replace(/^.*\//, '').replace(/\.bench\.js$/, '');
    let rows: BenchRow[];
    try {
      rows = await run();
    } catch (err) {
      rows = [failedRow(name, err)];
      process.exitCode = 1;
    }
    printTable(rows);
  }
}
