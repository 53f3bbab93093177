import { Simulator } from '../sim/simulator.js';
import { SimCamera } from '../sim/camera/sim-camera.js';

/**
 * The simulated cameras of the load benchmark, in their own process:
 * `bwc-agent sim` on real pseudo-terminals (patrol GNSS and the simulated
 * camera on the control port, recording on and off), except that footage
 * frames are made once a minute instead of twice a second. At 64 cameras the
 * JPEG frames of `bwc-agent sim` take most of a core, and on a two-core
 * machine the GNSS feeds then fall behind and skip epochs: the agent would
 * be measured reading a fraction of what 64 cameras send.
 *
 * Usage: node sim-feeder.js CAMERAS RATE_HZ PORT_DIR. Prints one JSON line
 * per camera ({"device","port","control"}) when ready; on SIGTERM prints
 * {"emitted": fixes written, "dropped": epochs skipped} to stderr and exits.
 */
async function main(): Promise<void> {
  const [cameras, rate, portDir] = process.argv.slice(2);
  const sim = new Simulator({ cameras: Number(cameras), rateHz: Number(rate) as 1 | 5 | 10, transport: 'pty', seed: 5, portDir });
  sim.controlFactory = (c) => new SimCamera({ ...c, footageFps: 1 / 60 });
  const ports = await sim.start();
  process.stdout.write(ports.map((p) => JSON.stringify(p) + '\n').join(''));
  await new Promise<void>((r) => process.once('SIGTERM', () => r()));
  const emitted = Object.values(sim.emitted()).reduce((s, e) => s + e.fixes, 0);
  await sim.stop();
  process.stderr.write(JSON.stringify({ emitted }) + '\n');
}

void main();
