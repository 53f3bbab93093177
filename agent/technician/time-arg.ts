import { UsageError } from '../../common/cli-kit.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time on the command line: ISO 8601 (with a zone), or an age back from now such as 90s, 30m, 12h, 7d. */
export function parseTime(option: string, text: string, now = Date.now()): number {
  const age = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  if (age) return now - Number(age[1]) * UNIT_MS[age[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}(T.*(Z|[+-]\d{2}:?\d{2}))?$/.test(text.trim())) {
    const ms = Date.parse(text.trim());
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`${option} must be an ISO 8601 time with a zone (2026-11-25T02:00:00Z) or an age such as 30m, 12h, 7d; got ${JSON.stringify(text)}`);
}
