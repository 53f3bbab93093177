import type { Command } from 'commander';
import { LiveView, renderLive, type LiveRecord, type LiveTarget } from '../../technician/live-view.js';
import { DEFAULT_CONFIG, optionalConfig } from '../../technician/cli-options.js';
import { intOption, UsageError } from '../../../common/cli-kit.js';

interface TailOptions {
  config?: string;
  gnss?: string;
  control?: string;
  jsonl?: boolean;
  count?: number;
  duration?: number;
}

/** `bwc-agent tail [DEVICE]` (shared CLI contract): a live decoded view for a technician at the bench. */
export function registerTailCommand(program: Command): void {
  program
    .command('tail')
    .description('live decoded view of one or all configured devices (or of --gnss/--control ports): fix, satellites per constellation, HDOP, recording, battery; the agent must not hold the ports')
    .argument('[device]', 'device id from the configuration (default: all)')
    .option('--config <file>', `agent configuration (default $BWC_CONFIG or ${DEFAULT_CONFIG})`)
    .option('--gnss <port>', 'watch this GNSS port instead of configured devices')
    .option('--control <port>', 'and this camera control port')
    .option('--jsonl', 'one JSON object a line')
    .option('--count <n>', 'stop after this many epoch lines', intOption('--count', 1))
    .option('--duration <s>', 'stop after this many seconds', intOption('--duration', 1, 86_400))
    .action(async (device: string | undefined, opts: TailOptions) => {
      const targets = await tailTargets(device, opts);
      let lines = 0;
      let finish!: () => void;
      const done = new Promise<void>((r) => (finish = r));
      const view = new LiveView((r: LiveRecord) => {
        process.stdout.write(opts.jsonl ? JSON.stringify(r) + '\n' : renderLive(r));
        if (!r.note && opts.count !== undefined && ++lines >= opts.count) finish();
      });
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
      if (opts.duration) setTimeout(finish, opts.duration * 1000).unref();
      try {
        for (const t of targets) await view.watch(t);
        await done;
      } finally {
        await view.stop();
      }
    });
}

async function tailTargets(device: string | undefined, opts: TailOptions): Promise<LiveTarget[]> {
  if (opts.gnss || opts.control) return [{ device: device ?? 'camera', gnss: opts.gnss, control: opts.control }];
  const loaded = await optionalConfig(opts.config);
  if (!loaded) throw new UsageError(`tail needs devices: pass --config FILE (default ${DEFAULT_CONFIG} does not exist), or --gnss PORT [--control PORT]`);
  const devices = loaded.config.devices.filter((d) => device === undefined || d.id === device);
  if (devices.length === 0) {
    throw new UsageError(device ? `no device ${JSON.stringify(device)} in ${loaded.file}; configured: ${loaded.config.devices.map((d) => d.id).join(', ') || 'none'}` : `no devices in ${loaded.file}: add one with bwc-agent provision`);
  }
  return devices.map((d) => ({ device: d.id, gnss: d.gnss, control: d.control, baud: d.baud }));
}
