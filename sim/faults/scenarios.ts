import { BwcError } from '../../common/errors.js';
import { SeededRandom } from '../gnss/random.js';
import type { GnssFault } from './gnss-faults.js';

/** What a scenario may do to the simulated cameras. */
export interface ScenarioControl {
  inject(device: string, fault: GnssFault, on: boolean): void;
}

export interface Scenario {
  readonly name: string;
  /** One line for `bwc-agent sim --help`. */
  readonly description: string;
  /** Patrol cars instead of officers on foot. */
  readonly vehicle?: boolean;
  /** Starts the scenario's timers; returns a function that stops them. */
  start(ctl: ScenarioControl, devices: string[], seed: number): () => void;
}

/** Repeats `on` then `off` phases with seeded random lengths (ms), staggered per camera. */
function cycle(ctl: ScenarioControl, device: string, fault: GnssFault, rnd: SeededRandom, offMs: [number, number], onMs: [number, number]): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const phase = (on: boolean): void => {
    if (stopped) return;
    const [lo, hi] = on ? onMs : offMs;
    timer = setTimeout(() => {
      if (stopped) return;
      ctl.inject(device, fault, !on);
      phase(!on);
    }, rnd.range(lo, hi));
  };
  phase(false);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

const steady = (faults: GnssFault[]) => (ctl: ScenarioControl, devices: string[]) => {
  for (const d of devices) for (const f of faults) ctl.inject(d, f, true);
  return () => {};
};

const tunnel = (ctl: ScenarioControl, devices: string[], seed: number) => {
  const rnd = new SeededRandom(seed ^ 0x7e1);
  const stops = devices.map((d) => cycle(ctl, d, 'no-fix', rnd, [45_000, 90_000], [15_000, 30_000]));
  return () => stops.forEach((s) => s());
};

const flakyUsb = (ctl: ScenarioControl, devices: string[], seed: number) => {
  const rnd = new SeededRandom(seed ^ 0xf1a);
  const stops = devices.map((d) => cycle(ctl, d, 'unplug', rnd, [20_000, 60_000], [2_000, 8_000]));
  return () => stops.forEach((s) => s());
};

const BASE: Scenario[] = [
  { name: 'patrol', description: 'officers on foot on a street grid, clean line (default)', start: () => () => {} },
  { name: 'vehicle', description: 'patrol cars (about 30 km/h, stops at lights), clean line', vehicle: true, start: () => () => {} },
  { name: 'tunnel', description: 'each camera loses its fix for 15-30 s every 45-90 s (status V, quality 0, empty fields)', start: tunnel },
  { name: 'flaky-usb', description: 'each camera is pulled out mid-sentence every 20-60 s and plugged back 2-8 s later (same port path)', start: flakyUsb },
  { name: 'noisy-line', description: 'garbage bytes (NUL, high bytes, stray $) and bad checksums on every camera', start: steady(['garbage', 'bad-checksum']) },
  { name: 'clock-drift', description: 'receiver clocks run fast by 20 ms per second', start: steady(['clock-drift']) },
];

/** One of each fault in turn: camera 1 clean, 2 tunnel, 3 flaky USB, 4 noisy line, 5 clock drift, then again. */
const mixed: Scenario = {
  name: 'mixed',
  description: 'camera 1 patrol, 2 tunnel, 3 flaky-usb, 4 noisy-line, 5 clock-drift, and round again',
  start(ctl, devices, seed) {
    const order = ['patrol', 'tunnel', 'flaky-usb', 'noisy-line', 'clock-drift'];
    const stops = devices.map((d, i) => findScenario(order[i % order.length]!).start(ctl, [d], seed + i));
    return () => stops.forEach((s) => s());
  },
};

export const SCENARIOS: readonly Scenario[] = [...BASE, mixed];

export function findScenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new BwcError('BAD_SCENARIO', `unknown scenario "${name}"; choose one of: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}

/** The scenario list as `--help` shows it. */
export function scenarioHelp(): string {
  const w = Math.max(...SCENARIOS.map((s) => s.name.length));
  return SCENARIOS.map((s) => `  ${s.name.padEnd(w)}  ${s.description}`).join('\n');
}
