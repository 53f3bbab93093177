import type { CameraDriver } from '../camera/camera-driver.js';
import { BwcError } from '../../common/errors.js';
import type { AccessUnit, VideoEnd, VideoSource, VideoStream, VideoStreamOptions } from './video-source.js';

/**
 * Live H.264 over the camera's own control channel (reference protocol:
 * LIVE_START with FORMAT 1, units as N_LIVE_FRAME, LIVE_KEYFRAME for an IDR).
 * The camera encodes, so it makes an IDR when asked and keeps to the bitrate.
 */
export class CameraVideoSource implements VideoSource {
  readonly kind = 'camera';
  constructor(private readonly camera: CameraDriver, readonly describe: string) {}

  async open(opts: VideoStreamOptions, onUnit: (u: AccessUnit) => void): Promise<VideoStream> {
    const cam = this.camera;
    if (!cam.startVideo) throw new BwcError('NOT_SUPPORTED', `the driver of ${this.describe} has no live video`);
    let settle!: (e: VideoEnd) => void;
    const ended = new Promise<VideoEnd>((r) => (settle = r));
    let over = false;
    const finish = (e: VideoEnd) => {
      if (over) return;
      over = true;
      settle(e);
    };
    let keyed = false;
    await cam.startVideo(
      { fps: opts.fps, kbps: opts.maxKbps, ...(opts.width && opts.height ? { width: opts.width, height: opts.height } : {}) },
      (f) => {
        if (over) return;
        if (!keyed && !f.keyframe) return;
        keyed = true;
        onUnit({ data: f.data, keyframe: f.keyframe, ptsUs: f.ptsUs, captureMs: f.timeMs, index: f.index });
      },
      (reason) => finish({ kind: 'failed', reason: `the camera ended the stream: ${reason}` }),
    );
    return {
      requestKeyframe: () => {
        void cam.requestKeyframe?.().catch(() => undefined);
        return cam.requestKeyframe !== undefined;
      },
      stop: async () => {
        finish({ kind: 'stopped', reason: 'stopped' });
        await cam.stopLive().catch(() => undefined);
      },
      ended,
    };
  }
}
