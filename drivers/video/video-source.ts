/**
 * Live H.264 from a camera, whatever carries it: the camera's control channel
 * (reference protocol), a V4L2/UVC device or an RTSP URL (both through an
 * ffmpeg child process). The agent asks a VideoSource for a stream and gets
 * access units; it never sees the transport. See protocol/README.md "Live
 * video" for how the units travel on.
 */

/** One H.264 access unit (one frame), Annex B with start codes. */
export interface AccessUnit {
  /** AUD/SEI/SPS/PPS as the encoder wrote them, then the slices. Every keyframe carries SPS and PPS in front. */
  data: Buffer;
  /** An IDR access unit: decoding can start here. */
  keyframe: boolean;
  /** Presentation time since the stream's first frame, microseconds. */
  ptsUs: number;
  /** Capture time, Unix ms on the camera clock: the SEI stamp when the camera writes one, else when the unit arrived. */
  captureMs: number;
  /** Frame number from the source (gaps: the source skipped frames). */
  index: number;
}

/** Picture parameters read from the SPS of the latest keyframe. */
export interface VideoFormat {
  /** RFC 6381, e.g. avc1.42C01F */
  codec: string;
  width: number;
  height: number;
}

export interface VideoStreamOptions {
  /** Frames per second asked for (a passthrough source gives what it gives). */
  fps: number;
  /** Bitrate cap for sources that encode (MJPEG transcoding, the simulator), kbit/s; 0: the source's default. */
  maxKbps: number;
  /** Picture size for sources that encode; others ignore it. */
  width?: number;
  height?: number;
}

/** Why a stream ended. */
export interface VideoEnd {
  /** stopped: stop() was called; ended: the source ended on its own; failed: it broke (see reason). */
  kind: 'stopped' | 'ended' | 'failed';
  reason: string;
}

export interface VideoStream {
  /**
   * Asks the source for an IDR as soon as it can make one. Returns false when
   * it cannot (H.264 passthrough, RTSP): the next keyframe of its GOP comes as usual.
   */
  requestKeyframe(): boolean;
  /** Ends the stream and its child process, if any; resolves when both are gone. */
  stop(): Promise<void>;
  /** Resolves once, when the stream is over, with why. */
  readonly ended: Promise<VideoEnd>;
}

export interface VideoSource {
  /** 'camera' (control channel), 'v4l2' or 'rtsp': for logs and replies. */
  readonly kind: string;
  /** Where from, for logs: a device node, a URL without credentials, a camera id. */
  readonly describe: string;
  /**
   * Starts a stream; units go to `onUnit` in order until the stream ends. The
   * first unit delivered is a keyframe: a source drops what comes before it.
   */
  open(opts: VideoStreamOptions, onUnit: (u: AccessUnit) => void): Promise<VideoStream>;
}
