import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import iconv from 'iconv-lite';
import { freePort } from './mosquitto.js';
import { repoRoot } from './paths.js';
import type { TapTest } from './tap-test.js';

/** A free UDP port on loopback (bound then released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function portTaken(transport: 'UDP' | 'TCP', port: number): Promise<boolean> {
  if (transport === 'TCP') {
    return new Promise((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
  }
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(true));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/** One SIP message SIPp logged, body decoded from GB2312. */
export interface LoggedSip {
  direction: 'sent' | 'received';
  startLine: string;
  headers: string;
  body: string;
}

export interface SippPlatform {
  port: number;
  proc: ChildProcess;
  /** Every message SIPp has logged so far. */
  messages(): LoggedSip[];
  /** The error log (unexpected messages, failed checks). */
  errors(): string;
  waitFor(what: string, pred: (m: LoggedSip[]) => boolean, timeoutMs?: number): Promise<LoggedSip[]>;
  stop(): Promise<number | null>;
}

/**
 * SIPp (Debian's sip-tester) playing the GB/T 28181 platform: a scenario
 * under test/gb28181/sipp/ run in server mode on a free port, with keywords
 * for the ids and password; its message log is read back by the test.
 */
export async function startSippPlatform(t: TapTest, o: { scenario: string; transport: 'UDP' | 'TCP'; keys: Record<string, string> }): Promise<SippPlatform> {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-sipp-'));
  const port = o.transport === 'UDP' ? await freeUdpPort() : await freePort();
  const mediaPort = await freeUdpPort();
  const msgFile = join(dir, 'messages.log');
  const errFile = join(dir, 'errors.log');
  const args = ['-sf', join(repoRoot, 'test', 'gb28181', 'sipp', o.scenario), '-i', '127.0.0.1', '-p', String(port), '-mp', String(mediaPort),
    '-t', o.transport === 'UDP' ? 'u1' : 't1', '-nostdin', '-trace_msg', '-message_file', msgFile, '-trace_err', '-error_file', errFile,
    '-timeout', '120', '-max_recv_loops', '1000'];
  for (const [k, v] of Object.entries(o.keys)) args.push('-key', k, v);
  const proc = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let done = false;
  const stop = async () => {
    if (!done) {
      done = true;
      proc.kill('SIGTERM');
    }
    return exited;
  };
  t.teardown(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // SIPp is up when its port is taken.
  const deadline = Date.now() + 10_000;
  while (!(await portTaken(o.transport, port))) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`sipp did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const messages = () => (existsSync(msgFile) ? parseSippLog(readFileSync(msgFile)) : []);
  const platform: SippPlatform = {
    port,
    proc,
    messages,
    errors: () => (existsSync(errFile) ? readFileSync(errFile, 'utf8') : ''),
    async waitFor(what, pred, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const m = messages();
        if (pred(m)) return m;
        if (Date.now() > end) throw new Error(`SIPp platform: ${what} not seen within ${timeoutMs} ms; errors: ${platform.errors().slice(-2000)}; sipp: ${stderr.slice(-500)}`);
        if (proc.exitCode !== null) throw new Error(`SIPp exited (${proc.exitCode}) before ${what}: ${stderr.slice(-1000)} ${platform.errors().slice(-1000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
  return platform;
}

/** SIPp's -trace_msg file: blocks headed by a dashed time line and "UDP message received [n] bytes :". */
export function parseSippLog(raw: Buffer): LoggedSip[] {
  const text = raw.toString('latin1');
  const out: LoggedSip[] = [];
  const re = /(?:UDP|TCP) message (sent|received)[^\n]*\n\n([\s\S]*?)(?=\n-{10,}[^\n]*\n|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const msg = m[2]!;
    const split = msg.search(/\r?\n\r?\n/);
    const head = split < 0 ? msg : msg.slice(0, split);
    const body = split < 0 ? '' : msg.slice(split).replace(/^\r?\n\r?\n/, '');
    const lines = head.split(/\r?\n/);
    out.push({
      direction: m[1] as 'sent' | 'received',
      startLine: lines[0]!.trim(),
      headers: lines.slice(1).join('\n'),
      body: iconv.decode(Buffer.from(body, 'latin1'), 'gbk').trim(),
    });
  }
  return out;
}

export const received = (ms: LoggedSip[], start: RegExp, body?: RegExp) =>
  ms.filter((m) => m.direction === 'received' && start.test(m.startLine) && (!body || body.test(m.body)));
