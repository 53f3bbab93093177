import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { BwcError } from '../common/errors.js';
import { settledWithin } from '../common/within.js';
import type { Fix } from '../protocol/fix.js';
import { SimCamera, type SimVideoOptions } from './camera/sim-camera.js';
import { isGnssFault, type GnssFault } from './faults/gnss-faults.js';
import { findScenario, type Scenario } from './faults/scenarios.js';
import { GnssFeed, type EmittedCount } from './gnss/gnss-feed.js';
import { YUYAO } from './gnss/patrol.js';
import { BaudGatedEndpoint } from './gnss/baud-gate.js';
import { PtyEndpoint, TcpEndpoint, type PortEndpoint } from './gnss/port-endpoint.js';
import { loadCapture, type ReplayEpoch } from './gnss/replay.js';
import type { CameraIdentity } from '../drivers/camera/camera-driver.js';

export type { GnssFault } from './faults/gnss-faults.js';

export interface SimOptions {
  cameras: number;
  /** Device ids are idPrefix + 4 digits: BWC-0001 … */
  idPrefix?: string;
  transport?: 'pty' | 'tcp';
  rateHz?: 1 | 5 | 10;
  /** Replay this capture instead of simulating a patrol (`#` lines skipped). */
  nmeaFile?: string;
  /** Replay pace: 1 = the capture's own, 10 = ten times faster. */
  replaySpeed?: number;
  footageDir?: string;
  seed?: number;
  centre?: { lat: number; lon: number };
  scenario?: string;
  /** Where the pty symlinks go (stable across unplug/replug). Default: a fresh temp folder, removed on stop. */
  portDir?: string;
  /**
   * The receivers' UART rate (pty only). When set, a host that opens the GNSS
   * port at another rate reads garbage, as on a real UART; unset, any rate works.
   */
  baud?: number;
  /** Keep every emitted fix time (emitted()[device].times), for tests that account for each one. */
  keepEmittedTimes?: boolean;
  /** Cameras with real video through ffmpeg (MP4 recordings, live H.264); left out: MJPEG and JPEG frames. */
  video?: SimVideoOptions;
}

export interface SimCameraPorts {
  device: string;
  /** GNSS port: a pty path or tcp://127.0.0.1:N. */
  port: string;
  control: string;
}

/** The control side's server: the simulated camera (sim/camera), loosely coupled to the GNSS side. */
export interface ControlServer {
  serve(stream: Duplex): void;
  stop?(): void | Promise<void>;
  /** The camera's own GNSS position, drawn on its frames: the one link from the GNSS side. */
  setPosition?(fix: Fix): void;
}
/** What a simulated camera says it is: the identity a real one gives over its control channel. */
export type SimIdentity = CameraIdentity;
export type ControlServerFactory = (c: { deviceId: string; identity: SimIdentity; footageDir: string; seed: number }) => ControlServer | Promise<ControlServer>;

const OFFICER_NAMES = ['王伟', '李娜', '张敏', '刘洋', '陈静', '杨磊', '赵军', '黄勇', '周杰', '吴霞', '徐明', '孙丽'];

/** A plausible GA/T 947 identity for camera number `index` (0-based): 7-char serial, 6-digit officer, 12-char unit. */
export function simIdentity(index: number): SimIdentity {
  return {
    serial: `YY${String(index + 1).padStart(5, '0')}`,
    model: 'BWC-SIM-1',
    firmware: '1.0.0-sim',
    officerNumber: String(810001 + index).padStart(6, '0').slice(-6),
    officerName: OFFICER_NAMES[index % OFFICER_NAMES.length]!,
    // 330281: Yuyao's administrative code; then team and unit.
    unitNumber: `33028152${String(1 + (index % 9999)).padStart(4, '0')}`,
    unitName: '余姚市综合行政执法局',
  };
}

interface SimCameraSlot {
  device: string;
  gnss: PortEndpoint;
  control: PortEndpoint;
  feed: GnssFeed;
  server?: ControlServer;
  unplugged: boolean;
}

const MAX_CAMERAS = 256;
/** How long an unplug waits for its half sentence to leave (a UART sends it in milliseconds). */
const PARTIAL_SENTENCE_WAIT_MS = 1000;

/**
 * Simulated cameras on real ports, the same for the tests and a person
 * (`bwc-agent sim`): each camera has a GNSS port (a patrol at 1/5/10 Hz or a
 * capture replay, through its line faults) and a control port served by the
 * simulated camera. A scenario switches faults on and off over time.
 */
export class Simulator {
  private readonly opts: Required<Pick<SimOptions, 'cameras' | 'idPrefix' | 'transport' | 'rateHz' | 'replaySpeed' | 'seed' | 'scenario'>> & SimOptions;
  private readonly scenario: Scenario;
  private readonly slots = new Map<string, SimCameraSlot>();
  private portDir: string | undefined;
  private ownPortDir = false;
  private footageRoot: string | undefined;
  private ownFootage = false;
  private stopScenario: (() => void) | undefined;
  private started = false;
  private stopped = false;
  private readonly pending = new Set<Promise<unknown>>();
  /** Overrides the control server (tests); default: the simulated camera of sim/camera. */
  controlFactory: ControlServerFactory | undefined;

  constructor(opts: SimOptions) {
    const cameras = opts.cameras;
    if (!Number.isInteger(cameras) || cameras < 1 || cameras > MAX_CAMERAS) throw new BwcError('BAD_SIM_OPTIONS', `cameras must be an integer from 1 to ${MAX_CAMERAS}, got ${JSON.stringify(cameras)}`);
    const rateHz = opts.rateHz ?? 1;
    if (![1, 5, 10].includes(rateHz)) throw new BwcError('BAD_SIM_OPTIONS', `rate must be 1, 5 or 10 Hz, got ${JSON.stringify(rateHz)}`);
    const replaySpeed = opts.replaySpeed ?? 1;
    if (!(replaySpeed > 0 && replaySpeed <= 1000)) throw new BwcError('BAD_SIM_OPTIONS', `replay speed must be above 0 and at most 1000, got ${JSON.stringify(replaySpeed)}`);
    const transport = opts.transport ?? 'pty';
    if (transport !== 'pty' && transport !== 'tcp') throw new BwcError('BAD_SIM_OPTIONS', `transport must be "pty" or "tcp", got ${JSON.stringify(transport)}`);
    if (opts.centre && !(Math.abs(opts.centre.lat) < 85 && Math.abs(opts.centre.lon) <= 180)) throw new BwcError('BAD_SIM_OPTIONS', `centre must be a latitude within ±85 and a longitude within ±180, got ${JSON.stringify(opts.centre)}`);
    if (opts.baud !== undefined && !(Number.isInteger(opts.baud) && opts.baud > 0)) throw new BwcError('BAD_SIM_OPTIONS', `baud must be a positive integer, got ${JSON.stringify(opts.baud)}`);
    if (opts.baud !== undefined && (opts.transport ?? 'pty') !== 'pty') throw new BwcError('BAD_SIM_OPTIONS', 'baud applies to pseudo-terminal ports only, not to TCP');
    const idPrefix = opts.idPrefix ?? 'BWC-';
    if (!/^[A-Za-z0-9_.-]{0,32}$/.test(idPrefix)) throw new BwcError('BAD_SIM_OPTIONS', `idPrefix may hold only letters, digits, "_", "." and "-" (at most 32), got ${JSON.stringify(idPrefix)}`);
    this.scenario = findScenario(opts.scenario ?? 'patrol');
    this.opts = { ...opts, cameras, idPrefix, transport, rateHz: rateHz as 1 | 5 | 10, replaySpeed, seed: opts.seed ?? 1, scenario: this.scenario.name };
  }

  /** The device ids, in order. */
  get devices(): string[] {
    return Array.from({ length: this.opts.cameras }, (_, i) => `${this.opts.idPrefix}${String(i + 1).padStart(4, '0')}`);
  }

  async start(): Promise<SimCameraPorts[]> {
    if (this.started) throw new BwcError('SIM_STATE', 'simulator already started');
    this.started = true;
    const replay: ReplayEpoch[] | undefined = this.opts.nmeaFile ? loadCapture(this.opts.nmeaFile) : undefined;
    if (this.opts.transport === 'pty') {
      if (this.opts.portDir) {
        this.portDir = resolve(this.opts.portDir);
        mkdirSync(this.portDir, { recursive: true });
      } else {
        this.portDir = mkdtempSync(join(tmpdir(), 'bwc-sim-'));
        this.ownPortDir = true;
      }
      mkdirSync(join(this.portDir, '.camera-side'), { recursive: true });
    }
    if (this.opts.footageDir) this.footageRoot = resolve(this.opts.footageDir);
    else {
      this.footageRoot = mkdtempSync(join(tmpdir(), 'bwc-sim-footage-'));
      this.ownFootage = true;
    }
    const factory: ControlServerFactory | undefined = this.controlFactory ?? (await defaultControlFactory(this.opts.video));

    const centre = this.opts.centre ?? YUYAO;
    const ports: SimCameraPorts[] = [];
    try {
      for (const [i, device] of this.devices.entries()) {
        const seed = this.opts.seed * 1009 + i;
        const gnss = this.opts.baud ? new BaudGatedEndpoint(this.endpoint(device, 'gnss'), this.opts.baud, seed) : this.endpoint(device, 'gnss');
        const control = this.endpoint(device, 'control');
        const feed = new GnssFeed(
          gnss,
          replay ? { kind: 'replay', epochs: replay, speed: this.opts.replaySpeed } : { kind: 'patrol', rateHz: this.opts.rateHz, seed, centre, vehicle: this.scenario.vehicle },
          seed,
          { keepTimes: this.opts.keepEmittedTimes },
        );
        const slot: SimCameraSlot = { device, gnss, control, feed, unplugged: false };
        this.slots.set(device, slot);
        if (factory) {
          const footageDir = join(this.footageRoot!, device);
          mkdirSync(footageDir, { recursive: true });
          slot.server = await factory({ deviceId: device, identity: simIdentity(i), footageDir, seed });
          control.onStream((s) => slot.server!.serve(s));
        }
        feed.onFix = (fix) => slot.server?.setPosition?.(fix);
        await Promise.all([gnss.plug(), control.plug()]);
        feed.start();
        ports.push({ device, port: gnss.address, control: control.address });
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.stopScenario = this.scenario.start({ inject: (d, f, on) => this.inject(d, f, on) }, this.devices, this.opts.seed);
    return ports;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopScenario?.();
    for (const slot of this.slots.values()) slot.feed.stop();
    await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.slots.values()].flatMap((s) => [s.gnss.unplug(), s.control.unplug(), Promise.resolve(s.server?.stop?.())]));
    if (this.ownPortDir && this.portDir) rmSync(this.portDir, { recursive: true, force: true });
    else if (this.portDir) rmSync(join(this.portDir, '.camera-side'), { recursive: true, force: true });
    if (this.ownFootage && this.footageRoot) rmSync(this.footageRoot, { recursive: true, force: true });
  }

  /** Pulls the camera out: half a sentence goes out, then both its ports vanish. */
  async unplug(device: string): Promise<void> {
    const slot = this.slot(device);
    if (slot.unplugged) return;
    slot.unplugged = true;
    // Half a sentence goes out first, as far as the line takes it: a line nobody reads (the
    // host has the port closed) holds it back, and the camera is pulled all the same.
    await settledWithin(PARTIAL_SENTENCE_WAIT_MS, new Promise<void>((resolve) => {
      if (!slot.gnss.write(slot.feed.partialSentence(), resolve)) resolve();
    }));
    await Promise.all([slot.gnss.unplug(), slot.control.unplug()]);
  }

  /** Plugs the camera back in: the same port paths (or TCP ports) come back. */
  async replug(device: string): Promise<void> {
    const slot = this.slot(device);
    if (!slot.unplugged || this.stopped) return;
    await Promise.all([slot.gnss.plug(), slot.control.plug()]);
    slot.unplugged = false;
  }

  /** Switches a GNSS fault on or off for one camera ('unplug' = unplug/replug). */
  inject(device: string, fault: GnssFault, on: boolean): void {
    const slot = this.slot(device);
    if (!isGnssFault(fault)) throw new BwcError('BAD_FAULT', `unknown GNSS fault ${JSON.stringify(fault)}`);
    if (fault === 'unplug') {
      if (this.stopped) return;
      const p = (on ? this.unplug(device) : this.replug(device)).catch(() => {
        // A replug can fail if the machine is short of ptys; the next cycle tries again.
        slot.unplugged = true;
      });
      this.pending.add(p);
      void p.finally(() => this.pending.delete(p));
      return;
    }
    slot.feed.faults.set(fault, on, Date.now());
  }

  /** Fixes with a valid position written to each camera's GNSS port. */
  emitted(): Record<string, EmittedCount> {
    const out: Record<string, EmittedCount> = {};
    for (const [d, s] of this.slots) out[d] = { ...s.feed.emitted, ...(s.feed.emitted.times ? { times: [...s.feed.emitted.times] } : {}) };
    return out;
  }

  /** Faults now active per camera (for a status line). */
  activeFaults(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [d, s] of this.slots) out[d] = [...s.feed.faults.active(), ...(s.unplugged ? ['unplugged'] : [])];
    return out;
  }

  private slot(device: string): SimCameraSlot {
    const s = this.slots.get(device);
    if (!s) throw new BwcError('UNKNOWN_DEVICE', `no simulated camera ${JSON.stringify(device)}; known: ${[...this.slots.keys()].join(', ')}`);
    return s;
  }

  private endpoint(device: string, kind: 'gnss' | 'control'): PortEndpoint {
    if (this.opts.transport === 'tcp') return new TcpEndpoint();
    return new PtyEndpoint(join(this.portDir!, `${device}-${kind}`), join(this.portDir!, '.camera-side', `${device}-${kind}`));
  }
}

/** The simulated camera of sim/camera serves the control port. */
async function defaultControlFactory(video: SimVideoOptions | undefined): Promise<ControlServerFactory> {
  return (c) => new SimCamera({ ...c, ...(video ? { video } : {}) });
}
