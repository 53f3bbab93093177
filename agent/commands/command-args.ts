import { RECORDING_ID } from '../../drivers/camera/footage-manifest.js';
import type { CommandKind } from './command-verifier.js';

/** Largest values a command may ask for: beyond them the request is refused, not silently clamped. */
export const ARG_LIMITS = {
  fps: 30,
  liveDurationS: 600,
  trackingIntervalS: 3600,
  trackingDurationS: 86_400,
};

const COMMAND_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Checks a verified command's arguments before anything runs. Returns why
 * they are refused, or undefined. A recording id must be a plain recording
 * id (drivers/camera/footage-manifest.ts), so no id can name a path outside
 * the camera's footage ("../../etc/passwd", "/etc/passwd", "a/b").
 */
export function checkCommandArgs(kind: CommandKind, a: Record<string, any>): string | undefined {
  const n = (v: unknown) => (v === undefined || v === null ? 0 : Number(v));
  const within = (name: string, v: unknown, lo: number, hi: number) => {
    const x = n(v);
    return Number.isSafeInteger(x) && x >= lo && x <= hi ? undefined : `${name} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`;
  };
  switch (kind) {
    case 'snapshot':
      return within('quality', a.quality, 0, 100);
    case 'liveFeed':
      return within('fps', a.fps, 0, ARG_LIMITS.fps) ?? within('quality', a.quality, 0, 100) ?? within('duration_s', a.durationS, 0, ARG_LIMITS.liveDurationS) ?? within('max_bitrate_kbps', a.maxBitrateKbps, 0, 1_000_000);
    case 'recordingList':
      return within('from_ms', a.fromMs, 0, Number.MAX_SAFE_INTEGER) ?? within('to_ms', a.toMs, 0, Number.MAX_SAFE_INTEGER);
    case 'clipFetch': {
      const bad = within('offset', a.offset, 0, Number.MAX_SAFE_INTEGER);
      if (bad) return bad;
      if (a.recordingId !== undefined && a.recordingId !== null && a.recordingId !== '') {
        const id = String(a.recordingId);
        return RECORDING_ID.test(id) ? undefined : `recording id ${JSON.stringify(id.slice(0, 80))} is not a recording id (letters, digits, '_' and '-'; no paths)`;
      }
      if (a.range) {
        const from = n(a.range.fromMs);
        const to = n(a.range.toMs);
        return Number.isSafeInteger(from) && Number.isSafeInteger(to) && from >= 0 && to > from ? undefined : `time range must have 0 <= from_ms < to_ms, got ${from}..${to}`;
      }
      return 'give a recording id or a time range';
    }
    case 'temporaryTracking':
      return within('interval_s', a.intervalS, 1, ARG_LIMITS.trackingIntervalS) ?? within('duration_s', a.durationS, 1, ARG_LIMITS.trackingDurationS);
    case 'cancel':
    case 'viewerKeepalive':
      return COMMAND_ID.test(String(a.commandId ?? '')) ? undefined : 'the command id to act on is missing or malformed';
    default:
      return undefined;
  }
}

/** A short description of what a command asked, for the audit log. */
export function describeArgs(kind: CommandKind, a: Record<string, any>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a ?? {})) {
    if (v === undefined || v === null || v === '' || v === 0 || k === 'what') continue;
    if (k === 'range' && typeof v === 'object') parts.push(`range=${n2(v.fromMs)}..${n2(v.toMs)}`);
    else if (k === 'yaml') parts.push(`yaml=${String(v).length} chars`);
    else parts.push(`${k}=${String(v).slice(0, 80)}`);
  }
  return parts.length ? `${kind} ${parts.join(' ')}` : kind;
}

function n2(v: unknown): string {
  return String(v ?? 0);
}
