import { spawnSync } from 'node:child_process';

/** What ffprobe reads of a file's first video stream (the player's view). */
export interface Probe {
  codec: string;
  width: number;
  height: number;
  /** r_frame_rate as a number */
  fps: number;
  frames: number;
  durationS: number;
  format: string;
}

export function ffprobe(path: string, countFrames = true): Probe {
  const r = spawnSync('ffprobe', [
    '-v', 'error', ...(countFrames ? ['-count_frames'] : []), '-select_streams', 'v:0',
    '-show_entries', 'stream=codec_name,width,height,r_frame_rate,avg_frame_rate,nb_read_frames,nb_frames:format=duration,format_name',
    '-of', 'json', path,
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe failed on ${path}: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { streams: Record<string, string | number>[]; format: Record<string, string> };
  const s = j.streams[0];
  if (!s) throw new Error(`${path} has no video stream`);
  const rate = (v: unknown) => {
    const [a, b] = String(v).split('/').map(Number);
    return b ? a! / b : a!;
  };
  return {
    codec: String(s.codec_name), width: Number(s.width), height: Number(s.height),
    fps: rate(s.avg_frame_rate !== '0/0' ? s.avg_frame_rate : s.r_frame_rate),
    frames: Number(s.nb_read_frames ?? s.nb_frames ?? 0), durationS: Number(j.format.duration), format: String(j.format.format_name),
  };
}

/**
 * Decodes every frame; returns ffmpeg's complaints (empty when the stream is
 * clean). `sourceTiming`: frames keep the file's own times instead of being
 * put on a grid of the guessed frame rate, whose rounding makes two frames
 * of an irregular (arrival-stamped) stream collide.
 */
export function decodeErrors(path: string, format?: string, o: { sourceTiming?: boolean } = {}): string {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', ...(format ? ['-f', format] : []), '-i', path, ...(o.sourceTiming ? ['-fps_mode', 'passthrough', '-enc_time_base', '-1'] : []), '-f', 'null', '-'], { encoding: 'utf8' });
  return `${r.stderr}${r.status !== 0 ? ` (exit ${r.status})` : ''}`.trim();
}

/** Decoding times of the video packets, in the stream's time base. */
export function packetDts(path: string): number[] {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=dts', '-of', 'csv=p=0', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe failed on ${path}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map(Number);
}
