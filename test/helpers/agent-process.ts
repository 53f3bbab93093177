import { spawn, type ChildProcess } from 'node:child_process';
import { agentCli } from './paths.js';

/** The agent as a separate process, exactly as `bwc-agent run --config FILE`. */
export class AgentProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(private readonly configFile: string) {}

  start(): void {
    const child = spawn(process.execPath, [agentCli, 'run', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
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
