/**
 * Transfer progress on stderr (stdout is kept for the table or the JSON):
 * at most one line per device every `everyMs`, and every notable event
 * (a resume, a failure) at once.
 */
export class Progress {
  private last = new Map<string, number>();

  constructor(
    private readonly out: NodeJS.WritableStream | undefined,
    private readonly everyMs = 1000,
  ) {}

  note(device: string, text: string): void {
    this.out?.write(`${device}: ${text}\n`);
  }

  transfer(device: string, what: string, done: number, total: number | undefined, startedMs: number): void {
    const now = Date.now();
    if (now - (this.last.get(device) ?? 0) < this.everyMs) return;
    this.last.set(device, now);
    const s = Math.max(0.001, (now - startedMs) / 1000);
    const pct = total ? ` (${((100 * done) / total).toFixed(0)}%)` : '';
    this.out?.write(`${device}: ${what} ${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''}${pct}, ${formatBytes(done / s)}/s\n`);
  }
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${Math.round(n)} B`;
}
