import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The agent session number (Sparkplug bdSeq): incremented on every MQTT
 * connect and kept on disk, so that a consumer can tell the will of an old
 * connection from the birth of the current one even across agent restarts.
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

  next(): number {
    this.value = (this.value + 1) >>> 0;
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${this.value}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    return this.value;
  }
}
