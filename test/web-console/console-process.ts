import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { consoleCli } from '../helpers/paths.js';
import { runNode } from '../spot-check/spot-rig.js';

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

  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
      setTimeout(() => this.child.kill('SIGKILL'), 10_000).unref();
    });
  }
}
