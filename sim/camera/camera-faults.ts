import { TRAILER_LEN } from '../../drivers/camera/frame-codec.js';
import type { CameraBehaviour } from './camera-behaviours.js';

export type SimCameraFault = 'slow' | 'silent' | 'die-mid-reply' | 'garbage' | 'bad-checksum' | 'clock-drift';
export const SIM_CAMERA_FAULTS: readonly SimCameraFault[] = ['slow', 'silent', 'die-mid-reply', 'garbage', 'bad-checksum', 'clock-drift'];

export interface FaultOptions {
  /** 'slow': how long each answer is held back (default 2000 ms). */
  slowMs?: number;
  /** 'die-mid-reply': how many answers go out whole before the one that is cut (default 1). */
  dieAfterReplies?: number;
  /** 'bad-checksum': share of frames sent with a wrong CRC (default 0.3). */
  badChecksumRate?: number;
  /** 'garbage': share of frames preceded by junk (default 0.5). */
  garbageRate?: number;
  /** 'clock-drift': initial offset and drift (default +37 s, +2000 ppm). */
  clockOffsetMs?: number;
  driftPpm?: number;
}

/** A fault as one more behaviour of the camera. */
export function fault(kind: SimCameraFault, o: FaultOptions = {}): CameraBehaviour {
  switch (kind) {
    case 'slow':
      return { name: kind, outgoing: (_m, out) => { if (out.kind === 'response') out.delayMs += o.slowMs ?? 2000; } };
    case 'silent':
      return { name: kind, outgoing: (_m, out) => { if (out.kind === 'response') out.drop = true; } };
    case 'die-mid-reply': {
      let replies = 0;
      return {
        name: kind,
        outgoing: (_m, out) => {
          if (out.kind === 'response' && replies++ === (o.dieAfterReplies ?? 1)) out.dieAfterBytes = Math.max(1, Math.floor(out.bytes.length / 2));
        },
      };
    }
    case 'garbage':
      return {
        name: kind,
        outgoing: (m, out) => {
          if (!m.rng.chance(o.garbageRate ?? 0.5)) return;
          const junk = Buffer.alloc(m.rng.int(1, 40));
          for (let i = 0; i < junk.length; i++) junk[i] = m.rng.int(0, 255);
          // Sometimes a false sync marker, to exercise resynchronisation.
          if (junk.length > 2 && m.rng.chance(0.5)) junk.set([0xa5, 0x5a], m.rng.int(0, junk.length - 2));
          out.bytes = Buffer.concat([junk, out.bytes]);
        },
      };
    case 'bad-checksum':
      return {
        name: kind,
        outgoing: (m, out) => {
          if (!m.rng.chance(o.badChecksumRate ?? 0.3)) return;
          const b = Buffer.from(out.bytes);
          b[b.length - 1 - m.rng.int(0, TRAILER_LEN - 1)]! ^= 1 << m.rng.int(0, 7);
          out.bytes = b;
        },
      };
    case 'clock-drift': {
      return {
        name: kind,
        init: (m) => { m.clockOffsetMs += o.clockOffsetMs ?? 37_000; },
        tick: (m, dt) => {
          m.clockOffsetMs += (dt * (o.driftPpm ?? 2000)) / 1e6;
        },
      };
    }
  }
}
