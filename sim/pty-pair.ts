import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BwcError } from '../common/errors.js';
import { spawnOwned } from '../drivers/process/spawn-owned.js';

/**
 * Two real pseudo-terminals wired back to back by socat: what one side
 * writes, the other reads, exactly as a USB serial camera and its host.
 * The simulated camera opens `cameraSide`; the agent opens `hostSide` as it
 * would open /dev/ttyUSB0. Killing the pair is an unplug: both ends go away
 * and readers see the port close; `open` again on the same paths is a replug.
 */
export interface PtyPair {
  readonly hostSide: string;
  readonly cameraSide: string;
  /** Unplugs: both terminals disappear. Resolves when socat has exited. */
  close(): Promise<void>;
  readonly closed: boolean;
}

export interface PtyPairOptions {
  /** Paths of the symlinks to create; default: a fresh temp folder. */
  hostSide?: string;
  cameraSide?: string;
  /** How long to wait for socat to create both terminals. */
  timeoutMs?: number;
}

/** How long socat gets to leave on SIGTERM before it is killed. */
const KILL_AFTER_MS = 2000;

export async function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  let dir: string | undefined;
  if (!options.hostSide || !options.cameraSide) dir = mkdtempSync(join(tmpdir(), 'bwc-pty-'));
  const hostSide = options.hostSide ?? join(dir!, 'host');
  const cameraSide = options.cameraSide ?? join(dir!, 'camera');
  const timeoutMs = options.timeoutMs ?? 10_000;

  const child: ChildProcess = spawnOwned(
    'socat',
    [`PTY,raw,echo=0,link=${hostSide}`, `PTY,raw,echo=0,link=${cameraSide}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));

  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(hostSide) && existsSync(cameraSide))) {
    if (spawnError) {
      throw new BwcError('PTY_UNAVAILABLE', `cannot start socat to make pseudo-terminals (install the socat package): ${spawnError.message}`, { cause: spawnError });
    }
    if (child.exitCode !== null) {
      const missing = /failed to execute/.test(stderr) ? ' (install the socat package)' : '';
      throw new BwcError('PTY_UNAVAILABLE', `socat exited before creating the terminals: ${stderr.trim()}${missing}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new BwcError('PTY_UNAVAILABLE', `socat did not create ${hostSide} and ${cameraSide} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }

  let closed = false;
  return {
    hostSide,
    cameraSide,
    get closed() {
      return closed;
    },
    async close() {
      if (!closed) {
        closed = true;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          // An unplug must finish: a socat that does not go on SIGTERM (its exit stuck on a
          // terminal, or never scheduled on a starved machine) goes on SIGKILL.
          const kill = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
          await exited;
          clearTimeout(kill);
        }
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
