import type { Command } from 'commander';
import { Topics, DEFAULT_PREFIX } from '../../protocol/topics.js';
import { intOption, writeOut } from '../../agent/cli/cli-kit.js';
import { connectConsole } from '../broker-connect.js';
import { decodeFleetMessage, type FleetRecord } from '../fleet-decoder.js';
import { SeqTracker } from '../seq-tracker.js';
import { WatchAuth } from '../watch-auth.js';

interface WatchOptions {
  broker: string;
  jsonl?: boolean;
  prefix: string;
  group?: string;
  duration?: number;
  deviceKeys?: string;
}

export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('print every decoded message from the fleet (fixes, status, events, agent state) and report sequence gaps and duplicates')
    .requiredOption('--broker <url>', 'broker URL, e.g. mqtt://127.0.0.1:1883')
    .option('--jsonl', 'one JSON object per line (fix lines follow the CLI contract fix record)')
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--group <name>', 'join a shared subscription group ($share/NAME/...) to split the fleet between several consoles')
    .option('--duration <seconds>', 'stop after this many seconds and print the sequence summary', intOption('--duration', 1))
    .option('--device-keys <dir>', 'device public keys (DIR/<id>.pub or DIR/<id>/device.pub, as provisioning writes them): verify every message against the signed checkpoints')
    .action(async (opts: WatchOptions) => watch(opts));
}

async function watch(opts: WatchOptions): Promise<void> {
  const topics = new Topics(opts.prefix);
  const client = await connectConsole(opts.broker);
  const tracker = new SeqTracker();
  const auth = new WatchAuth(opts.deviceKeys);
  const filters = [topics.allDevices('track'), topics.allDevices('track/hist'), topics.allDevices('status'), topics.allDevices('event'), topics.allDevices('reply'), topics.allDevices('auth'), topics.allAgents('state')];
  const subscribed = opts.group ? filters.map((f) => topics.shared(opts.group!, f)) : filters;
  await client.subscribeAsync(subscribed, { qos: 1 });

  const print = (rec: FleetRecord) => {
    process.stdout.write(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
  };
  client.on('message', (topic, payload, packet) => {
    // Signed checkpoints and what they prove (forged, broken, verified) come first.
    const verdicts = auth.onMessage(topics.parse(topic), payload, Boolean(packet.retain), print);
    for (const rec of decodeFleetMessage(topics, topic, payload)) {
      // Retained status is the last known state, not a new message: no gap accounting.
      if (rec.device !== undefined && rec.seq !== undefined && !packet.retain) {
        const verdict = verdicts.get(rec.seq);
        if (verdict) rec.auth = verdict;
        // Only the same content under the same seq is a duplicate: a message
        // with other content is kept beside it until the checkpoint decides.
        if (verdict === 'duplicate' || verdict === 'authentic') {
          tracker.add(rec.device, rec.seq);
          print({ type: 'duplicate', device: rec.device, seq: rec.seq, of: rec.type });
          continue;
        }
        if (verdict === 'forged' || verdict === 'conflict') {
          print(rec);
          continue;
        }
        if (!tracker.add(rec.device, rec.seq) && verdict === undefined) {
          print({ type: 'duplicate', device: rec.device, seq: rec.seq, of: rec.type });
          continue;
        }
      }
      print(rec);
    }
  });

  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (opts.duration) setTimeout(done, opts.duration * 1000);
  });
  await client.endAsync();
  for (const r of tracker.report()) {
    const rec = { type: 'summary', ...r, ...auth.summary(r.device) };
    await writeOut(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
  }
}

function authLine(r: FleetRecord): string {
  const range = r.firstSeq !== undefined ? ` #${r.firstSeq}..${(r.firstSeq as number) + (r.count as number) - 1}` : '';
  switch (r.outcome) {
    case 'verified':
      return `auth ${r.device}${range} verified${(r.forged as number[]).length ? `: FORGED messages with seq ${(r.forged as number[]).join(',')}` : ''}`;
    case 'forged':
      return `FORGED ${r.device} #${r.seq}: content differs from what the device signed`;
    default:
      return `AUTH ${String(r.outcome).toUpperCase()} ${r.device ?? ''}${range}${r.missing && (r.missing as number[]).length ? ` missing ${(r.missing as number[]).length}` : ''}${r.reason ? `: ${r.reason}` : ''}`;
  }
}

function humanLine(r: FleetRecord): string {
  switch (r.type) {
    case 'fix':
      return `${r.auth === 'forged' ? 'FORGED ' : r.auth === 'conflict' ? 'CONFLICT ' : ''}${r.time} ${r.device} #${r.seq}${r.historical ? ' (historical)' : ''} ${(r.lat as number).toFixed(6)},${(r.lon as number).toFixed(6)} mode ${r.mode}${r.speed !== undefined ? ` ${(r.speed as number).toFixed(1)} m/s` : ''}`;
    case 'status':
      return `status ${r.device} #${r.seq} ${r.online ? 'online' : 'offline'} rec=${r.recording}${r.battery !== undefined ? ` battery=${r.battery}%` : ''}`;
    case 'event':
      return `event ${r.time} ${r.device} #${r.seq} ${r.event}${r.detail ? ` ${r.detail}` : ''}`;
    case 'agent':
      return `agent ${r.agent} ${r.online ? 'online' : 'OFFLINE'} session ${r.session}`;
    case 'duplicate':
      return `duplicate ${r.device} #${r.seq}`;
    case 'auth':
      return authLine(r);
    case 'summary': {
      const missing = (r.missing as Array<[number, number]>).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
      const a = r.authentic !== undefined ? `, authentic ${r.authentic}, FORGED ${r.forged}, unsigned ${r.unsigned}${r.brokenCheckpoints ? `, BROKEN checkpoints ${r.brokenCheckpoints}` : ''}` : '';
      return `summary ${r.device}: ${r.received} received, ${r.duplicates} duplicates, seq ${r.lowest}..${r.highest}, missing: ${missing || 'none'}${a}`;
    }
    default:
      return JSON.stringify(r);
  }
}
