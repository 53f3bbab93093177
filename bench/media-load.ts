import { join } from 'node:path';
import type { SpotRig } from '../test/spot-check/spot-rig.js';

/**
 * Media load on a spot-check rig, each transfer received by a console
 * process of its own (`bwc-console spot-check`), so that receiving, hashing
 * and writing it does not delay a benchmark's own timestamps.
 */

/** A camera's clip fetched again and again until stop(), which resolves with the number of whole clips fetched. */
export function clipLoop(rig: SpotRig, device: string, outDir = join(rig.dir, 'load-clips')): { stop(): Promise<number> } {
  let stopped = false;
  let runs = 0;
  const loop = (async () => {
    while (!stopped) {
      const r = await rig.spotCheck(['--device', device, '--kind', 'clip', '--out', outDir, '--quiet', '--json']);
      if (r.code !== 0) throw new Error(`clip of ${device} under load failed: ${r.stdout}${r.stderr}`);
      runs++;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return runs;
    },
  };
}

export interface LiveFeedResult {
  device: string;
  result: string;
  reason: string;
  frames?: number;
  bytes: number;
  h264_bytes?: number;
  duration_s?: number;
}

/**
 * A live H.264 feed of each device to a console process of its own, for
 * `durationS`; resolves when all have ended. The feeds start `staggerMs`
 * apart: on a small loaded machine, consoles starting at once take the CPU
 * the cameras' encoders need for their first frames.
 */
export async function liveFeeds(rig: SpotRig, devices: string[], o: { durationS: number; fps: number; kbps: number; outDir?: string; staggerMs?: number }): Promise<LiveFeedResult[]> {
  const runs = await Promise.all(
    devices.map(async (device, i) => {
      await new Promise((r) => setTimeout(r, i * (o.staggerMs ?? 0)));
      return rig.spotCheck(['--device', device, '--kind', 'live', '--format', 'h264', '--duration', String(o.durationS), '--fps', String(o.fps), '--max-kbps', String(o.kbps),
        '--out', o.outDir ?? join(rig.dir, 'load-live'), '--json', '--quiet']);
    }),
  );
  return runs.map((r, i) => {
    try {
      return { device: devices[i]!, ...(JSON.parse(r.stdout) as Array<Omit<LiveFeedResult, 'device'>>)[0]! };
    } catch {
      return { device: devices[i]!, result: 'failed', reason: `exit ${r.code}: ${(r.stderr || r.stdout).slice(-300)}`, bytes: 0 };
    }
  });
}
