import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SqliteMessageBuffer } from '../../buffer/sqlite-message-buffer.js';
import { MESSAGE_KINDS, type MessageKind } from '../../buffer/message-buffer.js';
import { BufferFile, processesHolding } from '../../technician/buffer-file.js';
import { requiredConfig } from '../../technician/cli-options.js';
import { agentDrops } from '../../technician/agent-metrics-read.js';
import { toGeoJson, toGpx } from '../../technician/track-export.js';
import { parseTime } from '../../technician/time-arg.js';
import { UsageError, writeOut } from '../../../common/cli-kit.js';
import { BwcError } from '../../../common/errors.js';
import type { LoadedConfig } from '../../../config/load-config.js';

interface Where {
  config?: string;
  db?: string;
}

/** `bwc-agent buffer stats|export|prune` (shared CLI contract): the local store-and-forward buffer. */
export function registerBufferCommands(program: Command): void {
  const buffer = program.command('buffer').description('the local store-and-forward buffer: stats, export tracks as GPX or GeoJSON, prune');
  const where = (c: Command) =>
    c.option('--config <file>', 'agent configuration (its buffer.path); default /etc/bwc-agent/config.yaml or $BWC_CONFIG').option('--db <file>', 'the buffer file itself, instead of --config');

  where(buffer.command('stats').description('rows, bytes, oldest and newest message, per kind and device; drops (from the running agent\'s /metrics when http is enabled)'))
    .option('--json', 'print one JSON document')
    .action(async (opts: Where & { json?: boolean }) => {
      const { file, loaded } = await bufferPath(opts);
      const b = BufferFile.open(file);
      let s;
      try {
        s = b.stats();
      } finally {
        b.close();
      }
      const drops = loaded ? await agentDrops(loaded) : { source: 'unavailable: no configuration given (drops are counted by the running agent)' };
      const backlogAgeS = s.oldestMs !== undefined ? Math.max(0, Math.round((Date.now() - s.oldestMs) / 1000)) : undefined;
      const doc = {
        ...s,
        ...(s.oldestMs !== undefined ? { oldest: new Date(s.oldestMs).toISOString() } : {}),
        ...(s.newestMs !== undefined ? { newest: new Date(s.newestMs).toISOString() } : {}),
        ...(backlogAgeS !== undefined ? { backlogAgeS } : {}),
        drops: drops.drops ?? null,
        dropsSource: drops.source,
      };
      if (opts.json) return writeOut(JSON.stringify(doc) + '\n');
      const lines = [
        `buffer ${s.file}: ${s.rows} messages, ${s.bytes} payload bytes, ${s.fileBytes} bytes on disk`,
        `  by kind: ${MESSAGE_KINDS.map((k) => `${k} ${s.byKind[k]}`).join(', ')}`,
        `  oldest ${doc.oldest ?? '-'} (backlog ${backlogAgeS !== undefined ? `${backlogAgeS} s` : 'none'}), newest ${doc.newest ?? '-'}`,
        ...s.devices.map((d) => `  device ${d.id}: ${d.rows} messages, last seq ${d.lastSeq}`),
        `  drops: ${drops.drops ? Object.entries(drops.drops).map(([k, v]) => `${k} ${v}`).join(', ') || 'none' : drops.source}`,
      ];
      await writeOut(lines.join('\n') + '\n');
    });

  where(buffer.command('export').description('tracks held in the buffer (not yet delivered) as GPX or GeoJSON'))
    .requiredOption('--format <format>', 'gpx or geojson')
    .option('--device <id>', 'one device (default: all)')
    .option('--from <time>', 'from this time: ISO 8601, or an age such as 2h, 30m, 7d')
    .option('--to <time>', 'up to this time (same forms)')
    .option('--out <file>', 'write here instead of stdout')
    .action(async (opts: Where & { format: string; device?: string; from?: string; to?: string; out?: string }) => {
      if (opts.format !== 'gpx' && opts.format !== 'geojson') throw new UsageError(`--format must be gpx or geojson, got ${JSON.stringify(opts.format)}`);
      const fromMs = opts.from !== undefined ? parseTime('--from', opts.from) : undefined;
      const toMs = opts.to !== undefined ? parseTime('--to', opts.to) : undefined;
      if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) throw new UsageError('--from is after --to');
      const { file } = await bufferPath(opts);
      const b = BufferFile.open(file);
      let got;
      try {
        got = b.fixes({ device: opts.device, fromMs, toMs });
      } finally {
        b.close();
      }
      if (got.unreadable > 0) process.stderr.write(`bwc-agent: ${got.unreadable} buffered fix(es) could not be read and were left out\n`);
      if (got.fixes.length === 0) process.stderr.write(`bwc-agent: no fixes${opts.device ? ` of ${opts.device}` : ''} in that range in the buffer (delivered fixes are no longer held)\n`);
      const text = opts.format === 'gpx' ? toGpx(got.fixes) : toGeoJson(got.fixes);
      if (opts.out) writeFileSync(opts.out, text);
      else await writeOut(text);
    });

  where(buffer.command('prune').description('delete messages from the buffer (the agent must be stopped): by age, device and kind'))
    .requiredOption('--before <time>', 'delete messages older than this: ISO 8601, or an age such as 7d, 12h')
    .option('--device <id>', 'only this device')
    .option('--kind <kind>', 'fix, status, event, reply or all', 'fix')
    .option('--dry-run', 'count, delete nothing')
    .option('--json', 'print one JSON document')
    .action(async (opts: Where & { before: string; device?: string; kind: string; dryRun?: boolean; json?: boolean }) => {
      const beforeMs = parseTime('--before', opts.before);
      if (opts.kind !== 'all' && !MESSAGE_KINDS.includes(opts.kind as MessageKind)) throw new UsageError(`--kind must be one of ${MESSAGE_KINDS.join(', ')} or all, got ${JSON.stringify(opts.kind)}`);
      const kinds = opts.kind === 'all' ? [...MESSAGE_KINDS] : [opts.kind as MessageKind];
      const { file } = await bufferPath(opts);
      BufferFile.open(file).close(); // refuses a missing or foreign file before anything else
      const holders = processesHolding(file);
      if (holders.length > 0) {
        throw new BwcError('BUFFER_IN_USE', `the buffer ${file} is open in process ${holders.join(', ')} (the agent?): stop it first (systemctl stop bwc-agent), then prune`);
      }
      const buf = SqliteMessageBuffer.open({ path: file, syncIntervalMs: 0 });
      let deleted = 0;
      try {
        let afterId = 0;
        for (;;) {
          const page = buf.oldest({ limit: 5000, kinds, deviceId: opts.device, afterId });
          if (page.length === 0) break;
          afterId = page[page.length - 1]!.id;
          const ids = page.filter((m) => m.timeMs < beforeMs).map((m) => m.id);
          deleted += ids.length;
          if (!opts.dryRun && ids.length > 0) buf.ack(ids);
        }
      } finally {
        buf.close();
      }
      const doc = { file, before: new Date(beforeMs).toISOString(), kinds, ...(opts.device ? { device: opts.device } : {}), dryRun: !!opts.dryRun, deleted };
      await writeOut(opts.json ? JSON.stringify(doc) + '\n' : `${opts.dryRun ? 'would delete' : 'deleted'} ${deleted} message(s) older than ${doc.before} from ${file}\n`);
    });
}

async function bufferPath(opts: Where): Promise<{ file: string; loaded?: LoadedConfig }> {
  if (opts.db) return { file: opts.db };
  const loaded = await requiredConfig(opts.config, 'buffer');
  return { file: loaded.config.buffer.path!, loaded };
}
