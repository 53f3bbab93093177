/**
 * Zero-copy access to the comma-separated fields of one sentence: the hot
 * path reads numbers straight from character codes, without split(), regexes
 * or substrings, so decoding allocates almost nothing per sentence.
 *
 * Field 0 is the address (`GPGGA`); the checksum is not a field. `count`
 * follows gpsd's convention: the address plus the data fields.
 */

const MAX_FIELDS = 256;

export class Fields {
  s = '';
  count = 0;
  private readonly start = new Int32Array(MAX_FIELDS);
  private readonly end = new Int32Array(MAX_FIELDS);

  /** `sentence` is `$…*hh` as the framer returns it. */
  split(sentence: string): void {
    this.s = sentence;
    const stop = sentence.length - 3; // the `*`
    let n = 0;
    let from = 1;
    while (n < MAX_FIELDS - 1) {
      let at = sentence.indexOf(',', from);
      if (at < 0 || at > stop) at = stop;
      this.start[n] = from;
      this.end[n] = at;
      n++;
      if (at >= stop) break;
      from = at + 1;
    }
    this.count = n;
  }

  empty(i: number): boolean {
    return i >= this.count || this.start[i] === this.end[i];
  }

  length(i: number): number {
    return i >= this.count ? 0 : this.end[i]! - this.start[i]!;
  }

  /** First character code of the field, 0 when empty or absent. */
  char(i: number): number {
    if (i >= this.count || this.start[i] === this.end[i]) return 0;
    return this.s.charCodeAt(this.start[i]!);
  }

  charAt(i: number, k: number): number {
    if (i >= this.count) return 0;
    const p = this.start[i]! + k;
    return p < this.end[i]! ? this.s.charCodeAt(p) : 0;
  }

  str(i: number): string {
    return i >= this.count ? '' : this.s.slice(this.start[i], this.end[i]);
  }

  /** The address without its talker: `GGA` of `GPGGA`. */
  is(i: number, text: string): boolean {
    if (i >= this.count) return false;
    const a = this.start[i]!;
    if (this.end[i]! - a !== text.length) return false;
    return this.s.startsWith(text, a);
  }

  /**
   * A decimal number (`-12.5`, `007.0`), NaN when empty or not a plain
   * number: garbage must never turn into 0 the way parseFloat('') or atof do.
   */
  num(i: number): number {
    if (i >= this.count) return NaN;
    return parseDecimal(this.s, this.start[i]!, this.end[i]!);
  }

  /** C atoi(): leading digits, 0 when there are none (gpsd's reading of counts). */
  atoi(i: number): number {
    if (i >= this.count) return 0;
    const s = this.s;
    let p = this.start[i]!;
    const e = this.end[i]!;
    let neg = false;
    if (p < e && (s.charCodeAt(p) === 0x2d || s.charCodeAt(p) === 0x2b)) {
      neg = s.charCodeAt(p) === 0x2d;
      p++;
    }
    let v = 0;
    while (p < e) {
      const d = s.charCodeAt(p) - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      if (v > 1e9) break;
      p++;
    }
    return neg ? -v : v;
  }

  startOf(i: number): number {
    return this.start[i]!;
  }

  endOf(i: number): number {
    return this.end[i]!;
  }
}

export function parseDecimal(s: string, p: number, e: number): number {
  if (p >= e) return NaN;
  let neg = false;
  let c = s.charCodeAt(p);
  if (c === 0x2d || c === 0x2b) {
    neg = c === 0x2d;
    p++;
    if (p >= e) return NaN;
  }
  let int = 0;
  let digits = 0;
  while (p < e) {
    c = s.charCodeAt(p) - 0x30;
    if (c < 0 || c > 9) break;
    int = int * 10 + c;
    digits++;
    p++;
  }
  let frac = 0;
  let scale = 1;
  if (p < e && s.charCodeAt(p) === 0x2e) {
    p++;
    while (p < e) {
      c = s.charCodeAt(p) - 0x30;
      if (c < 0 || c > 9) return NaN;
      if (scale < 1e15) {
        frac = frac * 10 + c;
        scale *= 10;
      }
      digits++;
      p++;
    }
  }
  if (p !== e || digits === 0) return NaN;
  const v = int + frac / scale;
  return neg ? -v : v;
}
