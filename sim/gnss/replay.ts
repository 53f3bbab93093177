import { readFileSync } from 'node:fs';
import { BwcError } from '../../common/errors.js';

/** One reporting cycle of a capture: its raw lines and when it came, relative to the first. */
export interface ReplayEpoch {
  /** Time since the capture's first epoch, from the sentence times (ms). */
  offsetMs: number;
  /** The lines as the receiver sent them, each ended by CRLF (a cut-off last line stays cut off). */
  text: string;
  /** A valid position was sent (RMC status A or GGA quality > 0 with a latitude). */
  valid: boolean;
  /** Time of day from the sentences, ms since midnight UTC, if any. */
  timeOfDayMs?: number;
  /** Full UTC time when a date is known from RMC or ZDA. */
  timeMs?: number;
}

/** Sentences whose time field opens a new epoch, and where it is (field index after the talker+type). */
const TIME_FIELD: Record<string, number> = { RMC: 1, GGA: 1, GNS: 1, GLL: 5, ZDA: 1, GST: 1, GBS: 1 };
const DEFAULT_GAP_MS = 1000;

/**
 * Splits a capture (as in the gnss-captures under test/fixtures: `#` comment lines, then
 * the receiver's bytes) into epochs by the time fields of the sentences, so a
 * replay can go at the receiver's own pace. Lines without a time ride with
 * the epoch they follow. Backward steps and jumps (midnight, garbage times)
 * count as one second.
 */
export function parseCapture(text: string): ReplayEpoch[] {
  const lines = text.split('\n');
  const epochs: ReplayEpoch[] = [];
  let current: ReplayEpoch | undefined;
  let currentTod: number | undefined;
  let offset = 0;
  let dateMs: number | undefined;
  for (let k = 0; k < lines.length; k++) {
    let line = lines[k]!;
    const last = k === lines.length - 1;
    if (last && line === '') break;
    if (line.startsWith('#')) continue;
    line = line.replace(/\r$/, '');
    const fields = sentenceFields(line);
    const type = fields ? fields[0]!.slice(-3) : '';
    const tod = fields && TIME_FIELD[type] !== undefined ? parseTod(fields[TIME_FIELD[type]!]) : undefined;
    if (tod !== undefined && (current === undefined || (currentTod !== undefined && tod !== currentTod) || currentTod === undefined)) {
      if (current && currentTod !== undefined) {
        let gap = tod - currentTod;
        if (gap < 0 && gap + 86_400_000 <= 10_000) gap += 86_400_000;
        offset += gap > 0 && gap <= 10_000 ? gap : DEFAULT_GAP_MS;
        current = undefined;
      } else if (current && currentTod === undefined) {
        // Lines before the first timed sentence: a head epoch of their own.
        offset += 0;
        current = undefined;
      }
    }
    if (!current) {
      current = { offsetMs: offset, text: '', valid: false };
      epochs.push(current);
      currentTod = undefined;
    }
    if (tod !== undefined && currentTod === undefined) {
      currentTod = tod;
      current.timeOfDayMs = tod;
    }
    if (fields) {
      if (type === 'RMC') {
        const d = parseDate(fields[9]);
        if (d !== undefined) dateMs = d;
        if (fields[2] === 'A' && fields[3]) current.valid = true;
      } else if (type === 'ZDA' && fields[2] && fields[3] && fields[4]) {
        const y = Number(fields[4]), m = Number(fields[3]), d = Number(fields[2]);
        if (y > 1999 && m >= 1 && m <= 12 && d >= 1 && d <= 31) dateMs = Date.UTC(y, m - 1, d);
      } else if (type === 'GGA' && fields[6] && fields[6] !== '0' && fields[2]) current.valid = true;
    }
    if (current.timeOfDayMs !== undefined && dateMs !== undefined) current.timeMs = dateMs + current.timeOfDayMs;
    current.text += last ? line : line + '\r\n';
  }
  return epochs.filter((e) => e.text.length > 0);
}

export function loadCapture(path: string): ReplayEpoch[] {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (err) {
    throw new BwcError('BAD_NMEA_FILE', `cannot read NMEA capture ${path}: ${(err as Error).message}`, { cause: err });
  }
  const epochs = parseCapture(text);
  if (epochs.length === 0) throw new BwcError('BAD_NMEA_FILE', `NMEA capture ${path} holds no sentences (only comments or empty)`);
  return epochs;
}

/** The comma fields of `$TTSSS,…*hh` (without `$` and checksum), or undefined for anything else. */
function sentenceFields(line: string): string[] | undefined {
  const start = line.lastIndexOf('$');
  if (start < 0) return undefined;
  const star = line.indexOf('*', start);
  const body = line.slice(start + 1, star < 0 ? undefined : star);
  if (!/^[A-Z]{2}[A-Z]{3},/.test(body)) return undefined;
  return body.split(',');
}

function parseTod(s: string | undefined): number | undefined {
  const m = s ? /^(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(s) : null;
  if (!m) return undefined;
  const h = Number(m[1]), mi = Number(m[2]), se = Number(m[3]);
  if (h > 23 || mi > 59 || se > 60) return undefined;
  return ((h * 60 + mi) * 60 + se) * 1000 + (m[4] ? Number(m[4].padEnd(3, '0')) : 0);
}

function parseDate(s: string | undefined): number | undefined {
  const m = s ? /^(\d{2})(\d{2})(\d{2})$/.exec(s) : null;
  if (!m) return undefined;
  const d = Number(m[1]), mo = Number(m[2]), y = 2000 + Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || Number(m[3]) >= 80) return undefined;
  return Date.UTC(y, mo - 1, d);
}
