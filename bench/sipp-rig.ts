import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort } from '../test/helpers/sipp-platform.js';
import { repoRoot } from '../test/helpers/paths.js';

export { freeUdpPort };

/** SIPp (Debian's sip-tester) as the GB/T 28181 platform of a benchmark, with the scenarios of test/gb28181/sipp/. */

export const GB_SERVER = '34020000002000000001';
export const GB_DOMAIN = GB_SERVER.slice(0, 10);
export const GB_DEVICE = '34020000001180000005';

export interface BenchSipp {
  proc: ChildProcess;
  /** The local SIP port SIPp listens on. */
  port: number;
  /** Resolves with SIPp's exit code when it ends on its own (a client scenario that ran its call). */
  exited: Promise<number | null>;
  /** Sends a SIP message (text, any line ends) to SIPp's port from a socket of its own, e.g. what a scenario waits for. */
  request(text: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts SIPp on a free UDP port with a scenario and its keywords: in server
 * mode (the platform the device registers with), or in client mode when
 * `remote` is given (one call towards the device, e.g. INVITEs). `args` are
 * more SIPp options (-d for the default pause, …).
 */
export async function startSipp(o: { scenario: string; keys: Record<string, string>; remote?: string; args?: string[] }): Promise<BenchSipp> {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-sipp-bench-'));
  const [port, mediaPort] = [await freeUdpPort(), await freeUdpPort()];
  const args = [...(o.remote ? [o.remote, '-m', '1'] : []), '-sf', join(repoRoot, 'test', 'gb28181', 'sipp', o.scenario), '-i', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort), '-t', 'u1', '-nostdin', ...(o.args ?? [])];
  for (const [k, v] of Object.entries(o.keys)) args.push('-key', k, v);
  const proc = spawn('sipp', args, { cwd: dir, stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  // SIPp is listening when its port is taken.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const taken = await new Promise<boolean>((r) => {
      const s = createSocket('udp4');
      s.once('error', () => r(true));
      s.bind(port, '127.0.0.1', () => s.close(() => r(false)));
    });
    if (taken || proc.exitCode !== null) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (proc.exitCode !== null && proc.exitCode !== 0) throw new Error(`sipp ${o.scenario} exited at once (${proc.exitCode})`);
  return {
    proc,
    port,
    exited,
    async request(text: string) {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.send(Buffer.from(text.replace(/\r?\n/g, '\r\n')), port, '127.0.0.1', () => r()));
      s.close();
    },
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
