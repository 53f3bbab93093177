import { nmeaSentence } from '../gnss/nmea-writer.js';

/**
 * A receiver that lies with valid checksums, as a broken, confused or
 * spoofed one does. Each is a fault switched on and off like the line faults:
 * - `implausible`: 10,000 knots (5,144 m/s), -99,999 m, 99 satellites and
 *   HDOP 0 in otherwise good sentences;
 * - `lag`: every 15th epoch the GGA carries a time 5 s old (its RMC is on time);
 * - `teleport`: the position is in Beijing (39.9042 N, 116.4074 E), far from
 *   the patrol, for as long as the fault is on.
 */
export type HostileGnssFault = 'implausible' | 'lag' | 'teleport';
export const HOSTILE_GNSS_FAULTS: readonly HostileGnssFault[] = ['implausible', 'lag', 'teleport'];

export const TELEPORT_TO = { lat: 39.9042, lon: 116.4074 };
const TELEPORT_FIELDS = ['3954.25200', 'N', '11624.44400', 'E'];
/** The epochs a lag hits: one in this many. */
export const LAG_EVERY = 15;
export const LAG_S = 5;

export class HostileGnss {
  readonly counts = { implausibleEpochs: 0, laggedSentences: 0, teleportedEpochs: 0 };
  private epoch = 0;

  /** Rewrites one epoch's text (CRLF-ended sentences) as the faults in `on` say. */
  rewrite(text: string, on: ReadonlySet<string>): string {
    const implausible = on.has('implausible');
    const lag = on.has('lag') && this.epoch++ % LAG_EVERY === LAG_EVERY - 1;
    const teleport = on.has('teleport');
    if (!implausible && !lag && !teleport) return text;
    if (implausible) this.counts.implausibleEpochs++;
    if (teleport) this.counts.teleportedEpochs++;
    return text
      .split('\r\n')
      .map((line) => {
        const m = /^\$(..)(RMC|GGA),(.*)\*[0-9A-F]{2}$/.exec(line);
        if (!m) return line;
        const [, talker, type, body] = m as unknown as [string, string, string, string];
        const f = body.split(',');
        if (type === 'RMC') {
          if (f[1] !== 'A') return line;
          if (teleport) f.splice(2, 4, ...TELEPORT_FIELDS);
          if (implausible) f[6] = '10000.0';
        } else {
          if (f[5] === '0' || f[5] === '') return line;
          if (teleport) f.splice(1, 4, ...TELEPORT_FIELDS);
          if (implausible) {
            f[6] = '99';
            f[7] = '0.0';
            f[8] = '-99999.0';
          }
          if (lag) {
            f[0] = shiftTime(f[0]!, -LAG_S);
            this.counts.laggedSentences++;
          }
        }
        return nmeaSentence(`${talker}${type},${f.join(',')}`);
      })
      .join('\r\n');
  }
}

/** hhmmss.sss moved by `s` seconds (wrapping at midnight). */
function shiftTime(t: string, s: number): string {
  const m = /^(\d\d)(\d\d)(\d\d)(\.\d+)?$/.exec(t);
  if (!m) return t;
  let total = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + s + 86_400) % 86_400;
  const hh = Math.floor(total / 3600);
  total -= hh * 3600;
  const mm = Math.floor(total / 60);
  const ss = total - mm * 60;
  return `${String(hh).padStart(2, '0')}${String(mm).padStart(2, '0')}${String(ss).padStart(2, '0')}${m[4] ?? ''}`;
}
