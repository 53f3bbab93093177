import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** Debian's python3-gi lives in the system Python, not in whatever `python3` is first on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(repoRoot, 'test', 'video', 'rtsp-server.py');

export interface RtspServerOptions {
  /** 0 or left out: a free port the kernel picks; a number: that one (a restart on the same URL). */
  port?: number;
  path?: string;
  width?: number;
  height?: number;
  fps?: number;
  kbps?: number;
}

export interface RtspServer {
  port: number;
  /** rtsp://127.0.0.1:PORT/PATH */
  url: string;
  proc: ChildProcess;
  /** What the server wrote to stderr. */
  stderr(): string;
  /** Sends a signal (SIGKILL: the server vanishes; SIGSTOP: it freezes with its sockets open). */
  signal(sig: NodeJS.Signals): void;
  /** Ends it (SIGKILL, after a SIGCONT in case it was frozen) and waits for the exit. */
  stop(): Promise<void>;
}

/** Why the machine cannot run the test server, or undefined when it can. */
export function rtspServerMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer; Gst.init(None); import sys; sys.exit(0 if Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('rtph264pay') else 3)"], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `${PYTHON} cannot run (${r.error.message}): apt-get install python3-gi`;
  if (r.status === 3) return 'GStreamer has no x264enc or rtph264pay: apt-get install gstreamer1.0-plugins-ugly gstreamer1.0-plugins-good';
  if (r.status !== 0) return `GStreamer's RTSP server cannot be loaded (${r.stderr.trim().split('\n').pop()}): apt-get install gir1.2-gst-rtsp-server-1.0`;
  return undefined;
}

/**
 * GStreamer's RTSP server (test/video/rtsp-server.py) serving a live H.264
 * test pattern on loopback, as a Wi-Fi camera serves its stream. Resolves
 * once clients can connect; `owner.teardown` ends it.
 */
export async function startRtspServer(owner: { teardown(fn: () => unknown): void }, o: RtspServerOptions = {}): Promise<RtspServer> {
  const path = o.path ?? '/cam';
  const args = [SCRIPT, '--port', String(o.port ?? 0), '--path', path, '--width', String(o.width ?? 320), '--height', String(o.height ?? 180), '--fps', String(o.fps ?? 15), '--kbps', String(o.kbps ?? 300)];
  const proc = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
    }
    await exited;
  };
  owner.teardown(stop);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the RTSP server did not start within 30 s: ${err}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the RTSP server exited (${code}) before listening: ${err}`));
    });
  });
  return {
    port,
    url: `rtsp://127.0.0.1:${port}${path}`,
    proc,
    stderr: () => err,
    signal: (sig) => void proc.kill(sig),
    stop,
  };
}
