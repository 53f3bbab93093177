/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): each delay is uniform in [0, min(max, min·factor^n)],
 * never below `minMs`. Full jitter spreads the reconnects of many devices (or
 * many agents after a broker restart) instead of having them retry in step.
 */
export interface BackoffOptions {
  /** First ceiling and lower bound of every delay, ms (default 500). */
  minMs?: number;
  /** Ceiling of every delay, ms (default 30 000). */
  maxMs?: number;
  /** Growth of the ceiling per attempt (default 2). */
  factor?: number;
  /** Uniform [0, 1) source; injectable so tests are exact. Default Math.random. */
  random?: () => number;
}

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly factor: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    this.minMs = opts.minMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.factor = opts.factor ?? 2;
    this.random = opts.random ?? Math.random;
    if (!(this.minMs >= 0) || !(this.maxMs >= this.minMs) || !(this.factor >= 1)) {
      throw new RangeError(`backoff needs 0 <= minMs <= maxMs and factor >= 1, got min ${this.minMs}, max ${this.maxMs}, factor ${this.factor}`);
    }
  }

  /** The ceiling the next delay is drawn under (grows per attempt, capped at maxMs). */
  get ceilingMs(): number {
    return Math.min(this.maxMs, this.minMs * this.factor ** this.attempt);
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next try, ms. */
  next(): number {
    const ceiling = this.ceilingMs;
    // Stop growing the exponent once capped, so it never overflows to Infinity.
    if (ceiling < this.maxMs) this.attempt++;
    else this.attempt = Math.max(this.attempt, 1);
    return Math.max(this.minMs, Math.floor(this.random() * ceiling));
  }

  /** After a success: the next failure starts again from the shortest delay. */
  reset(): void {
    this.attempt = 0;
  }
}
