import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { readPrivateKey } from '../../../common/command-keys.js';
import { intOption, UsageError, writeOut } from '../../../common/cli-kit.js';
import { BwcError } from '../../../common/errors.js';
import { checkTopicId, DEFAULT_PREFIX, Topics } from '../../../protocol/topics.js';
import type { CommandRole } from '../../../protocol/command-signing.js';
import { connectConsole } from '../../fleet/broker-connect.js';
import { CommandLink } from '../../spot-check/command-link.js';
import { pickRandom, readFleetStatus, type DeviceStatus } from '../../spot-check/fleet-status.js';
import { Progress } from '../../spot-check/progress.js';
import { runSpotCheck, type SpotKind, type SpotResult } from '../../spot-check/spot-check-runner.js';
import { resultsJson, resultsTable } from '../../spot-check/summary.js';

interface SpotCheckOptions {
  broker: string;
  key: string;
  device?: string;
  random?: number;
  onlyRecording?: boolean;
  kind: string;
  duration: number;
  fps: number;
  format?: string;
  quality: number;
  maxKbps: number;
  role: string;
  out: string;
  json?: boolean;
  quiet?: boolean;
  prefix: string;
  keepalive: number;
  stallTimeout: number;
  resumes: number;
}

const KINDS: SpotKind[] = ['snapshot', 'live', 'clip'];
const ROLES: CommandRole[] = ['supervisor', 'platform'];

export function registerSpotCheckCommand(program: Command): void {
  program
    .command('spot-check')
    .description('pull a snapshot, a live feed or the newest clip from chosen or random cameras; saves the files under --out, verifies their SHA-256, prints a summary')
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .requiredOption('--key <file.key>', 'private key that signs the commands (bwc-console keys generate); its fingerprint is the key id agents trust')
    .option('--device <id>', 'the camera to check')
    .option('--random <n>', 'check n cameras picked at random among those online', intOption('--random', 1, 1000))
    .option('--only-recording', 'with --random: pick among cameras that are recording')
    .requiredOption('--kind <kind>', 'snapshot, live or clip')
    .option('--duration <s>', 'live feed length, seconds', intOption('--duration', 1, 600), 10)
    .option('--fps <n>', 'live feed frame rate (default: the camera\'s, 25 for video, 2 for JPEG frames)', intOption('--fps', 1, 30), 0)
    .option('--format <format>', 'live feed: h264 (a playable MP4) or jpeg (JPEG frames); default: H.264 when the camera gives video')
    .option('--quality <q>', 'live feed JPEG quality', intOption('--quality', 10, 95), 50)
    .option('--max-kbps <n>', 'live feed bitrate cap asked of the agent, kbit/s (0: the agent\'s own cap)', intOption('--max-kbps', 0, 1_000_000), 0)
    .option('--role <role>', 'role the key is trusted with: supervisor or platform', 'supervisor')
    .requiredOption('--out <dir>', 'folder for the files (DIR/<device>/...)')
    .option('--json', 'print [{"device","kind","result","reason","files":[...],"bytes","sha256_ok",...}] instead of the table')
    .option('--quiet', 'no progress on stderr')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--keepalive <s>', 'live feed: seconds between viewer keepalives (below the agent\'s liveFeed.viewerKeepaliveS)', intOption('--keepalive', 1, 300), 5)
    .option('--stall-timeout <s>', 'clip: resume when no chunk came for this long, seconds', intOption('--stall-timeout', 2, 600), 10)
    .option('--resumes <n>', 'clip: most resumes in a row that gain no byte before giving up', intOption('--resumes', 0, 1000), 10)
    .action(async (opts: SpotCheckOptions) => spotCheck(opts));
}

async function spotCheck(opts: SpotCheckOptions): Promise<void> {
  if (opts.format !== undefined && opts.format !== 'h264' && opts.format !== 'jpeg') throw new UsageError(`--format must be h264 or jpeg, got ${JSON.stringify(opts.format)}`);
  if (!KINDS.includes(opts.kind as SpotKind)) throw new UsageError(`--kind must be one of ${KINDS.join(', ')}, got ${JSON.stringify(opts.kind)}`);
  if ((opts.device === undefined) === (opts.random === undefined)) throw new UsageError('give either --device ID or --random N');
  if (opts.onlyRecording && opts.random === undefined) throw new UsageError('--only-recording goes with --random');
  if (!ROLES.includes(opts.role as CommandRole)) throw new UsageError(`--role must be supervisor or platform (the roles that may pull footage), got ${JSON.stringify(opts.role)}`);
  if (opts.device !== undefined) {
    try {
      checkTopicId('device', opts.device);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const privateKey = readPrivateKey(opts.key);
  const outDir = resolve(opts.out);
  mkdirSync(outDir, { recursive: true });
  const topics = new Topics(opts.prefix);
  const progress = new Progress(opts.quiet ? undefined : process.stderr);

  // Reconnects by itself (resubscribing): a transfer resumes after a broken link.
  const client = await connectConsole(opts.broker, { reconnectPeriod: 1000 });
  client.on('error', () => undefined);
  try {
    const fleet = await readFleetStatus(client, topics);
    const targets = chooseTargets(opts, fleet);
    progress.note('spot-check', `${opts.kind} on ${targets.map((t) => t.device).join(', ')}`);
    const link = new CommandLink({ client, topics, privateKey, role: opts.role as CommandRole });
    const settings = {
      outDir, durationS: opts.duration, fps: opts.fps, quality: opts.quality, maxBitrateKbps: opts.maxKbps,
      ...(opts.format ? { format: opts.format === 'h264' ? 'video/h264' : 'image/jpeg' } : {}),
      keepaliveS: opts.keepalive, stallMs: opts.stallTimeout * 1000, maxResumes: opts.resumes,
    };
    const results: SpotResult[] = await Promise.all(targets.map((t) => runSpotCheck(link, t.device, opts.kind as SpotKind, settings, progress, t.officer)));
    await writeOut(opts.json ? resultsJson(results) : resultsTable(results));
    const ok = results.filter((r) => r.result === 'ok').length;
    // 0: every check worked; 1: none did; 3: some did.
    process.exitCode = ok === results.length ? 0 : ok === 0 ? 1 : 3;
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

function chooseTargets(opts: SpotCheckOptions, fleet: Map<string, DeviceStatus>): Array<{ device: string; officer?: string }> {
  if (opts.device !== undefined) {
    const st = fleet.get(opts.device);
    if (fleet.size > 0 && !st) {
      throw new BwcError('UNKNOWN_DEVICE', `no device ${opts.device} on ${opts.broker}: no agent has published its status (known: ${[...fleet.keys()].sort().slice(0, 20).join(', ')}${fleet.size > 20 ? ', ...' : ''})`);
    }
    if (st && !st.online) throw new BwcError('DEVICE_OFFLINE', `device ${opts.device} is offline (its last status says so): try again when it is back`);
    return [{ device: opts.device, ...(st?.officer ? { officer: st.officer } : {}) }];
  }
  const online = [...fleet.values()].filter((d) => d.online);
  const pool = opts.onlyRecording ? online.filter((d) => d.recording === 'recording') : online;
  if (pool.length === 0) {
    throw new BwcError('NO_DEVICE', fleet.size === 0
      ? `no device status on ${opts.broker}: no agent is publishing there (check the broker URL and --prefix)`
      : `none of the ${fleet.size} known devices is ${opts.onlyRecording ? 'online and recording' : 'online'}`);
  }
  if (pool.length < opts.random!) process.stderr.write(`spot-check: only ${pool.length} device(s) ${opts.onlyRecording ? 'recording' : 'online'}, checking all of them\n`);
  return pickRandom(pool, opts.random!).map((d) => ({ device: d.device, ...(d.officer ? { officer: d.officer } : {}) }));
}
