import type { CameraDriver } from '../camera/camera-driver.js';
import { CameraVideoSource } from './camera-video-source.js';
import { rtspSource, v4l2Source } from './ffmpeg-video-source.js';
import type { V4l2Input } from './ffmpeg-args.js';
import type { VideoSource } from './video-source.js';

export interface VideoSpec {
  /** config devices[].video: camera | v4l2:/dev/videoN | rtsp://… (undefined: camera) */
  video?: string;
  videoInput?: V4l2Input;
}

/**
 * The video source a device's configuration names. `camera` (the default)
 * needs the control channel to be up; undefined when there is none.
 */
export function openVideoSource(deviceId: string, spec: VideoSpec, camera: CameraDriver | undefined, ffmpegPath = 'ffmpeg', transcodeKbps = 2000): VideoSource | undefined {
  const v = spec.video ?? 'camera';
  if (v.startsWith('v4l2:')) {
    const src = v4l2Source(v.slice('v4l2:'.length), spec.videoInput ?? 'h264', { ffmpegPath });
    return withDefaultKbps(src, transcodeKbps);
  }
  if (/^rtsps?:\/\//.test(v)) return rtspSource(v, { ffmpegPath });
  return camera?.startVideo ? new CameraVideoSource(camera, deviceId) : undefined;
}

/** MJPEG transcoding needs a rate even when the command gives no cap. */
function withDefaultKbps(src: VideoSource, kbps: number): VideoSource {
  return {
    kind: src.kind,
    describe: src.describe,
    open: (o, onUnit) => src.open({ ...o, maxKbps: o.maxKbps || kbps }, onUnit),
  };
}
