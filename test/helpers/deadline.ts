import { availableParallelism, loadavg } from 'node:os';

/**
 * A deadline for "this must happen eventually", stretched by how busy the
 * machine is: on a 2-core machine with a load average of 8 a step takes
 * several times longer than on a quiet one. Tests judge completeness (every
 * message arrives); these deadlines only stop them from waiting forever.
 */
export function loadScaled(ms: number): number {
  const busy = loadavg()[0]! / availableParallelism();
  return Math.round(ms * Math.min(8, Math.max(1, busy)));
}
