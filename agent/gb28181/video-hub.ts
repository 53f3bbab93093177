import type { Logger } from 'pino';
import type { AccessUnit, VideoSource, VideoStream } from '../../drivers/video/video-source.js';

export type UnitSink = (u: AccessUnit) => void;

interface Viewer {
  sink: UnitSink;
  onEnd: (reason: string) => void;
  started: boolean;
}

interface Shared {
  stream: Promise<VideoStream>;
  viewers: Map<number, Viewer>;
}

/**
 * One video stream per camera, however many platform viewers watch it (a
 * camera encodes once). A viewer joining a running stream gets units from
 * the next keyframe on (an IDR is asked for, so it is not a GOP away); the
 * stream stops with its last viewer; a source that ends or fails ends every
 * viewer's session.
 */
export class VideoHub {
  private readonly shared = new Map<string, Shared>();
  private nextId = 1;

  constructor(private readonly o: { log: Logger; fps: number; maxKbps: number }) {}

  /** Returns the leave function; rejects when the source cannot start. */
  async join(key: string, source: VideoSource, sink: UnitSink, onEnd: (reason: string) => void): Promise<() => Promise<void>> {
    const id = this.nextId++;
    let s = this.shared.get(key);
    if (!s) {
      const viewers = new Map<number, Viewer>();
      const stream = source.open({ fps: this.o.fps, maxKbps: this.o.maxKbps }, (u) => {
        for (const v of viewers.values()) {
          if (!v.started && !u.keyframe) continue;
          v.started = true;
          v.sink(u);
        }
      });
      const created: Shared = { stream, viewers };
      s = created;
      this.shared.set(key, created);
      stream.then(
        (st) =>
          void st.ended.then((end) => {
            if (this.shared.get(key) === created) this.shared.delete(key);
            if (end.kind !== 'stopped') for (const v of [...viewers.values()]) v.onEnd(end.reason);
          }),
        () => {
          if (this.shared.get(key) === created) this.shared.delete(key);
        },
      );
    }
    s.viewers.set(id, { sink, onEnd, started: false });
    let stream: VideoStream;
    try {
      stream = await s.stream;
    } catch (err) {
      s.viewers.delete(id);
      throw err;
    }
    if (s.viewers.size > 1) stream.requestKeyframe();
    const shared = s;
    return async () => {
      shared.viewers.delete(id);
      if (shared.viewers.size === 0 && this.shared.get(key) === shared) {
        this.shared.delete(key);
        await stream.stop().catch((err: Error) => this.o.log.warn({ err: err.message, key }, 'video source did not stop cleanly'));
      }
    };
  }

  get streams(): number {
    return this.shared.size;
  }
}
