import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Simulator, simIdentity } from '../../sim/simulator.js';
import { SimCamera, type SimVideoOptions } from '../../sim/camera/sim-camera.js';
import { FootageRecorder } from '../../sim/camera/footage-recorder.js';
import { FramePainter } from '../../sim/media/frame-painter.js';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { FleetRecorder } from '../helpers/fleet-recorder.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { consoleCli } from '../helpers/paths.js';
import { loadScaled } from '../helpers/deadline.js';

/** What the rig needs of its owner (a tap test, or a benchmark's own cleanup list). */
export interface Owner {
  teardown(fn: () => unknown): void;
  passing?(): boolean;
  comment?(...args: unknown[]): void;
}

export interface RigOptions {
  cameras: number;
  /** Agent-wide media cap, kbit/s (0: none). */
  mediaMaxKbps?: number;
  /** Pre-made recording of about this many bytes on every camera (0: none). */
  clipBytes?: number;
  /** Give the agent each camera's footage folder (mass storage) as well as its control port; a list: only these devices. */
  mountFootage?: boolean | string[];
  rateHz?: 1 | 5 | 10;
  /** Agent reporting settings (default: the agent's). */
  reporting?: Record<string, number>;
  /** More devices for the agent (GNSS-only receivers the caller feeds). */
  extraDevices?: Array<{ id: string; gnss: string }>;
  liveKeepaliveS?: number;
  seed?: number;
  /** How long to wait for every camera's first recording status (default 90 s). */
  readyTimeoutMs?: number;
  /** Cameras with real video (ffmpeg): MP4 recordings and live H.264. */
  video?: SimVideoOptions;
  /** Flags for the agent's node (a benchmark's BWC_AGENT_NODE_ARGS=--cpu-prof). */
  agentNodeArgs?: string[];
  /** More settings of each camera's devices[] entry (e.g. `video: rtsp://…`). */
  deviceConfig?: (device: string, index: number) => Record<string, unknown>;
  /** More sections of the agent's configuration (e.g. gb28181), added to the rig's own. */
  agentConfig?: Record<string, unknown>;
}

export interface PremadeClip {
  id: string;
  size: number;
  sha256: string;
  file: string;
}

export interface ConsoleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The real parts of a spot check, for tests and benchmarks: mosquitto on a
 * free port, simulated cameras on pseudo-terminals (recording from the
 * start, each holding a pre-made recording), the agent as a separate
 * process trusting a supervisor key made by `bwc-console keys generate`,
 * and the console as a process.
 */
export class SpotRig {
  readonly cameras: SimCamera[] = [];
  devices: string[] = [];
  clips = new Map<string, PremadeClip>();
  keyFile = '';
  keyId = '';
  private constructor(
    readonly dir: string,
    readonly broker: TestMosquitto,
    readonly sim: Simulator,
    readonly agent: AgentProcess,
    readonly recorder: FleetRecorder,
  ) {}

  get auditFile(): string {
    return join(this.dir, 'data', 'audit.log');
  }

  static async start(t: Owner, o: RigOptions): Promise<SpotRig> {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-spot-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const broker = await TestMosquitto.start();
    t.teardown(() => broker.stop());

    const footage = join(dir, 'footage');
    const sim = new Simulator({ cameras: o.cameras, transport: 'pty', rateHz: o.rateHz ?? 1, seed: o.seed ?? 11, footageDir: footage, portDir: join(dir, 'ports') });
    const cameras: SimCamera[] = [];
    // Cameras record from the start, so live feeds are allowed (liveFeed.onlyWhileRecording).
    sim.controlFactory = (c) => {
      const cam = new SimCamera({ ...c, recordingPlan: 'always', ...(o.video ? { video: o.video } : {}) });
      cameras.push(cam);
      return cam;
    };
    const clips = new Map<string, PremadeClip>();
    if (o.clipBytes) {
      for (const [i, device] of sim.devices.entries()) clips.set(device, makeClip(join(footage, device), device, simIdentity(i), o.clipBytes));
    }
    const ports = await sim.start();
    t.teardown(() => sim.stop());

    const keys = await runNode(consoleCli, ['keys', 'generate', '--role', 'supervisor', '--out', join(dir, 'keys'), '--json']);
    if (keys.code !== 0) throw new Error(`keys generate failed: ${keys.stderr}`);
    const key = JSON.parse(keys.stdout) as { key: string; pub: string; keyId: string };

    const configFile = join(dir, 'agent.yaml');
    writeFileSync(configFile, stringify({
      agent: { id: 'spot-gw', dataDir: join(dir, 'data') },
      log: { level: 'info' },
      mqtt: { brokers: [broker.url], keepaliveS: 5, connectTimeoutMs: 3000, reconnect: { minMs: 200, maxMs: 1000 } },
      devices: [
        ...ports.map((p, i) => ({ id: p.device, gnss: p.port, control: p.control, ...(o.mountFootage === true || (Array.isArray(o.mountFootage) && o.mountFootage.includes(p.device)) ? { footageDir: join(footage, p.device) } : {}), ...o.deviceConfig?.(p.device, i) })),
        ...(o.extraDevices ?? []),
      ],
      // A loaded test machine answers slower than a camera: the agent waits, the test judges completeness.
      devicePorts: { statusIntervalS: 5, reconnect: { minMs: 200, maxMs: 2000 }, controlTimeoutMs: Math.min(60_000, loadScaled(15_000)) },
      ...(o.reporting ? { reporting: o.reporting } : {}),
      publish: { mediaMaxKbps: o.mediaMaxKbps ?? 0 },
      security: { trustedKeys: [{ id: key.keyId, role: 'supervisor', publicKeyFile: key.pub }], rateLimitPerIssuerPerMin: 600, refusalSummaryS: 1 },
      liveFeed: { onlyWhileRecording: true, viewerKeepaliveS: o.liveKeepaliveS ?? 10 },
      ...o.agentConfig,
    }));
    const recorder = await FleetRecorder.start(broker.url);
    t.teardown(() => recorder.stop().catch(() => undefined));
    const agent = new AgentProcess(configFile, o.agentNodeArgs);
    agent.start();
    t.teardown(async () => {
      await agent.kill('SIGTERM');
      if (t.passing?.() === false) t.comment?.(`agent output (tail):\n${agent.output.slice(-6000)}`);
    });
    const rig = new SpotRig(dir, broker, sim, agent, recorder);
    Object.assign(rig, { devices: sim.devices, clips, keyFile: key.key, keyId: key.keyId });
    rig.cameras.push(...cameras);
    // Ready when every camera's control channel is up and it is recording, as its retained status says.
    await recorder.waitFor(
      () => sim.devices.every((d) => recorder.records.some((r) => r.type === 'status' && r.device === d && r.recording === 'recording' && r.officer !== undefined)),
      o.readyTimeoutMs ?? loadScaled(90_000),
      'a recording status with an officer from every camera',
    );
    return rig;
  }

  camera(device: string): SimCamera {
    const c = this.cameras.find((x) => x.deviceId === device);
    if (!c) throw new Error(`no camera ${device}`);
    return c;
  }

  /** `bwc-console spot-check` as a process; `onStderr` sees its progress lines as they come. */
  spotCheck(args: string[], onStderr?: (line: string) => void): Promise<ConsoleRun> {
    return runNode(consoleCli, ['spot-check', '--broker', this.broker.url, '--key', this.keyFile, ...args], onStderr);
  }

  auditEntries(): Array<Record<string, unknown>> {
    return readFileSync(this.auditFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export function runNode(script: string, args: string[], onStderr?: (line: string) => void): Promise<ConsoleRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) onStderr?.(l);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A finished recording on the camera's storage, as the camera writes them
 * (MJPEG + sidecar manifest), of about `bytes`: real frames, repeated to
 * reach the size cheaply.
 */
export function makeClip(dir: string, device: string, identity: { serial: string; officerNumber: string }, bytes: number): PremadeClip {
  mkdirSync(dir, { recursive: true });
  const painter = new FramePainter({ width: 640, height: 480, scale: 4 });
  const startMs = Date.now() - 3_600_000;
  const frames = Array.from({ length: 8 }, (_, i) => painter.paintJpeg({ deviceId: device, timeMs: startMs + i * 500, index: i }, 92));
  const stamp = new Date(startMs).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const rec = new FootageRecorder(dir, `${identity.serial}_${stamp}_0900`, startMs, identity.officerNumber, 'manual');
  let n = 0;
  while (rec.bytes < bytes) rec.append(frames[n++ % frames.length]!);
  const m = rec.finish(startMs + n * 500);
  const file = join(dir, m.file);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (sha256 !== m.sha256) throw new Error('footage recorder hash mismatch');
  return { id: m.id, size: m.size, sha256, file };
}
