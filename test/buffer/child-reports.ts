import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TapTest } from '../helpers/tap-test.js';

/** What the append child reported so far. */
export class ChildReports {
  /** id → [device, seq], every message the child saw committed. */
  readonly committed = new Map<number, [string, number]>();
  /** Newest id the child saw durable. */
  synced = 0;
  /** Size of the WAL when `synced` was reported. */
  walBytes = 0;
  lines = 0;
  private waiters: (() => void)[] = [];

  /** Highest seq reported per device. */
  lastSeqs(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [dev, seq] of this.committed.values()) out.set(dev, Math.max(out.get(dev) ?? 0, seq));
    return out;
  }

  line(text: string): void {
    const r = JSON.parse(text) as { append?: [number, string, number][]; synced?: number; walBytes?: number };
    for (const [id, dev, seq] of r.append ?? []) this.committed.set(id, [dev, seq]);
    if (r.synced !== undefined) {
      this.synced = r.synced;
      this.walBytes = r.walBytes ?? 0;
    }
    this.lines++;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `cond` holds (checked on every line). */
  until(cond: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (cond() ? resolve() : this.waiters.push(check));
      check();
    });
  }
}

/** Starts the append child on `dbPath`; it is killed when the test ends. */
export function startAppendChild(t: TapTest, dbPath: string, syncEvery = 10): { child: ChildProcess; reports: ChildReports; exited: Promise<unknown> } {
  const script = fileURLToPath(new URL('./append-child.js', import.meta.url));
  const child = spawn(process.execPath, [script, dbPath, String(syncEvery)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const reports = new ChildReports();
  createInterface({ input: child.stdout! }).on('line', (l) => reports.line(l));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return { child, reports, exited };
}
