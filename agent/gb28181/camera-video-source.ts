import type { CameraDriver } from '../../drivers/camera/camera-driver.js';
import type { AccessUnit, VideoEnd, VideoSource, VideoStream, VideoStreamOptions } from '../../drivers/video/video-source.js';

/**
 * A camera's own H.264 (reference protocol live video, CameraDriver.startVideo)
 * as a VideoSource. The camera has one live stream: the GB/T 28181 viewers
 * share it through the VideoHub.
 */
export class CameraVideoSource implements VideoSource {
  readonly kind = 'camera';

  constructor(
    private readonly camera: CameraDriver,
    readonly describe: string,
  ) {}

  async open(opts: VideoStreamOptions, onUnit: (u: AccessUnit) => void): Promise<VideoStream> {
    let finish: (e: VideoEnd) => void = () => {};
    const ended = new Promise<VideoEnd>((r) => (finish = r));
    let started = false;
    await this.camera.startVideo!(
      { fps: opts.fps, kbps: opts.maxKbps, width: opts.width, height: opts.height },
      (f) => {
        if (!started && !f.keyframe) return;
        started = true;
        onUnit({ data: f.data, keyframe: f.keyframe, ptsUs: f.ptsUs, captureMs: f.timeMs, index: f.index });
      },
      (reason) => finish({ kind: 'failed', reason }),
    );
    return {
      requestKeyframe: () => {
        if (!this.camera.requestKeyframe) return false;
        this.camera.requestKeyframe().catch(() => {});
        return true;
      },
      stop: async () => {
        await this.camera.stopLive().catch(() => {});
        finish({ kind: 'stopped', reason: 'stopped' });
      },
      ended,
    };
  }
}
