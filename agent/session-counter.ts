import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The agent session number (Sparkplug bdSeq): one per established MQTT
 * session, kept on disk, so that a consumer can tell the will of an old
 * connection from the birth of the current one even across agent restarts.
 *
 * Every connection attempt carries `upcoming` (the last established session
 * + 1) in its will; only a CONNACK makes it count (`established`), so failed
 * attempts and a refused MQTT 5 attempt reuse the number. Reusing it is safe:
 * an attempt that failed registered no will, or (CONNACK lost on the way) the
 * broker publishes that connection's will when the next attempt with the
 * same client id takes over, before it acknowledges the new one, so the will
 * still comes before the birth of the same number.
 */
export class SessionCounter {
  private value: number;

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    let v = 0;
    try {
      v = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    } catch {
      v = 0;
    }
    this.value = Number.isFinite(v) && v >= 0 ? v : 0;
  }

  get current(): number {
    return this.value;
  }

  /** The number the next established session will have. */
  get upcoming(): number {
    return (this.value + 1) >>> 0;
  }

  /** A session was established with `upcoming`: it counts from now on (written before the birth goes out). */
  established(session: number): void {
    if (session === this.value) return;
    this.write(session);
  }

  private write(value: number): void {
    this.value = value;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${this.value}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }
}
