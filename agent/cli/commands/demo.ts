import type { Command } from 'commander';
import { checkFfmpeg } from '../../../drivers/video/ffmpeg-process.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../../config/load-config.js';
import { createLogger } from '../../../common/log.js';
import { Agent } from '../../agent.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../embedded-broker.js';
import { Simulator } from '../../../sim/simulator.js';
import { intOption, UsageError, untilStopSignal, writeOut } from '../../../common/cli-kit.js';
import { SimCamera } from '../../../sim/camera/sim-camera.js';
import { DemoBoard } from '../demo-board.js';
import { keyFingerprint, readPublicKey } from '../../../common/command-keys.js';
import { prepareDemoConsole } from '../../../console/server/demo-console.js';
import { createCredentials, credentialPaths, credentialProblem } from '../../technician/device-credentials.js';

interface DemoOptions {
  broker?: string;
  cameras: number;
  duration?: number;
  dataDir?: string;
  summary?: string;
  trust: string[];
  checkpointInterval?: number;
  rate: number;
  seed: number;
  gb28181?: string;
  gbDeviceId?: string;
  gbPasswordFile?: string;
  console: boolean;
  consoleListen: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('simulated cameras + the agent (+ an embedded MQTT broker when --broker is left out), with a live line per camera')
    .option('--broker <url>', 'publish to this broker instead of the embedded one, e.g. mqtt://127.0.0.1:1883')
    .option('--cameras <n>', 'number of simulated cameras', intOption('--cameras', 1, 256), 4)
    .option('--duration <seconds>', 'stop after this many seconds (default: run until Ctrl-C)', intOption('--duration', 1))
    .option('--data-dir <dir>', 'where the agent keeps its buffer and state (default: a new temporary folder)')
    .option('--summary <file>', 'on exit, write what the simulated cameras emitted: {"devices":{"<id>":{"fixes":N,"first":"<time>","last":"<time>"}}}')
    .option('--checkpoint-interval <s>', 'seal and sign each camera\'s data this often, seconds (security.checkpointIntervalS; default 150)', intOption('--checkpoint-interval', 1, 3600))
    .option('--trust <file.pub:role>', 'accept commands signed by this public key with this role (supervisor, technician, platform); repeatable', collect, [])
    .option('--rate <hz>', 'GNSS rate of the simulated cameras: 1, 5 or 10', intOption('--rate', 1, 10), 1)
    .option('--seed <n>', 'seed of the simulation', intOption('--seed', 0), 1)
    .option('--gb28181 <sip-uri>', 'also register the cameras on a GB/T 28181 platform: sip://SERVER_ID@HOST:PORT (;transport=tcp for TCP)')
    .option('--gb-device-id <id>', 'the 20-digit GB/T 28181 device id of the demo gateway (with --gb28181)')
    .option('--gb-password-file <file>', 'file holding the GB/T 28181 password (with --gb28181; mode 0600)')
    .option('--no-console', 'do not start the web console (bwc-console serve) beside the cameras')
    .option('--console-listen <host:port>', 'where the web console listens (a free port when this one is taken)', '127.0.0.1:8080')
    .action(async (opts: DemoOptions) => demo(opts));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseTrust(spec: string): { id: string; role: string; publicKeyFile: string } {
  const at = spec.lastIndexOf(':');
  const file = spec.slice(0, at);
  const role = spec.slice(at + 1);
  if (at <= 0 || !['supervisor', 'technician', 'platform'].includes(role)) {
    throw new UsageError(`--trust takes FILE.pub:ROLE with ROLE supervisor, technician or platform, got ${JSON.stringify(spec)}`);
  }
  // The key id is the key's fingerprint: what `bwc-console keys generate` prints and what the console signs with.
  return { id: keyFingerprint(readPublicKey(file)), role, publicKeyFile: resolve(file) };
}

function haveSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** `sip://34020000002000000001@192.168.1.10:5060;transport=tcp` → the gb28181 section of the demo configuration. */
export function gbSectionFromFlags(opts: Pick<DemoOptions, 'gb28181' | 'gbDeviceId' | 'gbPasswordFile'>): Record<string, unknown> | undefined {
  if (!opts.gb28181) {
    if (opts.gbDeviceId || opts.gbPasswordFile) throw new UsageError('--gb-device-id and --gb-password-file go with --gb28181 sip://ID@HOST:PORT');
    return undefined;
  }
  const m = /^sip:(?:\/\/)?(\d{20})@([^:;/\s]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?(?:;transport=(udp|tcp))?$/i.exec(opts.gb28181);
  if (!m) throw new UsageError(`--gb28181 takes sip://SERVER_ID@HOST:PORT with a 20-digit server id, got ${JSON.stringify(opts.gb28181)}`);
  if (!opts.gbDeviceId || !/^\d{20}$/.test(opts.gbDeviceId)) throw new UsageError(`--gb-device-id takes the gateway's 20-digit GB/T 28181 id, got ${JSON.stringify(opts.gbDeviceId ?? '')}`);
  return {
    server: { id: m[1], domain: m[1]!.slice(0, 10), host: m[2]!.replace(/^\[|\]$/g, ''), port: Number(m[3] ?? 5060), transport: (m[4] ?? 'udp').toUpperCase() },
    deviceId: opts.gbDeviceId,
    ...(opts.gbPasswordFile ? { passwordFile: resolve(opts.gbPasswordFile) } : {}),
    localPort: 0,
  };
}

async function demo(opts: DemoOptions): Promise<void> {
  if (![1, 5, 10].includes(opts.rate)) throw new UsageError(`--rate must be 1, 5 or 10, got ${opts.rate}`);
  const gb28181 = gbSectionFromFlags(opts);
  const trusted = opts.trust.map(parseTrust);
  const dataDir = resolve(opts.dataDir ?? mkdtempSync(join(tmpdir(), 'bwc-demo-')));
  mkdirSync(dataDir, { recursive: true });

  let embedded: EmbeddedBroker | undefined;
  const brokerUrl = opts.broker ?? (embedded = await startEmbeddedBroker()).url;

  // The command centre's screen beside the cameras, trusted by the agent for spot checks;
  // made before the cameras start, so the agent reads their first fixes.
  const demoConsole = opts.console ? await prepareDemoConsole(join(dataDir, 'console')) : undefined;
  if (demoConsole) trusted.push(demoConsole.trust);
  const usePty = haveSocat();
  // Video needs ffmpeg with libx264; without it the demo runs on with MJPEG recordings and JPEG frames.
  const ffmpeg = checkFfmpeg();
  const sim = new Simulator({
    ...(ffmpeg.ok ? { video: { live: { width: 1280, height: 720, fps: 25, kbps: 1000 }, record: { width: 640, height: 360, fps: 15 } } } : {}),
    cameras: opts.cameras,
    transport: usePty ? 'pty' : 'tcp',
    rateHz: opts.rate as 1 | 5 | 10,
    footageDir: join(dataDir, 'footage'),
    portDir: join(dataDir, 'ports'),
    seed: opts.seed,
  });
  if (gb28181) {
    // The platform plays the cameras: they get their H.264 encoder (ffmpeg), kept ready at what the GB/T 28181 side asks.
    sim.controlFactory = (c) => new SimCamera({ ...c, video: { live: { width: 640, height: 360, fps: 25, kbps: 1000 }, record: false } });
  }
  const ports = await sim.start();
  // Every camera signs its data with its own device key, as provisioning would create it.
  for (const p of ports) {
    const creds = credentialPaths(dataDir, p.device, 'keypair');
    if (credentialProblem(creds)) createCredentials(dataDir, creds);
  }

  const configFile = join(dataDir, 'demo-agent.yaml');
  writeFileSync(
    configFile,
    stringify({
      agent: { id: 'demo-gateway', dataDir },
      log: { level: 'info' },
      mqtt: { brokers: [brokerUrl], reconnect: { minMs: 200, maxMs: 5000 } },
      // Pseudo-terminals ignore the baud rate: a fixed one skips detection.
      devices: ports.map((p) => ({ id: p.device, gnss: p.port, control: p.control, baud: 115200 })),
      // Every fix is reported, so what the cameras emitted (--summary) is what the broker gets.
      reporting: { movingIntervalS: 1, recordingIntervalS: 1, stationaryIntervalS: 1, distanceM: 0, headingChangeDeg: 0 },
      devicePorts: { statusIntervalS: 10, reconnect: { minMs: 200, maxMs: 5000 } },
      security: { trustedKeys: trusted, ...(opts.checkpointInterval ? { checkpointIntervalS: opts.checkpointInterval } : {}) },
      ...(gb28181 ? { gb28181 } : {}),
    }),
  );
  const loaded = await loadConfig(configFile);
  const logFile = join(dataDir, 'agent.log');
  const log = createLogger({ level: 'info', destination: logFile, name: 'bwc-agent' });
  const agent = await Agent.start(loaded, log);

  const board = new DemoBoard(agent, process.stdout);
  process.stdout.write(
    `bwc-agent demo: ${opts.cameras} simulated camera(s) on ${usePty ? 'pseudo-terminals' : 'TCP (socat not found)'}, broker ${brokerUrl}${embedded ? ' (embedded)' : ''}\n` +
      `data and logs in ${dataDir}; watch with: npx bwc-console watch --broker ${brokerUrl} --device-keys ${join(dataDir, 'devices')}\n` +
      (agent.gb ? `GB/T 28181: device ${opts.gbDeviceId} registering with ${opts.gb28181}\n` : '') +
      (ffmpeg.ok ? `video: ${ffmpeg.detail}: MP4 recordings, live H.264\n` : `video unavailable: ${ffmpeg.detail}; recordings are MJPEG and live feeds JPEG frames\n`) +
      `${DemoBoard.legend}\n`,
  );
  if (demoConsole) {
    const [host, port] = [opts.consoleListen.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(opts.consoleListen)?.[1] ?? NaN)];
    if (!host || !Number.isInteger(port)) throw new UsageError(`--console-listen takes HOST:PORT, got ${JSON.stringify(opts.consoleListen)}`);
    process.stdout.write(`console: ${await demoConsole.start(brokerUrl, host, port)} (log in as ${demoConsole.user} / ${demoConsole.password})\n`);
  }
  board.start();

  const stopped = untilStopSignal();
  await Promise.race([stopped, ...(opts.duration ? [new Promise((r) => setTimeout(r, opts.duration! * 1000).unref())] : [])]);

  board.stop();
  const finalReport = board.finalReport();
  const emitted = sim.emitted();
  // Let the last fixes read from the ports reach the broker before stopping.
  await new Promise((r) => setTimeout(r, 500));
  // The agent first: cameras that vanished under it would be logged as unplugged.
  await demoConsole?.stop();
  await agent.stop('demo finished');
  await sim.stop();
  await embedded?.close();
  if (opts.summary) writeFileSync(opts.summary, JSON.stringify({ devices: emitted }, null, 2) + '\n');
  await writeOut(finalReport);
}
