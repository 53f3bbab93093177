import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { UsageError, writeOut } from '../../../common/cli-kit.js';
import { BwcError, describeError } from '../../../common/errors.js';
import { fixToJson } from '../../../protocol/fix.js';
import { captureDate } from '../../../drivers/nmea/capture-file.js';
import { NmeaDecoder } from '../../../drivers/nmea/nmea-decoder.js';
import type { Epoch } from '../../../drivers/nmea/types.js';

/**
 * `bwc-agent nmea decode FILE|- --jsonl` (CLI contract): NMEA 0183 bytes →
 * one fix per epoch, as "fix" records without device/seq. Streams: fixes are
 * printed as the input arrives, so `cat /dev/ttyUSB0 | bwc-agent nmea decode -`
 * works live.
 */
export function registerNmeaCommands(program: Command): void {
  const nmea = program.command('nmea').description('NMEA 0183 tools');
  nmea
    .command('decode')
    .description('NMEA 0183 bytes (a capture file, or - for stdin) -> fixes, one per epoch, as JSON lines')
    .argument('<file>', 'capture file, or - for stdin')
    .option('--jsonl', 'one fix record per line (the default)')
    .option('--json', 'one JSON array of fix records instead of lines')
    .option('--date <yyyy-mm-dd>', 'century for two-digit RMC years (default: the capture\'s "# Date:" line)')
    .option('--stats', 'print framing drops and decoding counters to stderr as JSON when done')
    .addHelpText(
      'after',
      '\nFixes follow gpsd: a cycle before the receiver has given a date (RMC or ZDA) has no time and is not printed;\n' +
        'no fix comes from an invalid status, an empty field, a bad checksum, (0,0) or a date before 2000.\n' +
        'Lines starting with # are comments; "# Date: YYYY-MM-DD" sets the century, as it does for gpsd.',
    )
    .action(async (file: string, opts: { jsonl?: boolean; json?: boolean; date?: string; stats?: boolean }) => {
      if (opts.json && opts.jsonl) throw new UsageError('nmea decode: choose one of --json and --jsonl');
      if (opts.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(opts.date)) {
        throw new UsageError(`--date must look like 2024-06-09, got ${JSON.stringify(opts.date)}`);
      }
      const input = await openInput(file);
      const records: string[] = [];
      let decoder: NmeaDecoder | undefined;
      let head: Buffer[] = [];
      let headLen = 0;
      const emit = async (epochs: Epoch[]) => {
        for (const e of epochs) if (e.fix !== undefined) records.push(JSON.stringify(fixToJson(e.fix)));
        if (!opts.json && records.length > 0) {
          await writeOut(records.join('\n') + '\n');
          records.length = 0;
        }
      };
      try {
        for await (const chunk of input) {
          const buf = chunk as Buffer;
          if (decoder === undefined) {
            // Hold the start until the leading comment block is complete: it may name the date.
            head.push(buf);
            headLen += buf.length;
            const all = Buffer.concat(head, headLen);
            if (!commentBlockComplete(all) && headLen < 65536) continue;
            decoder = new NmeaDecoder({ date: opts.date ?? captureDate(all) });
            head = [];
            await emit(decoder.push(all));
          } else {
            await emit(decoder.push(buf));
          }
        }
      } catch (err) {
        throw new BwcError('READ_FAILED', `nmea decode: reading ${file === '-' ? 'stdin' : file} failed: ${describeError(err)}`, { cause: err });
      }
      if (decoder === undefined) {
        const all = Buffer.concat(head, headLen);
        decoder = new NmeaDecoder({ date: opts.date ?? captureDate(all) });
        await emit(decoder.push(all));
      }
      await emit(decoder.end());
      if (opts.json) await writeOut(`[${records.join(',\n')}]\n`);
      if (opts.stats) process.stderr.write(JSON.stringify(decoder.counters()) + '\n');
    });
}

async function openInput(file: string): Promise<Readable> {
  if (file === '-') return process.stdin;
  try {
    await access(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : describeError(err);
    throw new BwcError('BAD_INPUT', `nmea decode: cannot read ${file}: ${why}`, { cause: err });
  }
  return createReadStream(file);
}

/** True once the bytes hold a line that does not start with `#` (or a partial one). */
function commentBlockComplete(bytes: Buffer): boolean {
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0x23 && bytes[pos] !== 0x0a && bytes[pos] !== 0x0d) return true;
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) return false;
    pos = nl + 1;
  }
  return false;
}
