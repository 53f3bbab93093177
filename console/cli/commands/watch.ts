import type { Command } from 'commander';
import { Topics, DEFAULT_PREFIX } from '../../../protocol/topics.js';
import { intOption, writeOut } from '../../../common/cli-kit.js';
import { connectConsole } from '../../fleet/broker-connect.js';
import { decodeFleetMessage, type FleetRecord } from '../../fleet/fleet-decoder.js';
import { SeqTracker } from '../../fleet/seq-tracker.js';

interface WatchOptions {
  broker: string;
  jsonl?: boolean;
  prefix: string;
  group?: string;
  duration?: number;
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
    .action(async (opts: WatchOptions) => watch(opts));
}

async function watch(opts: WatchOptions): Promise<void> {
  const topics = new Topics(opts.prefix);
  const client = await connectConsole(opts.broker);
  const tracker = new SeqTracker();
  const filters = [topics.allDevices('track'), topics.allDevices('track/hist'), topics.allDevices('status'), topics.allDevices('event'), topics.allDevices('reply'), topics.allAgents('state')];
  const subscribed = opts.group ? filters.map((f) => topics.shared(opts.group!, f)) : filters;
  await client.subscribeAsync(subscribed, { qos: 1 });

  const print = (rec: FleetRecord) => {
    process.stdout.write(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
  };
  client.on('message', (topic, payload, packet) => {
    for (const rec of decodeFleetMessage(topics, topic, payload)) {
      // Retained status is the last known state, not a new message: no gap accounting.
      if (rec.device !== undefined && rec.seq !== undefined && !packet.retain) {
        if (!tracker.add(rec.device, rec.seq)) {
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
    const rec = { type: 'summary', ...r };
    await writeOut(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
  }
}

function humanLine(r: FleetRecord): string {
  switch (r.type) {
    case 'fix':
      return `${r.time} ${r.device} #${r.seq}${r.historical ? ' (historical)' : ''} ${(r.lat as number).toFixed(6)},${(r.lon as number).toFixed(6)} mode ${r.mode}${r.speed !== undefined ? ` ${(r.speed as number).toFixed(1)} m/s` : ''}`;
    case 'status':
      return `status ${r.device} #${r.seq} ${r.online ? 'online' : 'offline'} rec=${r.recording}${r.battery !== undefined ? ` battery=${r.battery}%` : ''}`;
    case 'event':
      return `event ${r.time} ${r.device} #${r.seq} ${r.event}${r.detail ? ` ${r.detail}` : ''}`;
    case 'agent':
      return `agent ${r.agent} ${r.online ? 'online' : 'OFFLINE'} session ${r.session}`;
    case 'duplicate':
      return `duplicate ${r.device} #${r.seq}`;
    case 'summary': {
      const missing = (r.missing as Array<[number, number]>).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
      return `summary ${r.device}: ${r.received} received, ${r.duplicates} duplicates, seq ${r.lowest}..${r.highest}, missing: ${missing || 'none'}`;
    }
    default:
      return JSON.stringify(r);
  }
}
