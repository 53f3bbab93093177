/**
 * Just enough NMEA to tell a right baud rate from a wrong one: find
 * `$…*hh` sentences and check their XOR checksum. Full framing and decoding
 * live in drivers/nmea; this stays minimal on purpose (no dependency on it).
 */
const SENTENCE = /[$!]([\x20-\x7e]{1,120}?)\*([0-9A-Fa-f]{2})(?=\r|\n|$|[$!])/g;

export function nmeaXor(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x;
}

/** Counts sentences with a correct checksum in a chunk of bytes. */
export function countValidSentences(text: string): number {
  let n = 0;
  SENTENCE.lastIndex = 0;
  for (let m = SENTENCE.exec(text); m; m = SENTENCE.exec(text)) {
    const body = m[1]!;
    if (body.includes('$') || body.includes('*')) continue;
    if (nmeaXor(body) === parseInt(m[2]!, 16)) n++;
  }
  return n;
}
