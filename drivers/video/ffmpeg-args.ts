/**
 * ffmpeg command lines for every video path, built in one place so they can
 * be tested without hardware: the V4L2/UVC device (H.264 passed through, or
 * MJPEG transcoded under a bitrate cap), RTSP, and the simulator's camera
 * (test pattern with officer, time and position burned in). Every live path
 * writes a raw H.264 Annex B stream with an AUD in front of each access unit
 * and SPS/PPS in front of each keyframe, to stdout.
 */

export interface EncodeOptions {
  fps: number;
  /** kbit/s; the encoder's average and peak rate (VBV buffer of half a second). */
  kbps: number;
  /** Keyframe interval, frames (default: one second). */
  gop?: number;
}

/** libx264 for live: no B-frames, no lookahead, constrained baseline (every browser decodes it). */
export function x264LiveArgs(o: EncodeOptions): string[] {
  const gop = o.gop ?? Math.max(1, Math.round(o.fps));
  return [
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
    '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
    '-b:v', `${o.kbps}k`, '-maxrate', `${o.kbps}k`, '-bufsize', `${Math.max(1, Math.round(o.kbps / 2))}k`,
    '-x264-params', 'aud=1:repeat-headers=1',
  ];
}

/** Raw Annex B to stdout, written packet by packet. */
export const ANNEXB_OUT = ['-flush_packets', '1', '-f', 'h264', 'pipe:1'];

export type V4l2Input = 'h264' | 'mjpeg';

export interface V4l2Options {
  device: string;
  input: V4l2Input;
  fps: number;
  width?: number;
  height?: number;
  /** Cap when transcoding MJPEG, kbit/s. */
  kbps: number;
}

export function v4l2Args(o: V4l2Options): string[] {
  return [...v4l2CaptureArgs(o), ...v4l2ProcessingArgs(o)];
}

/** Reading the device: the format the camera is asked for, nothing done to it yet. */
export function v4l2CaptureArgs(o: V4l2Options): string[] {
  if (!/^\/dev\/\S+$/.test(o.device)) throw new Error(`v4l2 device ${JSON.stringify(o.device)} must be a /dev path`);
  return [
    '-fflags', 'nobuffer', '-flags', 'low_delay',
    '-f', 'v4l2', '-input_format', o.input, '-framerate', String(o.fps),
    ...(o.width && o.height ? ['-video_size', `${o.width}x${o.height}`] : []),
    '-i', o.device, '-an',
  ];
}

/**
 * What is done to what the device gives, to stdout. Kept apart from the
 * capture so that it runs on real camera-format input where no V4L2 device
 * exists (test/video/v4l2-processing.test.ts).
 */
export function v4l2ProcessingArgs(o: Pick<V4l2Options, 'input' | 'fps' | 'kbps'>): string[] {
  if (o.input === 'h264') {
    // The camera encodes: pass its units through; SPS/PPS before every keyframe.
    return ['-c:v', 'copy', '-bsf:v', 'dump_extra=freq=keyframe', ...ANNEXB_OUT];
  }
  return [...x264LiveArgs({ fps: o.fps, kbps: o.kbps }), ...ANNEXB_OUT];
}

export interface RtspOptions {
  url: string;
  /** TCP interleaved (default): survives NAT and loss better than UDP on Wi-Fi. */
  transport?: 'tcp' | 'udp';
  /** Socket timeout, seconds: a silent camera ends the stream instead of hanging it. */
  timeoutS?: number;
}

export function rtspArgs(o: RtspOptions): string[] {
  if (!/^rtsps?:\/\/\S+$/.test(o.url)) throw new Error('an RTSP source must be an rtsp:// or rtsps:// URL');
  return [
    // Passed through, the stream needs no probing (the SDP names the codec and
    // carries SPS/PPS): ffmpeg's default of up to 5 s of probing held the
    // first frame back by about 2 s.
    '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0',
    '-rtsp_transport', o.transport ?? 'tcp', '-timeout', String(Math.round((o.timeoutS ?? 5) * 1_000_000)),
    '-i', o.url, '-an', '-map', '0:v:0',
    '-c:v', 'copy', '-bsf:v', 'dump_extra=freq=keyframe', ...ANNEXB_OUT,
  ];
}

/** An RTSP URL without its password, for logs and replies. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^/@:]+)(:[^/@]*)?@/, '//$1:***@');
}

export interface SimPictureOptions {
  width: number;
  height: number;
  fps: number;
  /** A file holding the burned-in lines (officer, position); re-read every frame. */
  textFile: string;
  fontFile?: string;
}

/** The simulator's picture: a moving test pattern paced to real time, the text file and the clock drawn on it. */
export function simPictureInput(o: SimPictureOptions): string[] {
  const font = o.fontFile ? `fontfile=${escapeFilterValue(o.fontFile)}:` : '';
  const size = Math.max(12, Math.round(o.height / 20));
  const box = 'box=1:boxcolor=black@0.6:boxborderw=4:fontcolor=white';
  const filters = [
    'realtime',
    `drawtext=${font}textfile=${escapeFilterValue(o.textFile)}:reload=1:x=8:y=8:fontsize=${size}:${box}`,
    `drawtext=${font}text=%{localtime}:x=8:y=h-${size * 2}:fontsize=${size}:${box}`,
  ];
  return ['-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`, '-vf', filters.join(',')];
}

/** The simulator's live stream. */
export function simLiveArgs(o: SimPictureOptions & { kbps: number }): string[] {
  return [...simPictureInput(o), ...x264LiveArgs({ fps: o.fps, kbps: o.kbps }), ...ANNEXB_OUT];
}

/**
 * The simulator's recording: fragmented MP4 (a fragment per keyframe), so a
 * camera switched off mid-recording still leaves a file that plays up to the
 * last fragment; a clean stop writes the index as well.
 */
export function simRecordArgs(o: SimPictureOptions & { out: string; crf?: number }): string[] {
  return [
    ...simPictureInput(o),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', String(o.crf ?? 30), '-pix_fmt', 'yuv420p',
    '-g', String(o.fps * 2), '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', '-y', o.out,
  ];
}

/** filtergraph option values: backslash-escape what ends or splits a value. */
function escapeFilterValue(v: string): string {
  return v.replace(/[\\:',;[\]=]/g, (c) => `\\${c}`);
}
