import { EpochAssembler, type AssemblerOptions } from './epoch-assembler.js';
import { NmeaFramer } from './framer.js';
import type { Epoch } from './types.js';

export type NmeaDecoderOptions = AssemblerOptions;

/**
 * Bytes from a GNSS receiver in, epochs out, as the bytes arrive: an epoch is
 * returned by the push() that completes it (the receiver's learned last
 * sentence of a cycle, or the first sentence of the next cycle), never later.
 * Nothing thrown: whatever the bytes, bad input ends up in counters().
 */
export class NmeaDecoder {
  private readonly framer = new NmeaFramer();
  private readonly assembler: EpochAssembler;

  constructor(opts: NmeaDecoderOptions = {}) {
    this.assembler = new EpochAssembler(opts);
  }

  push(chunk: Buffer): Epoch[] {
    const out: Epoch[] = [];
    const sentences = this.framer.push(chunk);
    for (let i = 0; i < sentences.length; i++) this.assembler.push(sentences[i]!, out);
    return out;
  }

  /** End of the stream (port closed, file read): the cycle in progress is complete. */
  end(): Epoch[] {
    const out: Epoch[] = [];
    this.framer.flush();
    this.assembler.end(out);
    return out;
  }

  /** Framing drops by reason and decoding figures, for status and `--stats`. */
  counters(): Record<string, number> {
    return { ...this.framer.counters, ...prefixed(this.assembler.counters) };
  }
}

function prefixed(c: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(c)) out[k === 'sentences' ? 'decoded' : k] = v as number;
  return out;
}

/** Decodes a whole capture at once. */
export function decodeNmea(bytes: Buffer, opts?: NmeaDecoderOptions): Epoch[] {
  const d = new NmeaDecoder(opts);
  const out = d.push(bytes);
  for (const e of d.end()) out.push(e);
  return out;
}
