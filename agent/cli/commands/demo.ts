import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../../config/load-config.js';
import { createLogger } from '../../log.js';
import { Agent } from '../../agent.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../embedded-broker.js';
import { Simulator } from '../../../sim/simulator.js';
import { intOption, UsageError, writeOut } from '../cli-kit.js';
import { DemoBoard } from '../demo-board.js';
import { keyFingerprint, readPublicKey } from '../../commands/command-keys.js';
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

async function demo(opts: DemoOptions): Promise<void> {
  if (![1, 5, 10].includes(opts.rate)) throw new UsageError(`--rate must be 1, 5 or 10, got ${opts.rate}`);
  const trusted = opts.trust.map(parseTrust);
  const dataDir = resolve(opts.dataDir ?? mkdtempSync(join(tmpdir(), 'bwc-demo-')));
  mkdirSync(dataDir, { recursive: true });

  let embedded: EmbeddedBroker | undefined;
  const brokerUrl = opts.broker ?? (embedded = await startEmbeddedBroker()).url;

  const usePty = haveSocat();
  const sim = new Simulator({
    cameras: opts.cameras,
    transport: usePty ? 'pty' : 'tcp',
    rateHz: opts.rate as 1 | 5 | 10,
    footageDir: join(dataDir, 'footage'),
    portDir: join(dataDir, 'ports'),
    seed: opts.seed,
  });
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
    }),
  );
  const loaded = await loadConfig(configFile);
  const logFile = join(dataDir, 'agent.log');
  const log = createLogger({ level: 'info', destination: logFile, name: 'bwc-agent' });
  const agent = await Agent.start(loaded, log);

  const board = new DemoBoard(agent, process.stdout);
  process.stdout.write(
    `bwc-agent demo: ${opts.cameras} simulated camera(s) on ${usePty ? 'pseudo-terminals' : 'TCP (socat not found)'}, broker ${brokerUrl}${embedded ? ' (embedded)' : ''}\n` +
      `data and logs in ${dataDir}; watch with: npx bwc-console watch --broker ${brokerUrl} --device-keys ${join(dataDir, 'devices')}\n`,
  );
  board.start();

  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (opts.duration) setTimeout(done, opts.duration * 1000);
  });

  board.stop();
  const finalReport = board.finalReport();
  const emitted = sim.emitted();
  // Let the last fixes read from the ports reach the broker before stopping.
  await new Promise((r) => setTimeout(r, 500));
  await agent.stop('demo finished');
  await sim.stop();
  await embedded?.close();
  if (opts.summary) writeFileSync(opts.summary, JSON.stringify({ devices: emitted }, null, 2) + '\n');
  await writeOut(finalReport);
}
