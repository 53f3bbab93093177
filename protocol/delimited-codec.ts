import { BwcError } from '../common/errors.js';

/**
 * Length-delimited streams of messages, as protobuf's writeDelimitedTo: each
 * message preceded by its length as a varint. Used for files and pipes
 * (`bwc-agent track encode|decode`); MQTT frames messages itself.
 */

export function frameDelimited(messages: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const m of messages) total += varintSize(m.length) + m.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const m of messages) {
    let n = m.length;
    while (n >= 0x80) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
    out.set(m, pos);
    pos += m.length;
  }
  return out;
}

export interface DelimitedMessage {
  /** Byte offset of the message's first byte (after its length prefix) in the stream. */
  offset: number;
  bytes: Uint8Array;
}

/** Largest message a stream may hold (a track batch of 100,000 fixes stays far below). */
export const MAX_DELIMITED = 64 * 1024 * 1024;

/**
 * Splits a whole stream into its messages. A truncated length prefix or a
 * message cut short is a BwcError('BAD_MESSAGE') naming the byte offset.
 */
export function splitDelimited(stream: Uint8Array): DelimitedMessage[] {
  const out: DelimitedMessage[] = [];
  let pos = 0;
  while (pos < stream.length) {
    const start = pos;
    let len = 0;
    let shift = 1;
    for (let i = 0; ; i++) {
      if (pos >= stream.length) throw new BwcError('BAD_MESSAGE', `at byte ${start}: truncated length prefix (the input ends inside it)`);
      const b = stream[pos++]!;
      len += (b & 0x7f) * shift;
      if (b < 0x80) break;
      shift *= 128;
      if (i >= 4) throw new BwcError('BAD_MESSAGE', `at byte ${start}: length prefix longer than 5 bytes (not a length-delimited stream?)`);
    }
    if (len > MAX_DELIMITED) throw new BwcError('BAD_MESSAGE', `at byte ${start}: message length ${len} above ${MAX_DELIMITED} (not a length-delimited stream?)`);
    if (len > stream.length - pos) {
      throw new BwcError('BAD_MESSAGE', `at byte ${start}: message of ${len} bytes but only ${stream.length - pos} left (truncated input)`);
    }
    out.push({ offset: pos, bytes: stream.subarray(pos, pos + len) });
    pos += len;
  }
  return out;
}

function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n >>>= 7;
    s++;
  }
  return s;
}
