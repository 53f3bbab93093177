import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { agentCli } from '../test/helpers/paths.js';

/**
 * What the agent benchmarks share: the agent and the simulator as separate
 * processes (exactly as users run them), an agent configuration, and the
 * process figures read from /proc (CPU ticks, RSS) with the machine's load
 * beside them, since this machine has two cores shared with other work.
 */

const CLK_TCK = 100;

export interface ProcSample {
  atMs: number;
  /** utime + stime of the process, seconds. */
  cpuS: number;
  rssMb: number;
  /** Peak RSS so far (VmHWM). */
  peakRssMb: number;
  /** Private anonymous memory (heap, stacks, native allocations): RSS without the file pages of node and its libraries. */
  anonMb: number;
}

export function sampleProcess(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { atMs: Date.now(), cpuS: ticks / CLK_TCK, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024 };
}

/** CPU of one process between two samples, as a percentage of one core. */
export function cpuPercent(a: ProcSample, b: ProcSample): number {
  return (100 * (b.cpuS - a.cpuS)) / ((b.atMs - a.atMs) / 1000);
}

/** Busy share of the whole machine (all cores) between two readings of /proc/stat, percent of all cores. */
export class MachineLoad {
  private last = MachineLoad.read();
  static read(): { busy: number; total: number } {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = line[3]! + (line[4] ?? 0);
    const total = line.reduce((s, v) => s + v, 0);
    return { busy: total - idle, total };
  }
  /** Percent of all cores busy since the previous call (or construction). */
  busyPercent(): number {
    const now = MachineLoad.read();
    const pct = (100 * (now.busy - this.last.busy)) / Math.max(1, now.total - this.last.total);
    this.last = now;
    return pct;
  }
}

export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SimPorts {
  device: string;
  port: string;
  control: string;
}

/** `bwc-agent sim … --json` (or `script` printing the same lines) as a separate process; resolves once every camera's ports are printed. */
export async function startSimProcess(args: string[], cameras: number, script?: string): Promise<{ child: ChildProcess; ports: SimPorts[]; stop: () => Promise<void> }> {
  const argv = script ? [script, ...args] : [agentCli, 'sim', '--json', ...args];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ports: SimPorts[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`simulator printed ${ports.length} of ${cameras} cameras in 60 s: ${stderr.slice(-2000)}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited (${code}) before its ports were ready: ${stderr.slice(-2000)}`));
    });
    lines.on('line', (line) => {
      if (!line.startsWith('{')) return;
      ports.push(JSON.parse(line) as SimPorts);
      if (ports.length === cameras) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { child, ports, stop: () => stopChild(child, 'SIGTERM') };
}

/** Sends `signal` and waits for the exit; SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

export interface AgentConfigOptions {
  id: string;
  dataDir: string;
  broker: string;
  devices: SimPorts[];
  /** Reporting section; default: the schema's defaults (the policy a deployment runs). */
  reporting?: Record<string, number>;
  logLevel?: string;
  /** Serve /metrics on 127.0.0.1 at this port. */
  httpPort?: number;
}

export function writeAgentConfig(file: string, o: AgentConfigOptions): void {
  writeFileSync(
    file,
    stringify({
      agent: { id: o.id, dataDir: o.dataDir },
      log: { level: o.logLevel ?? 'warn' },
      ...(o.httpPort ? { http: { enabled: true, host: '127.0.0.1', port: o.httpPort } } : {}),
      mqtt: { brokers: [o.broker], reconnect: { minMs: 200, maxMs: 2000 } },
      devices: o.devices.map((p) => ({ id: p.device, gnss: p.port, ...(p.control ? { control: p.control } : {}) })),
      ...(o.reporting ? { reporting: o.reporting } : {}),
    }),
  );
}

/** `bwc-agent run --config FILE` as a separate process; its output kept for a failure message. */
export function startAgentProcess(configFile: string, nodeArgs: string[] = []): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [...nodeArgs, agentCli, 'run', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 100_000) out = out.slice(-50_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => out };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Sum of every series of one metric family on the agent's /metrics (Prometheus text). */
export async function scrapeSum(port: number, family: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(family + '{') || line.startsWith(family + ' ')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
