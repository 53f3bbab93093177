import { createHash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordingTrigger } from '../../drivers/camera/camera-driver.js';
import { MANIFEST_SUFFIX, serializeManifest, type FootageManifest } from '../../drivers/camera/footage-manifest.js';

export const MJPEG_CONTENT_TYPE = 'video/x-mjpeg';

/**
 * One recording being written to the simulated camera's storage: an MJPEG
 * file (JPEG frames back to back, which ffplay -f mjpeg and VLC play) and,
 * when it ends, the sidecar manifest that makes it appear in the recording
 * list. The manifest is written last and renamed into place, so a reader
 * never sees a recording whose size or hash is not final.
 */
export class FootageRecorder {
  readonly file: string;
  private fd: number | undefined;
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  frames = 0;

  constructor(
    private readonly dir: string,
    readonly id: string,
    readonly startMs: number,
    private readonly officerNumber: string,
    private readonly trigger: RecordingTrigger,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = `${id}.mjpeg`;
    this.fd = openSync(join(dir, this.file), 'wx');
  }

  append(jpeg: Buffer): void {
    if (this.fd === undefined) return;
    let off = 0;
    while (off < jpeg.length) off += writeSync(this.fd, jpeg, off, jpeg.length - off);
    this.hash.update(jpeg);
    this.bytes += jpeg.length;
    this.frames++;
  }

  finish(endMs: number): FootageManifest {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    const manifest: FootageManifest = {
      id: this.id, startMs: this.startMs, endMs: Math.max(endMs, this.startMs), size: this.bytes,
      sha256: this.hash.digest('hex'), officerNumber: this.officerNumber, trigger: this.trigger,
      contentType: MJPEG_CONTENT_TYPE, file: this.file,
    };
    const path = join(this.dir, `${this.id}${MANIFEST_SUFFIX}`);
    writeFileSync(`${path}.tmp`, serializeManifest(manifest));
    renameSync(`${path}.tmp`, path);
    return manifest;
  }
}
