import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Where log lines go: a file descriptor written synchronously (a line
 * written before a crash or a SIGKILL is out). A log write that fails (a
 * full disk: ENOSPC, a closed pipe: EPIPE, a quota) must never take the agent
 * down with it, as pino's own destination does by emitting an unhandled
 * 'error': the line is counted as lost instead, and once writing works again
 * a line says how many were lost.
 */
export class SafeLogDestination {
  /** Lines that could not be written since the last line that could. */
  private lostSinceLast = 0;
  /** Lines lost in all. */
  lost = 0;
  private firstError: string | undefined;

  private constructor(
    private fd: number,
    private readonly owned: boolean,
  ) {}

  static fd(fd: number): SafeLogDestination {
    return new SafeLogDestination(fd, false);
  }

  /** Appends to `path`, creating it and its folder. */
  static file(path: string): SafeLogDestination {
    mkdirSync(dirname(path), { recursive: true });
    return new SafeLogDestination(openSync(path, 'a'), true);
  }

  write(line: string): boolean {
    if (this.fd < 0) return false;
    if (this.lostSinceLast > 0) {
      const note = JSON.stringify({ level: 40, time: Date.now(), lostLines: this.lostSinceLast, cause: this.firstError, msg: 'log lines could not be written and are lost' }) + '\n';
      if (!this.writeAll(note)) {
        this.lostSinceLast++;
        this.lost++;
        return false;
      }
      this.lostSinceLast = 0;
      this.firstError = undefined;
    }
    if (this.writeAll(line)) return true;
    this.lostSinceLast++;
    this.lost++;
    return false;
  }

  /** The whole line or nothing said: a partial write is completed, a failed one reported false. */
  private writeAll(text: string): boolean {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    let again = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        // A non-blocking pipe that is full: a few retries, then the line goes (never block the agent on its logs).
        if (code === 'EAGAIN' && ++again < 100) continue;
        this.firstError ??= code;
        return false;
      }
    }
    return true;
  }

  flushSync(): void {
    /* every write is synchronous */
  }

  end(): void {
    if (this.owned && this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
