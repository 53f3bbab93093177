import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../helpers/paths.js';
import { agentCliFor } from '../helpers/reachable-cli.js';
import { SeededRandom } from '../../sim/gnss/random.js';
import { loadScaled } from '../helpers/deadline.js';

/**
 * What every chaos scenario shares: the scale knob, seeded randomness, the
 * place results and logs go, and the agent as a supervised process whose
 * every start, signal and exit is counted.
 */

/** CHAOS_SCALE=0.1 runs a tenth of every count and duration (quick local runs); CI runs 1. */
export const SCALE = Number(process.env.CHAOS_SCALE ?? 1);
if (!(SCALE > 0 && SCALE <= 10)) throw new Error(`CHAOS_SCALE must be above 0 and at most 10, got ${process.env.CHAOS_SCALE}`);

/** A count or a duration scaled down for quick runs, never below `min`. */
export function scaled(n: number, min = 1): number {
  return Math.max(min, Math.round(n * SCALE));
}

/** Seed of the whole run: printed, and CHAOS_SEED=… replays the same random moments. */
export const SEED = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 0x7fffffff));

export function rng(salt: number): SeededRandom {
  return new SeededRandom((SEED ^ salt) >>> 0);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Per-scenario JSON results, rendered into docs/RELIABILITY.md by render-report.ts. */
export const resultsDir = process.env.CHAOS_RESULTS_DIR ?? join(repoRoot, 'test', 'chaos', 'results');
/** Every agent's output of the run, for the secret scan at the end. */
export const logDir = process.env.CHAOS_LOG_DIR ?? join(tmpdir(), 'bwc-chaos-logs');

/** A secret every scenario's agent is given (broker password), so the log scan has something to find. */
export const CHAOS_PASSWORD = `chaos-pw-${SEED.toString(36)}-Zq7#not-for-logs`;

export function writeResult(scenario: string, result: Record<string, unknown>): void {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${scenario}.json`);
  writeFileSync(file, JSON.stringify({ scenario, scale: SCALE, seed: SEED, finishedAt: new Date().toISOString(), ...result }, null, 2) + '\n');
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `bwc-chaos-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A secret file as the loader wants it: not readable by every user. */
export function secretFile(path: string, content: string, owner?: { uid: number; gid: number }): string {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** Writes an agent configuration: the base every scenario uses, then its own sections on top. */
export function writeAgentConfig(file: string, cfg: Record<string, unknown>): string {
  writeFileSync(file, stringify(cfg));
  return file;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The test sent this signal (a planned kill), as opposed to the agent dying by itself. */
  expected: boolean;
  atMs: number;
}

/**
 * The agent as `node bwc-agent run --config FILE`, restartable. Output goes
 * to a log file per scenario (scanned for secrets at the end of the run) and
 * the tail is kept in memory for failure messages. Every exit the test did
 * not ask for is a crash.
 */
export class ChaosAgent {
  private child: ChildProcess | undefined;
  readonly exits: AgentExit[] = [];
  starts = 0;
  private tail = '';
  readonly logFile: string;
  private lineListeners: Array<(line: string) => void> = [];
  private partial = '';

  constructor(
    private readonly configFile: string,
    scenario: string,
    private readonly spawnAs?: { uid: number; gid: number },
    private readonly env: Record<string, string> = {},
  ) {
    mkdirSync(logDir, { recursive: true });
    this.logFile = join(logDir, `${scenario}.log`);
    writeFileSync(this.logFile, '');
  }

  start(): void {
    if (this.running) throw new Error('agent already running');
    const argv = [agentCliFor(this.spawnAs?.uid), 'run', '--config', this.configFile];
    // As another user, a plain environment: tap adds its loaders (in this checkout, which that user may not reach) to
    // every child's environment, whatever env is given; `env -i` starts the agent without them (it execs: same pid).
    const [cmd, args] = this.spawnAs
      ? ['env', ['-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, 'LANG=C.UTF-8', ...Object.entries(this.env).map(([k, v]) => `${k}=${v}`), process.execPath, ...argv]]
      : [process.execPath, argv];
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
      ...(this.spawnAs ? { uid: this.spawnAs.uid, gid: this.spawnAs.gid, cwd: '/' } : {}),
    });
    this.starts++;
    const onData = (d: Buffer) => {
      const s = d.toString();
      appendFileSync(this.logFile, s);
      this.tail = (this.tail + s).slice(-20_000);
      if (this.lineListeners.length === 0) return;
      this.partial += s;
      const lines = this.partial.split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) for (const cb of this.lineListeners) cb(l);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let expected = false;
    (child as ChildProcess & { planned?: () => void }).planned = () => (expected = true);
    child.once('exit', (code, signal) => {
      this.exits.push({ code, signal, expected, atMs: Date.now() });
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
  }

  onLine(cb: (line: string) => void): void {
    this.lineListeners.push(cb);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get output(): string {
    return this.tail;
  }

  /** Exits the test did not cause: crashes. */
  get crashes(): AgentExit[] {
    return this.exits.filter((e) => !e.expected);
  }

  /** Sends a planned signal and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<AgentExit | undefined> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    (child as ChildProcess & { planned?: () => void }).planned?.();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
    return this.exits[this.exits.length - 1];
  }

  /** A clean stop (SIGTERM), with a SIGKILL if it takes longer than `graceMs`. */
  async stop(graceMs = 20_000): Promise<AgentExit | undefined> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const exit = await this.kill('SIGTERM');
    clearTimeout(timer);
    return exit;
  }
}

/** The base configuration of a chaos agent: dense reporting, fast reconnects, the chaos password. */
export function baseConfig(o: {
  id: string;
  dataDir: string;
  brokers: string[];
  devices: Array<{ device: string; port: string; control?: string }>;
  passwordFile: string;
}): Record<string, any> {
  return {
    agent: { id: o.id, dataDir: o.dataDir },
    log: { level: 'info' },
    mqtt: {
      brokers: o.brokers,
      keepaliveS: 5,
      connectTimeoutMs: 3000,
      username: 'chaos',
      passwordFile: o.passwordFile,
      reconnect: { minMs: 100, maxMs: 1000 },
    },
    devices: o.devices.map((p) => ({ id: p.device, gnss: p.port, ...(p.control ? { control: p.control } : {}), baud: 115200 })),
    // One fix a second per camera whatever it does, so every second read shows on the wire.
    reporting: { recordingIntervalS: 1, movingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
    devicePorts: { statusIntervalS: 10, reconnect: { minMs: 100, maxMs: 1000 } },
  };
}

/**
 * Waits for a condition, polling; throws naming what it waited for. The
 * deadline grows with the machine's load (test/helpers/deadline.ts), read
 * again while waiting: a step that takes 10 s on a quiet machine takes
 * several times that beside other CPU-bound work.
 */
export async function waitFor(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  let limit = loadScaled(timeoutMs);
  while (!(await pred())) {
    limit = Math.max(limit, loadScaled(timeoutMs));
    if (Date.now() - start > limit) throw new Error(`timed out after ${Date.now() - start} ms waiting for ${what} (${timeoutMs} ms on a quiet machine, load average ${loadavg()[0]!.toFixed(1)})`);
    await sleep(100);
  }
}

/**
 * Awaits one step of a scenario (an unplug, a stop) and throws naming it if
 * it has not finished within `ms`: a step that hangs fails the scenario
 * saying where, instead of running it into the runner's timeout.
 */
export async function step<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
