import { spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { spawnOwned } from '../process/spawn-owned.js';
import type { Readable, Writable } from 'node:stream';

/**
 * ffmpeg as a child process that cannot outlive its owner: it runs in its
 * own process group (so its threads and any helper it forks go with it), is
 * killed by group on stop, every group still running is killed when the
 * Node process exits, and a SIGKILL of the Node process takes it too
 * (spawnOwned: the parent-death signal). stderr keeps a short tail so a failure can say why.
 */

const running = new Set<number>();

/**
 * stderr lines that say nothing about why ffmpeg ended and would push the
 * reason out of the tail: a raw H.264 output keeps no timestamps, yet the
 * muxer complains about the per-NAL packets of an RTSP input sharing one.
 */
const NOISE = /non monotonically increasing dts to muxer/;
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of running) killGroup(pid, 'SIGKILL');
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines ffmpeg wrote to stderr. */
  stderrTail: string;
  /** True when stop() asked for the end. */
  stopped: boolean;
}

export class FfmpegProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly exited: Promise<FfmpegExit>;
  private tail = '';
  private stopping = false;
  private gone = false;

  constructor(readonly args: string[], ffmpegPath = 'ffmpeg') {
    installExitHook();
    // Its own process group, and Linux's parent-death signal: it dies with us even on a SIGKILL.
    this.child = spawnOwned(ffmpegPath, ['-hide_banner', '-nostdin', '-loglevel', 'error', ...args], { stdio: ['pipe', 'pipe', 'pipe'] }) as ChildProcessByStdio<Writable, Readable, Readable>;
    const pid = this.child.pid;
    if (pid !== undefined) running.add(pid);
    this.child.stderr.setEncoding('utf8');
    let line = '';
    this.child.stderr.on('data', (s: string) => {
      const lines = (line + s).split('\n');
      line = lines.pop()!.slice(-2000);
      const kept = lines.filter((l) => !NOISE.test(l));
      if (kept.length) this.tail = (this.tail + kept.join('\n') + '\n').slice(-2000);
    });
    this.child.stderr.on('end', () => {
      if (line && !NOISE.test(line)) this.tail = (this.tail + line).slice(-2000);
    });
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      let settled = false;
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        this.gone = true;
        if (pid !== undefined) {
          running.delete(pid);
          // Anything ffmpeg left in its group goes too.
          killGroup(pid, 'SIGKILL');
        }
        resolve({ code, signal, stderrTail: this.tail.trim().split('\n').slice(-3).join(' | '), stopped: this.stopping });
      };
      this.child.on('close', done);
      this.child.on('error', (err) => {
        this.tail += `\n${err.message}`;
        done(null, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Ends ffmpeg: `graceful` sends SIGINT first so a muxer writes its trailer
   * (an MP4's index); after `graceMs` the whole group is killed.
   */
  async stop(graceful = false, graceMs = 2000): Promise<FfmpegExit> {
    this.stopping = true;
    const pid = this.child.pid;
    if (pid !== undefined && !this.gone) {
      if (graceful) {
        killGroup(pid, 'SIGINT');
        const t = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
        const r = await this.exited;
        clearTimeout(t);
        return r;
      }
      killGroup(pid, 'SIGKILL');
    }
    return this.exited;
  }
}

/** One line on why an ffmpeg run ended, for replies and logs. */
export function describeExit(e: FfmpegExit): string {
  const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  return `ffmpeg ${how}${e.stderrTail ? `: ${e.stderrTail}` : ''}`;
}

export interface FfmpegCheck {
  ok: boolean;
  version?: string;
  libx264: boolean;
  detail: string;
}

const checks = new Map<string, FfmpegCheck>();

/** Whether ffmpeg runs and has libx264 (cached per path). */
export function checkFfmpeg(ffmpegPath = 'ffmpeg'): FfmpegCheck {
  const cached = checks.get(ffmpegPath);
  if (cached) return cached;
  let result: FfmpegCheck;
  const v = spawnSync(ffmpegPath, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 });
  if (v.error || v.status !== 0) {
    result = { ok: false, libx264: false, detail: `${ffmpegPath} cannot run (${v.error ? (v.error as NodeJS.ErrnoException).code ?? v.error.message : `exit ${v.status}`}): install ffmpeg (Debian: apt-get install ffmpeg)` };
  } else {
    const version = /ffmpeg version (\S+)/.exec(v.stdout)?.[1] ?? 'unknown';
    const enc = spawnSync(ffmpegPath, ['-hide_banner', '-encoders'], { encoding: 'utf8', timeout: 10_000 });
    const libx264 = /libx264/.test(enc.stdout ?? '');
    result = { ok: libx264, version, libx264, detail: libx264 ? `ffmpeg ${version} with libx264` : `ffmpeg ${version} has no libx264 encoder: video cannot be encoded` };
  }
  checks.set(ffmpegPath, result);
  return result;
}
