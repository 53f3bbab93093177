import { spawn, type ChildProcess } from 'node:child_process';
import { agentCli } from './paths.js';

/** The agent as a separate process, exactly as `bwc-agent run --config FILE`. */
export class AgentProcess {
  private child: ChildProcess | undefined;
  output = '';

  /** `nodeArgs`: flags for node itself (a benchmark's --cpu-prof). */
  constructor(private readonly configFile: string, private readonly nodeArgs: string[] = []) {}

  start(): void {
    const child = spawn(process.execPath, [...this.nodeArgs, agentCli, 'run', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
  }

  /** The agent's process id while it runs (its ffmpeg children are found under it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    return exited;
  }
}
