import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordingTrigger } from '../../drivers/camera/camera-driver.js';
import { MANIFEST_SUFFIX, serializeManifest, type FootageManifest } from '../../drivers/camera/footage-manifest.js';
import { simRecordArgs } from '../../drivers/video/ffmpeg-args.js';
import { describeExit, FfmpegProcess } from '../../drivers/video/ffmpeg-process.js';

export const MP4_CONTENT_TYPE = 'video/mp4';

export interface Mp4RecordingOptions {
  width: number;
  height: number;
  fps: number;
  textFile: string;
  ffmpegPath?: string;
  onError?: (reason: string) => void;
}

/**
 * One recording of the simulated camera as a real MP4 (H.264): ffmpeg draws
 * the picture (test pattern, officer number, position, clock) and encodes
 * it while the camera records. Fragmented, so the file plays even when the
 * camera dies mid-recording. When it ends, the file is hashed and the
 * sidecar manifest is written last and renamed into place, so the recording
 * list never shows a recording whose size or hash is not final.
 */
export class Mp4Recorder {
  readonly file: string;
  private readonly proc: FfmpegProcess;
  frames = 0;
  private finishing: Promise<FootageManifest | undefined> | undefined;

  constructor(
    private readonly dir: string,
    readonly id: string,
    readonly startMs: number,
    private readonly officerNumber: string,
    private readonly trigger: RecordingTrigger,
    private readonly o: Mp4RecordingOptions,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = `${id}.mp4`;
    this.proc = new FfmpegProcess(simRecordArgs({ width: o.width, height: o.height, fps: o.fps, textFile: o.textFile, out: join(dir, this.file) }), o.ffmpegPath);
    void this.proc.exited.then((x) => {
      if (!x.stopped) o.onError?.(`recording ${id}: ${describeExit(x)}`);
    });
  }

  /** Bytes on disk so far. */
  get bytes(): number {
    try {
      return statSync(join(this.dir, this.file)).size;
    } catch {
      return 0;
    }
  }

  /** Frames are drawn by ffmpeg itself; nothing to append. */
  append(): void {}

  /** Ends the recording; the manifest appears once ffmpeg has written the file's index. */
  finish(endMs: number): Promise<FootageManifest | undefined> {
    this.finishing ??= (async () => {
      const exit = await this.proc.stop(true, 3000);
      const path = join(this.dir, this.file);
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        this.o.onError?.(`recording ${this.id} left no file: ${describeExit(exit)}`);
        return undefined;
      }
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
      const manifest: FootageManifest = {
        id: this.id, startMs: this.startMs, endMs: Math.max(endMs, this.startMs), size,
        sha256: hash.digest('hex'), officerNumber: this.officerNumber, trigger: this.trigger,
        contentType: MP4_CONTENT_TYPE, file: this.file,
      };
      const m = join(this.dir, `${this.id}${MANIFEST_SUFFIX}`);
      writeFileSync(`${m}.tmp`, serializeManifest(manifest));
      renameSync(`${m}.tmp`, m);
      return manifest;
    })();
    return this.finishing;
  }
}
