import type { Fix } from '../../protocol/fix.js';

export type Constellation = 'gps' | 'glonass' | 'galileo' | 'beidou' | 'qzss';

export const CONSTELLATIONS: readonly Constellation[] = ['gps', 'glonass', 'galileo', 'beidou', 'qzss'];

/** What the receiver says about its satellites and solution in one epoch. */
export interface GnssSummary {
  /** 0 unknown, 1 no fix, 2 2D, 3 3D (as gpsd's TPV mode) */
  mode: 0 | 1 | 2 | 3;
  hdop?: number;
  /** satellites used in the solution and in view, per constellation; absent when not reported */
  sats: Partial<Record<Constellation, { used: number; inView: number }>>;
}

/**
 * One reporting cycle of the receiver. `timeMs` is absent while no date is
 * known yet (gpsd reports such cycles without a time); `fix` is absent when
 * the cycle holds no valid position.
 */
export interface Epoch {
  timeMs?: number;
  fix?: Fix;
  gnss: GnssSummary;
}
