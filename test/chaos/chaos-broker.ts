import type { ChildProcess } from 'node:child_process';
import { spawnOwned } from '../../drivers/process/spawn-owned.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from '../helpers/mosquitto.js';

export interface BrokerListener {
  port: number;
  /** Lines added to this listener's section (cafile, certfile, require_certificate …). */
  lines?: string[];
}

/**
 * mosquitto with a configuration file of the test's own: persistence on (so
 * a stopped broker keeps what it had accepted for a subscriber with a
 * persistent session), extra listeners for TLS, and stop by any signal.
 */
export class ChaosMosquitto {
  private child: ChildProcess | undefined;
  log = '';
  starts = 0;

  private constructor(readonly dir: string, readonly port: number, private readonly extra: BrokerListener[]) {}

  static async start(dir: string, o: { extra?: BrokerListener[]; port?: number } = {}): Promise<ChaosMosquitto> {
    mkdirSync(dir, { recursive: true });
    const b = new ChaosMosquitto(dir, o.port ?? (await freePort()), o.extra ?? []);
    await b.restart();
    return b;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  private writeConfig(): string {
    const file = join(this.dir, 'mosquitto.conf');
    const lines = [
      // Run as root, mosquitto drops to the user "mosquitto", which cannot write the persistence
      // file or read the keys in the test's private temp folder: stay who started it.
      'user root',
      'per_listener_settings true',
      'persistence true',
      `persistence_location ${this.dir}/`,
      'autosave_interval 1',
      'max_queued_messages 0',
      'max_inflight_messages 0',
      `listener ${this.port} 127.0.0.1`,
      'allow_anonymous true',
    ];
    for (const l of this.extra) lines.push(`listener ${l.port} 127.0.0.1`, 'allow_anonymous true', ...(l.lines ?? []));
    writeFileSync(file, lines.join('\n') + '\n');
    return file;
  }

  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawnOwned('mosquitto', ['-c', this.writeConfig()], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)));
    this.child = child;
    this.starts++;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    try {
      await waitForPort(this.port);
      for (const l of this.extra) await waitForPort(l.port);
    } catch (err) {
      throw new Error(`mosquitto did not start: ${(err as Error).message}; its output: ${this.log.slice(-2000)}`);
    }
  }

  /** SIGTERM: mosquitto saves its persistence file and exits; SIGKILL: it vanishes. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}
