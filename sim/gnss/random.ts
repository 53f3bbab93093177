/**
 * A small seeded random source, so a simulated patrol, its noise and its
 * faults repeat exactly from a seed (tests and benchmarks compare runs).
 * mulberry32: 32-bit state, good enough for simulation, not for secrets.
 */
export class SeededRandom {
  private state: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    // Mix the seed so that seeds 0, 1, 2 … start far apart.
    this.state = (Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0x6a09e667) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  range(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const s = this.spareNormal;
      this.spareNormal = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/**
 * First-order Gauss-Markov process: the correlated error of a GNSS position
 * (it wanders by metres over tens of seconds rather than jumping each epoch).
 * `sigma` is the steady-state standard deviation, `tauS` the correlation time.
 */
export class GaussMarkov {
  value: number;
  constructor(private readonly rnd: SeededRandom, private readonly sigma: number, private readonly tauS: number, start?: number) {
    this.value = start ?? rnd.normal() * sigma;
  }

  step(dtS: number): number {
    const a = Math.exp(-dtS / this.tauS);
    this.value = a * this.value + Math.sqrt(1 - a * a) * this.sigma * this.rnd.normal();
    return this.value;
  }
}
