import type { CameraModel } from './camera-model.js';

/**
 * Small behaviours of a simulated camera, after Z-Wave JS's MockNode: each
 * one owns one aspect of how the camera changes over time. A fault is one
 * more behaviour (camera-faults.ts).
 */
export interface Outgoing {
  bytes: Buffer;
  kind: 'response' | 'notification';
  /** ms to hold the bytes back */
  delayMs: number;
  drop: boolean;
  /** the camera dies after writing this many bytes of the frame */
  dieAfterBytes?: number;
}

export interface CameraBehaviour {
  readonly name: string;
  /** Called once when the camera is made. */
  init?(m: CameraModel): void;
  /** Called on every simulator tick with the ms elapsed since the last. */
  tick?(m: CameraModel, dtMs: number): void;
  /** May delay, drop, corrupt or cut what the camera sends. */
  outgoing?(m: CameraModel, out: Outgoing): void;
}

/**
 * Recording over time. 'auto': off for a while, a few seconds of pre-record
 * buffering, then recording, then off again, with seeded durations. 'always'
 * records from the start; 'off' leaves it to setRecording() and SOS.
 */
export function recordingPlan(plan: 'auto' | 'off' | 'always'): CameraBehaviour {
  let untilChangeMs = -1;
  return {
    name: `recording-plan:${plan}`,
    tick(m, dt) {
      if (plan === 'always') {
        if (m.recording !== 'recording' && m.batteryPct > 0 && m.lastAutoStop === undefined) m.setRecording('recording', 'scheduled');
        return;
      }
      if (plan !== 'auto') return;
      if (untilChangeMs < 0) untilChangeMs = m.rng.range(5_000, 30_000);
      untilChangeMs -= dt;
      if (untilChangeMs > 0) return;
      if (m.recording === 'off') {
        m.setRecording('pre-record');
        untilChangeMs = m.rng.range(3_000, 15_000);
      } else if (m.recording === 'pre-record') {
        if (m.batteryPct > 0) m.setRecording('recording', 'manual');
        untilChangeMs = m.rng.range(30_000, 180_000);
      } else {
        m.setRecording('off');
        untilChangeMs = m.rng.range(20_000, 90_000);
      }
    },
  };
}

/** Frames written to the open recording at `fps`. */
export function footageWriter(fps: number): CameraBehaviour {
  let sinceFrameMs = 0;
  const periodMs = 1000 / fps;
  return {
    name: 'footage',
    tick(m, dt) {
      if (m.recording !== 'recording') {
        sinceFrameMs = 0;
        return;
      }
      sinceFrameMs += dt;
      // Catch up at most a few frames after a stall rather than flooding the disk.
      let n = 0;
      while (sinceFrameMs >= periodMs && n++ < 5) {
        sinceFrameMs -= periodMs;
        m.recordFrame();
      }
      if (sinceFrameMs > periodMs) sinceFrameMs = 0;
    },
  };
}

/**
 * Battery: drains faster while recording (and while live frames stream),
 * charges when docked. A notification on every whole percent; an empty
 * battery stops recording.
 */
export function battery(opts: { liveActive: () => boolean }): CameraBehaviour {
  let lastWhole = -1;
  return {
    name: 'battery',
    tick(m, dt) {
      const s = dt / 1000;
      if (m.charging) m.batteryPct = Math.min(100, m.batteryPct + 0.2 * s);
      else {
        const perS = 0.004 + (m.recording === 'recording' ? 0.02 : m.recording === 'pre-record' ? 0.01 : 0) + (opts.liveActive() ? 0.03 : 0);
        m.batteryPct = Math.max(0, m.batteryPct - perS * s);
      }
      const whole = Math.floor(m.batteryPct);
      if (lastWhole >= 0 && whole !== lastWhole) m.emit({ type: 'battery', pct: whole, charging: m.charging });
      lastWhole = whole;
      if (m.batteryPct <= 0 && m.recording !== 'off') {
        m.lastAutoStop = 'battery empty';
        m.setRecording('off');
      }
    },
  };
}
