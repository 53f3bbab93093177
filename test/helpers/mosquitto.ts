import type { ChildProcess } from 'node:child_process';
import { spawnOwned } from '../../drivers/process/spawn-owned.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TapTest } from './tap-test.js';
import { createServer, connect } from 'node:net';

/** A free TCP port on loopback (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A real mosquitto of the test's own on a free port (mosquitto 2 without a
 * config file listens on loopback only), so a test can stop and restart it
 * without touching the machine's broker.
 */
export class TestMosquitto {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    /** Its config file (sessions and queued messages kept across restarts when persistent). */
    private readonly conf: string,
  ) {}

  /**
   * `persistent`: subscriptions and queued QoS 1 messages survive a stop by
   * SIGTERM, so a subscriber with a persistent session gets what was published
   * while it was reconnecting: a loss it counts is then the agent's own.
   */
  static async start(port?: number, opts: { persistent?: boolean; conf?: string[] } = {}): Promise<TestMosquitto> {
    const p = port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'bwc-mosquitto-'));
    const conf = join(dir, 'mosquitto.conf');
    // Started by root, mosquitto would drop to its own user, which cannot
    // write here, and a change of user clears the parent-death signal that
    // ends the broker with a test process killed before its teardown.
    const persistence = opts.persistent ? ['persistence true', `persistence_location ${dir}/`] : [];
    writeFileSync(conf, [`listener ${p} 127.0.0.1`, 'allow_anonymous true', 'user root', ...persistence, ...(opts.conf ?? []), ''].join('\n'));
    const m = new TestMosquitto(p, conf);
    await m.restart();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async restart(): Promise<void> {
    if (this.child) return;
    const child = spawnOwned('mosquitto', ['-c', this.conf], { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    await waitForPort(this.port);
  }

  /** SIGKILL: the broker vanishes; SIGTERM: a persistent one saves its sessions first. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  }
}

/**
 * mosquitto with a configuration file of the test's own (TLS listeners,
 * passwords, ACLs), listening on `port`, killed at teardown.
 */
export async function startConfiguredMosquitto(t: TapTest, conf: string, port: number): Promise<ChildProcess> {
  const child: ChildProcess = spawnOwned('mosquitto', ['-c', conf], { stdio: 'ignore' });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  });
  await waitForPort(port);
  return child;
}
