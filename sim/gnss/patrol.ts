import type { Fix } from '../../protocol/fix.js';
import { GaussMarkov, SeededRandom } from './random.js';

export interface PatrolOptions {
  /** Centre of the street grid; default Yuyao city centre. */
  centreLat?: number;
  centreLon?: number;
  /** Same seed, same patrol: route, pauses and noise. */
  seed?: number;
  rateHz?: 1 | 5 | 10;
  /** Cruising speed, m/s: walking ~1.4 (default), a patrol car ~8. */
  speedMps?: number;
  /** Time of the first fix (Unix ms). Default: a fixed date, so runs repeat; the simulator passes the clock. */
  startMs?: number;
  /** A patrol car: faster, accelerates and brakes, waits at lights. */
  vehicle?: boolean;
  /** Street spacing in metres (default 120) and blocks each side of the centre (default 4). */
  blockM?: number;
  blocks?: number;
}

export const YUYAO = { lat: 30.04, lon: 121.15 } as const;
/** 2026-11-25T02:00:00Z: a fixed default start so that a seed alone fixes the whole output. */
export const DEFAULT_START_MS = Date.UTC(2026, 10, 25, 2, 0, 0);

const EARTH_RADIUS_M = 6_371_008.8;
/** Unit vectors of the four street directions: north, east, south, west (east, north). */
const DIRS: ReadonlyArray<readonly [number, number]> = [[0, 1], [1, 0], [0, -1], [-1, 0]];

/**
 * An officer on patrol: walks the streets of a square grid around the
 * centre, turns at crossings, stops now and then (a talk, a check, a red
 * light), and reports what a receiver would: the true position plus a
 * correlated error of a few metres, with HDOP, satellites and altitude that
 * drift as they do under an open sky between buildings.
 */
export class Patrol {
  readonly rateHz: 1 | 5 | 10;
  readonly centreLat: number;
  readonly centreLon: number;
  /** Half-width of the grid in metres: the true track stays within ±extentM east and north. */
  readonly extentM: number;
  private readonly rnd: SeededRandom;
  private readonly periodMs: number;
  private readonly dt: number;
  private readonly cruise: number;
  private readonly vehicle: boolean;
  private readonly blockM: number;
  private readonly blocks: number;
  private readonly mPerDegLat: number;
  private readonly mPerDegLon: number;

  private epoch = 0;
  private readonly startMs: number;
  // True state: on the segment from node (i, j) in direction dir, `along` metres travelled.
  private i = 0;
  private j = 0;
  private dir = 0;
  private along = 0;
  private speed = 0;
  private pauseS = 0;
  private stopAtNextNode = false;
  private targetSpeed: number;
  private heading = 0;
  // Receiver-side errors.
  private readonly errE: GaussMarkov;
  private readonly errN: GaussMarkov;
  private readonly errAlt: GaussMarkov;
  private readonly hdopWander: GaussMarkov;
  private sats: number;
  private readonly baseAlt: number;

  constructor(opts: PatrolOptions = {}) {
    this.rateHz = opts.rateHz ?? 1;
    this.centreLat = opts.centreLat ?? YUYAO.lat;
    this.centreLon = opts.centreLon ?? YUYAO.lon;
    this.rnd = new SeededRandom(opts.seed ?? 1);
    this.periodMs = 1000 / this.rateHz;
    this.dt = 1 / this.rateHz;
    this.vehicle = opts.vehicle ?? false;
    this.cruise = opts.speedMps ?? (this.vehicle ? 8.3 : 1.4);
    this.targetSpeed = this.cruise;
    this.blockM = opts.blockM ?? 120;
    this.blocks = opts.blocks ?? 4;
    this.extentM = this.blockM * this.blocks;
    this.startMs = opts.startMs ?? DEFAULT_START_MS;
    const latRad = (this.centreLat * Math.PI) / 180;
    this.mPerDegLat = (Math.PI / 180) * EARTH_RADIUS_M;
    this.mPerDegLon = (Math.PI / 180) * EARTH_RADIUS_M * Math.cos(latRad);

    // Start at a random crossing, heading a random way that stays on the grid.
    this.i = this.rnd.int(-this.blocks + 1, this.blocks - 1);
    this.j = this.rnd.int(-this.blocks + 1, this.blocks - 1);
    this.dir = this.rnd.int(0, 3);
    this.heading = this.dir * 90;
    this.speed = this.cruise;
    this.errE = new GaussMarkov(this.rnd, 1.6, 25);
    this.errN = new GaussMarkov(this.rnd, 1.6, 25);
    this.errAlt = new GaussMarkov(this.rnd, 3.0, 40);
    this.hdopWander = new GaussMarkov(this.rnd, 0.15, 60);
    this.sats = this.rnd.int(14, 22);
    this.baseAlt = 6 + this.rnd.range(0, 6);
  }

  /** The next epoch's fix: times advance exactly one period per call. */
  next(): Fix {
    if (this.epoch > 0) this.advance(this.dt);
    const timeMs = this.startMs + Math.round(this.epoch * this.periodMs);
    this.epoch++;

    const [e, n] = this.truePosition();
    const errE = this.errE.step(this.dt);
    const errN = this.errN.step(this.dt);
    const lat = this.centreLat + (n + errN) / this.mPerDegLat;
    const lon = this.centreLon + (e + errE) / this.mPerDegLon;

    // Speed and course as a receiver derives them (Doppler): small noise when moving;
    // when standing still the course is the last one and the speed a few cm/s.
    const moving = this.speed > 0.2;
    const speed = Math.max(0, this.speed + this.rnd.normal() * (moving ? 0.08 : 0.02));
    const course = moving ? (this.heading + this.rnd.normal() * (this.vehicle ? 1 : 4) + 360) % 360 : this.heading;

    if (this.rnd.chance(0.02 * this.dt)) this.sats = Math.min(24, Math.max(9, this.sats + (this.rnd.chance(0.5) ? 1 : -1)));
    const hdop = Math.max(0.5, 0.8 + this.hdopWander.step(this.dt) + (22 - this.sats) * 0.03);

    return {
      timeMs,
      lat: round(lat, 8),
      lon: round(lon, 8),
      mode: 3,
      alt: round(this.baseAlt + this.errAlt.step(this.dt), 1),
      speed: round(speed, 2),
      course: round(course, 1) % 360,
      hdop: round(hdop, 1),
      sats: this.sats,
    };
  }

  /** Where the officer really is, in metres east and north of the centre. */
  private truePosition(): [number, number] {
    const [de, dn] = DIRS[this.dir]!;
    return [this.i * this.blockM + de * this.along, this.j * this.blockM + dn * this.along];
  }

  private advance(dt: number): void {
    if (this.pauseS > 0) {
      this.pauseS -= dt;
      this.speed = 0;
      return;
    }
    // A short stop mid-block: a word with a shop keeper, a look at a stall.
    if (!this.vehicle && this.rnd.chance(0.004 * dt)) {
      this.pauseS = this.rnd.range(5, 40);
      this.speed = 0;
      return;
    }
    const accel = this.vehicle ? 1.5 : 0.8;
    const remaining = this.blockM - this.along;
    // Cruising speed wanders a little, as a person's pace does.
    if (this.rnd.chance(0.1 * dt)) this.targetSpeed = this.cruise * this.rnd.range(0.85, 1.15);
    let want = this.targetSpeed;
    if (this.stopAtNextNode) want = Math.min(want, Math.sqrt(2 * accel * Math.max(0, remaining - 0.5)) + 0.3);
    this.speed = this.speed < want ? Math.min(want, this.speed + accel * dt) : Math.max(want, this.speed - 2 * accel * dt);
    this.along += this.speed * dt;
    this.heading = this.dir * 90;
    if (this.along >= this.blockM) this.arrive(this.along - this.blockM);
  }

  /** At a crossing: pick the next street (mostly straight on, never off the grid), maybe wait. */
  private arrive(overshoot: number): void {
    const [de, dn] = DIRS[this.dir]!;
    this.i += de;
    this.j += dn;
    this.along = 0;
    const options: number[] = [];
    const weights: number[] = [];
    for (let d = 0; d < 4; d++) {
      const [e, n] = DIRS[d]!;
      const ni = this.i + e, nj = this.j + n;
      if (Math.abs(ni) > this.blocks || Math.abs(nj) > this.blocks) continue;
      const turn = (d - this.dir + 4) % 4;
      options.push(d);
      weights.push(turn === 0 ? 5 : turn === 2 ? 0.3 : 2);
    }
    let pick = this.rnd.next() * weights.reduce((a, b) => a + b, 0);
    let k = 0;
    while (k < options.length - 1 && pick >= weights[k]!) pick -= weights[k++]!;
    this.dir = options[k]!;
    this.heading = this.dir * 90;
    if (this.stopAtNextNode) {
      this.stopAtNextNode = false;
      this.pauseS = this.vehicle ? this.rnd.range(10, 45) : this.rnd.range(5, 60);
      this.speed = 0;
    } else {
      this.along = Math.min(overshoot, this.blockM / 2);
    }
    this.stopAtNextNode = this.rnd.chance(this.vehicle ? 0.3 : 0.15);
  }
}

function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}
