import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { consoleCli } from '../helpers/paths.js';
import { runNode } from '../spot-check/spot-rig.js';

/** How a console process ended: its status or the signal that ended it, and how long the stop took. */
export interface ConsoleExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

export interface Owner {
  teardown(fn: () => unknown): void;
}

/** `bwc-console serve` as a process, with accounts made by `bwc-console user add`. */
export class ConsoleProcess {
  output = '';
  private constructor(readonly url: string, readonly child: ChildProcess, readonly dataDir: string) {}

  static async addUser(dataDir: string, name: string, role: string, password: string): Promise<void> {
    const file = join(dataDir, `..`, `${name}.password`);
    writeFileSync(file, `${password}\n`, { mode: 0o600 });
    const r = await runNode(consoleCli, ['user', 'add', name, '--role', role, '--password-file', file, '--data-dir', dataDir, '--json']);
    if (r.code !== 0) throw new Error(`user add failed: ${r.stderr}`);
  }

  static async start(t: Owner, args: string[], dataDir: string): Promise<ConsoleProcess> {
    const child = spawn(process.execPath, [consoleCli, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`serve printed no URL in 60 s: ${out} ${output}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^console: (http:\/\/\S+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited (${code}): ${output}`));
      });
    });
    const p = new ConsoleProcess(url, child, dataDir);
    child.stderr!.on('data', (d: Buffer) => (p.output += d.toString()));
    t.teardown(() => p.stop());
    return p;
  }

  private stopping: Promise<ConsoleExit> | undefined;

  /**
   * SIGTERM, and SIGKILL if it is still there after `killAfterMs`: how it
   * ended. Any number of calls (a test's own and its teardown's) get the same
   * answer, also when the process had already ended, by a signal or not.
   */
  stop(killAfterMs = 30_000): Promise<ConsoleExit> {
    const child = this.child;
    this.stopping ??= new Promise<ConsoleExit>((resolve) => {
      const t0 = Date.now();
      if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode, ms: 0 });
      const kill = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      child.once('exit', (code, signal) => {
        clearTimeout(kill);
        resolve({ code, signal, ms: Date.now() - t0 });
      });
      child.kill('SIGTERM');
    });
    return this.stopping;
  }
}
