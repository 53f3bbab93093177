import { spawnSync } from 'node:child_process';
import { AccessUnitSplitter } from '../../drivers/video/annexb.js';
import { ANNEXB_OUT, x264LiveArgs } from '../../drivers/video/ffmpeg-args.js';

/** A few seconds of real H.264 from ffmpeg (test pattern), cut into access units. */
export function encodeSample(o: { width: number; height: number; fps: number; frames: number; kbps?: number; gop?: number }): Buffer[] {
  const r = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`, '-frames:v', String(o.frames),
    ...x264LiveArgs({ fps: o.fps, kbps: o.kbps ?? 300, ...(o.gop ? { gop: o.gop } : {}) }), ...ANNEXB_OUT,
  ], { maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  return accessUnits(r.stdout);
}

/** A whole Annex B stream cut into access units by the agent's splitter. */
export function accessUnits(annexB: Buffer): Buffer[] {
  const units: Buffer[] = [];
  const s = new AccessUnitSplitter((u) => units.push(u));
  s.push(annexB);
  s.flush();
  return units;
}
