/**
 * NMEA 0183 framing: bytes from a serial port in, complete checksum-verified
 * sentences out (`$…*hh`, without CR/LF).
 *
 * What real ports deliver and how it is handled (checked against what gpsd
 * accepts in its regression captures):
 * - junk, NUL bytes and line noise before a `$`: skipped and counted (`garbage`);
 * - a `$` inside a sentence (`$$GYOACC`, `…*1E$GPRMC`, `$GPGGA,0301$GPGLL…`): the
 *   sentence so far is abandoned (`truncated`) and a new one starts at that `$`,
 *   which is how gpsd resynchronises;
 * - lines past 256 bytes: dropped (`too_long`), and the framer waits for the next `$`;
 * - a missing checksum (`$GPTXT,…`, `$POLYN,…`): dropped (`no_checksum`), as gpsd
 *   drops them; a one-digit checksum (`*7`, garmin48) is dropped as `bad_checksum`;
 * - a sentence cut off by an unplug: `flush()` drops and counts it (`truncated`).
 * Hex digits of the checksum are accepted in either case.
 */

export const MAX_SENTENCE_BYTES = 256;

export interface FramerCounters {
  sentences: number;
  too_long: number;
  bad_checksum: number;
  no_checksum: number;
  truncated: number;
  /** bytes outside any sentence that were not CR/LF */
  garbage: number;
  /** control or non-ASCII bytes inside a sentence */
  bad_char: number;
}

const DOLLAR = 0x24;
const STAR = 0x2a;
const CR = 0x0d;
const LF = 0x0a;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

export class NmeaFramer {
  readonly counters: FramerCounters = {
    sentences: 0,
    too_long: 0,
    bad_checksum: 0,
    no_checksum: 0,
    truncated: 0,
    garbage: 0,
    bad_char: 0,
  };

  /** The sentence being collected (bytes from `$`), reused across sentences. */
  private readonly buf = Buffer.alloc(MAX_SENTENCE_BYTES);
  private len = 0;
  /** true while inside a sentence; false while hunting for `$` */
  private inSentence = false;
  /** true while skipping the rest of an over-long or broken line */
  private skipping = false;

  push(chunk: Buffer): string[] {
    const out: string[] = [];
    const buf = this.buf;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (!this.inSentence) {
        // Hunt for `$`: indexOf is native and fast on long runs of junk.
        const at = chunk.indexOf(DOLLAR, i);
        const end = at < 0 ? n : at;
        if (!this.skipping) {
          for (let k = i; k < end; k++) {
            const c = chunk[k]!;
            if (c !== CR && c !== LF) this.counters.garbage++;
          }
        }
        if (at < 0) return out;
        this.skipping = false;
        this.inSentence = true;
        buf[0] = DOLLAR;
        this.len = 1;
        i = at + 1;
        continue;
      }
      // Inside a sentence: copy printable bytes up to the line end (locals: this is the hot loop).
      let len = this.len;
      let c = 0;
      while (i < n) {
        c = chunk[i]!;
        if (c < 0x20 || c > 0x7e || c === DOLLAR || len >= MAX_SENTENCE_BYTES) break;
        buf[len++] = c;
        i++;
      }
      this.len = len;
      if (i >= n) break;
      i++;
      if (c === CR || c === LF) {
        this.inSentence = false;
        const s = this.finish();
        if (s !== undefined) out.push(s);
      } else if (c === DOLLAR) {
        // Resynchronise: what we had is cut off, a new sentence begins.
        this.counters.truncated++;
        this.len = 1;
      } else if (len >= MAX_SENTENCE_BYTES) {
        i--; // the byte that did not fit is looked at again while skipping
        this.counters.too_long++;
        this.inSentence = false;
        this.skipping = true;
      } else {
        // NUL bytes and line noise inside a sentence: it cannot be trusted.
        this.counters.bad_char++;
        this.inSentence = false;
        this.skipping = true;
      }
    }
    return out;
  }

  /** End of input (unplug, end of file): a partial sentence is dropped and counted. */
  flush(): string[] {
    if (this.inSentence) {
      this.inSentence = false;
      this.counters.truncated++;
    }
    this.len = 0;
    this.skipping = false;
    return [];
  }

  /** Checks the sentence in buf[0..len) and returns it, or counts why not. */
  private finish(): string | undefined {
    const buf = this.buf;
    const len = this.len;
    this.len = 0;
    // Find the `*` from the end: a checksum is `*` and two hex digits at the end.
    let star = -1;
    for (let k = len - 1; k >= 1 && k >= len - 3; k--) {
      if (buf[k] === STAR) {
        star = k;
        break;
      }
    }
    if (star < 0) {
      if (len > 1) this.counters.no_checksum++;
      else this.counters.truncated++;
      return undefined;
    }
    if (star !== len - 3) {
      this.counters.bad_checksum++;
      return undefined;
    }
    const hi = hexValue(buf[len - 2]!);
    const lo = hexValue(buf[len - 1]!);
    let sum = 0;
    for (let k = 1; k < star; k++) sum ^= buf[k]!;
    if (hi < 0 || lo < 0 || ((hi << 4) | lo) !== sum) {
      this.counters.bad_checksum++;
      return undefined;
    }
    if (star < 6) {
      // `$` + a 5-letter address at least; shorter is not a sentence.
      this.counters.truncated++;
      return undefined;
    }
    this.counters.sentences++;
    return buf.toString('latin1', 0, len);
  }
}
