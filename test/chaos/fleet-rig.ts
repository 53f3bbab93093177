import { join } from 'node:path';
import { Simulator, type SimCameraPorts } from '../../sim/simulator.js';
import { SimCamera } from '../../sim/camera/sim-camera.js';
import { ChaosMosquitto } from './chaos-broker.js';
import { PersistentRecorder } from './persistent-recorder.js';
import type { TapTest } from '../helpers/tap-test.js';
import { baseConfig, CHAOS_PASSWORD, ChaosAgent, removeDir, secretFile, tempDir, waitFor, writeAgentConfig } from './chaos-kit.js';

export interface FleetRigOptions {
  scenario: string;
  cameras: number;
  rateHz: 1 | 5 | 10;
  seed: number;
  /** Broker URLs the agent is given (default: the rig's own mosquitto). */
  brokers?: (broker: ChaosMosquitto) => string[] | Promise<string[]>;
  /** Sections laid over the base configuration. */
  config?: (base: Record<string, any>, dir: string) => Record<string, any>;
  /** Start the agent at once (default true). */
  startAgent?: boolean;
}

/**
 * A fleet under test: its own mosquitto, simulated cameras on real
 * pseudo-terminals, a subscriber recording everything, and the agent as a
 * process. Everything is torn down with the test.
 */
export class FleetRig {
  readonly cameras: SimCamera[] = [];
  private constructor(
    readonly dir: string,
    readonly broker: ChaosMosquitto,
    readonly sim: Simulator,
    readonly ports: SimCameraPorts[],
    readonly recorder: PersistentRecorder,
    readonly agent: ChaosAgent,
    readonly configFile: string,
  ) {}

  get devices(): string[] {
    return this.ports.map((p) => p.device);
  }

  get bufferFile(): string {
    return join(this.dir, 'data', 'buffer.db');
  }

  static async start(t: TapTest, o: FleetRigOptions): Promise<FleetRig> {
    const dir = tempDir(o.scenario);
    t.teardown(() => removeDir(dir));
    const broker = await ChaosMosquitto.start(join(dir, 'broker'));
    t.teardown(() => broker.stop());
    const sim = new Simulator({ cameras: o.cameras, transport: 'pty', rateHz: o.rateHz, seed: o.seed, footageDir: join(dir, 'footage'), portDir: join(dir, 'ports'), keepEmittedTimes: true });
    const cameras: SimCamera[] = [];
    sim.controlFactory = (c) => {
      const cam = new SimCamera(c);
      cameras.push(cam);
      return cam;
    };
    const ports = await sim.start();
    t.teardown(() => sim.stop());
    const passwordFile = secretFile(join(dir, 'mqtt-password'), CHAOS_PASSWORD + '\n');
    const base = baseConfig({ id: `chaos-${o.scenario}`, dataDir: join(dir, 'data'), brokers: o.brokers ? await o.brokers(broker) : [broker.url], devices: ports, passwordFile });
    const configFile = writeAgentConfig(join(dir, 'agent.yaml'), o.config ? o.config(base, dir) : base);
    const recorder = await PersistentRecorder.start(broker.url);
    t.teardown(() => recorder.stop());
    const agent = new ChaosAgent(configFile, o.scenario);
    t.teardown(async () => {
      await agent.kill('SIGKILL');
      if (t.passing() === false) t.comment(`agent output (tail):\n${agent.output.slice(-5000)}`);
    });
    const rig = new FleetRig(dir, broker, sim, ports, recorder, agent, configFile);
    rig.cameras.push(...cameras);
    if (o.startAgent !== false) agent.start();
    return rig;
  }

  /** Waits for live fixes from every camera after `sinceMs`. */
  async liveFromAll(sinceMs: number, timeoutMs: number, what: string): Promise<void> {
    await waitFor(() => this.devices.every((d) => this.recorder.fixes(d).some((f) => f.historical === false && f.receivedMs > sinceMs)), timeoutMs, what);
  }

  camera(device: string): SimCamera {
    const c = this.cameras.find((x) => x.opts.deviceId === device);
    if (!c) throw new Error(`no camera ${device}`);
    return c;
  }
}
