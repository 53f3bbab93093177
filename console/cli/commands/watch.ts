import type { Command } from 'commander';
import { Topics, DEFAULT_PREFIX } from '../../../protocol/topics.js';
import { intOption, untilStopSignal, writeOut } from '../../../common/cli-kit.js';
import { connectConsole } from '../../fleet/broker-connect.js';
import { FleetDecoder, type FleetRecord } from '../../fleet/fleet-decoder.js';
import { SeqTracker } from '../../fleet/seq-tracker.js';
import { FleetAvailability } from '../../fleet/availability.js';
import { WatchAuth } from '../../fleet/watch-auth.js';

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

/** How long the console waits between reconnect attempts after losing the broker. */
const RECONNECT_MS = 1000;

async function watch(opts: WatchOptions): Promise<void> {
  const topics = new Topics(opts.prefix);
  // A stop asked for while still connecting ends it cleanly too.
  const stopped = untilStopSignal();
  // MQTT.js reconnects by itself every RECONNECT_MS and subscribes again (resubscribe).
  const client = await Promise.race([connectConsole(opts.broker, { reconnectPeriod: RECONNECT_MS, resubscribe: true }), stopped.then(() => undefined)]);
  if (!client) return;
  const tracker = new SeqTracker();
  const availability = new FleetAvailability();
  const link = new LinkAccounting();
  const auth = new WatchAuth(opts.deviceKeys);
  const decoder = new FleetDecoder(topics);
  const filters = [topics.allDevices('live'), topics.allDevices('track'), topics.allDevices('track/hist'), topics.allDevices('status'), topics.allDevices('status/hist'), topics.allDevices('event'), topics.allDevices('reply'), topics.allDevices('auth'), topics.allAgents('state')];
  const subscribed = opts.group ? filters.map((f) => topics.shared(opts.group!, f)) : filters;

  const print = (rec: FleetRecord) => {
    process.stdout.write(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
  };
  client.on('close', () => {
    if (link.down(Date.now())) print({ type: 'link', state: 'disconnected', at: new Date().toISOString() });
  });
  client.on('connect', () => {
    const outage = link.up(Date.now());
    if (outage !== undefined) print({ type: 'link', state: 'reconnected', at: new Date().toISOString(), disconnectedMs: outage });
  });
  // Availability lines when they change: a device's own status or its agent's death.
  const shown = new Map<string, boolean>();
  const showAvailability = (devices: string[]) => {
    for (const d of devices) {
      const a = availability.get(d);
      if (shown.get(d) === a.available) continue;
      shown.set(d, a.available);
      print({ type: 'availability', device: d, ...a });
    }
  };
  client.on('message', (topic, payload, packet) => {
    const records = decoder.decode(topic, payload);
    // Signed checkpoints and what they prove (forged, broken, verified) come first.
    const verdicts = auth.onMessage(topics.parse(topic), payload, Boolean(packet.retain), print, decoder.lastLiveFixes);
    for (const rec of records) {
      if (rec.type === 'agent') {
        availability.agent(rec.agent as string, { online: Boolean(rec.online), session: Number(rec.session) });
        print(rec);
        showAvailability(availability.devicesOf(rec.agent as string));
        continue;
      }
      if (rec.device !== undefined && rec.seq !== undefined) {
        const verdict = packet.retain ? undefined : verdicts.get(rec.seq);
        if (verdict) rec.auth = verdict;
        if (packet.retain) {
          // Retained status is the last known state, not a new message: it only
          // tells how far the device has got, so what was missed shows as a gap.
          tracker.seen(rec.device, rec.seq);
        } else if (verdict === 'duplicate' || verdict === 'authentic') {
          // Only the same content under the same seq is a duplicate.
          tracker.add(rec.device, rec.seq);
          print({ type: 'duplicate', device: rec.device, seq: rec.seq, of: rec.type });
          continue;
        } else if (verdict === 'forged' || verdict === 'conflict') {
          // Other content under a seq is kept beside it until the checkpoint decides: never counted.
          print(rec);
          continue;
        } else if (!tracker.add(rec.device, rec.seq) && verdict === undefined) {
          print({ type: 'duplicate', device: rec.device, seq: rec.seq, of: rec.type });
          continue;
        }
      }
      print(rec);
      if (rec.type === 'status' && !rec.historical) {
        availability.status(rec.device!, { online: Boolean(rec.online), agentId: rec.agent as string | undefined, session: Number(rec.session ?? 0), seq: rec.seq ?? 0 });
        showAvailability([rec.device!]);
      }
    }
  });

  // After the handlers: retained messages follow the SUBACK at once, maybe in the same read.
  await client.subscribeAsync(subscribed, { qos: 1 });

  await Promise.race([stopped, ...(opts.duration ? [new Promise((r) => setTimeout(r, opts.duration! * 1000).unref())] : [])]);
  const linkSummary = link.summary(Date.now());
  client.removeAllListeners('close');
  await client.endAsync(true);
  for (const r of tracker.report()) {
    const rec = { type: 'summary', ...r, missed: r.missing.reduce((n, [a, b]) => n + b - a + 1, 0), ...auth.summary(r.device) };
    await writeOut(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
  }
  const rec = { type: 'link-summary', ...linkSummary };
  await writeOut(opts.jsonl ? JSON.stringify(rec) + '\n' : humanLine(rec) + '\n');
}

/** Times the console was cut off from the broker: what it could not see. */
class LinkAccounting {
  private downSince: number | undefined;
  private outages = 0;
  private downMs = 0;

  /** Returns true when this starts an outage (MQTT.js emits close for each failed attempt too). */
  down(now: number): boolean {
    if (this.downSince !== undefined) return false;
    this.downSince = now;
    this.outages++;
    return true;
  }

  /** Returns the outage's length when this ends one. */
  up(now: number): number | undefined {
    if (this.downSince === undefined) return undefined;
    const ms = now - this.downSince;
    this.downMs += ms;
    this.downSince = undefined;
    return ms;
  }

  summary(now: number): { disconnections: number; disconnectedMs: number; disconnectedAtEnd: boolean } {
    const open = this.downSince !== undefined ? now - this.downSince : 0;
    return { disconnections: this.outages, disconnectedMs: this.downMs + open, disconnectedAtEnd: this.downSince !== undefined };
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
      return `status ${r.device} #${r.seq}${r.historical ? ' (historical)' : ''} ${r.online ? 'online' : 'offline'} rec=${r.recording}${r.battery !== undefined ? ` battery=${r.battery}%` : ''}${r.observed ? ` at ${r.observed}` : ''}`;
    case 'availability':
      return `availability ${r.device} ${r.available ? 'AVAILABLE' : `UNAVAILABLE (${r.reason}${r.agent ? `, agent ${r.agent}` : ''})`}`;
    case 'link':
      return `link ${r.state} ${r.at}${r.disconnectedMs !== undefined ? ` after ${r.disconnectedMs} ms` : ''}`;
    case 'link-summary':
      return `link: ${r.disconnections} disconnections, ${r.disconnectedMs} ms without the broker${r.disconnectedAtEnd ? ' (still disconnected at the end: what came since is not counted)' : ''}`;
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
      return `summary ${r.device}: ${r.received} received, ${r.duplicates} duplicates, seq ${r.lowest}..${r.highest}, missing: ${missing ? `${r.missed} (${missing})` : 'none'}${a}`;
    }
    default:
      return JSON.stringify(r);
  }
}
