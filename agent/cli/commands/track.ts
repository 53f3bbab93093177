import type { Command } from 'commander';
import { intOption, writeOut, UsageError } from '../../../common/cli-kit.js';
import { frameDelimited, splitDelimited } from '../../../protocol/delimited-codec.js';
import { BwcError, describeError } from '../../../common/errors.js';
import { type Fix, fixFromJson, fixToJson } from '../../../protocol/fix.js';
import { checkTopicId } from '../../../protocol/topics.js';
import { decodeTrackBatch, encodeTrackBatch, MAX_FIXES } from '../../../protocol/track-codec.js';

/**
 * `bwc-agent track encode|decode` (CLI contract): fixes JSONL ⇄ length-delimited
 * TrackBatch messages. Both read the whole input and check all of it before
 * writing anything, so a bad line or a truncated stream gives an error and no
 * output rather than half a result.
 */
export function registerTrackCommands(program: Command): void {
  const track = program.command('track').description('compact track batches: fixes JSONL <-> length-delimited protobuf TrackBatch');

  track
    .command('encode')
    .description('fixes JSONL on stdin -> length-delimited TrackBatch messages on stdout (varint length, then the message)')
    .option('--batch <n>', 'fixes per batch at most', intOption('--batch', 1, MAX_FIXES), 60)
    .option('--device <id>', 'device id for records without "device"')
    .option('--session <n>', 'agent session number written in the headers', intOption('--session', 0, 0xffffffff), 0)
    .option('--seq <n>', 'first sequence number for records without "seq" (then +1 a fix, per device)', intOption('--seq', 0), 1)
    .addHelpText(
      'after',
      '\nA batch holds consecutive fixes of one device with the same "historical" flag. Records with "seq" keep it;\n' +
        'header.sent_ms is the time of the batch\'s last fix, so the same input always gives the same bytes.',
    )
    .action(async (opts: { batch: number; device?: string; session: number; seq: number }) => {
      if (opts.device !== undefined) checkDevice(opts.device, '--device');
      const text = (await readStdin()).toString('utf8');
      const records = parseFixLines(text, opts.device);
      const out = frameDelimited(batchRecords(records, opts.batch, opts.seq).map((b) => encodeTrackBatch({ ...b, header: { ...b.header, session: opts.session } })));
      await writeBytes(out);
    });

  track
    .command('decode')
    .description('length-delimited TrackBatch messages on stdin -> fixes JSONL on stdout (with device, seq, historical)')
    .action(async () => {
      const input = await readStdin();
      const lines: string[] = [];
      splitDelimited(input).forEach((m, k) => {
        let batch;
        try {
          batch = decodeTrackBatch(m.bytes);
        } catch (err) {
          const inner = describeError(err).replace(/at byte (\d+)/g, (_s, n: string) => `at input byte ${m.offset + Number(n)}`);
          throw new BwcError('BAD_MESSAGE', `message ${k + 1} (input bytes ${m.offset}..${m.offset + m.bytes.length - 1}): ${inner}`, { cause: err });
        }
        batch.fixes.forEach((f, i) => {
          lines.push(JSON.stringify(fixToJson(f, { device: batch.header.deviceId, seq: batch.seqs[i]!, historical: batch.historical })));
        });
      });
      if (lines.length > 0) await writeOut(lines.join('\n') + '\n');
    });
}

interface FixRecord {
  fix: Fix;
  device: string;
  seq?: number;
  historical: boolean;
  where: string;
}

function checkDevice(id: string, where: string): void {
  try {
    checkTopicId('device', id);
  } catch (err) {
    throw new UsageError(`${where}: ${describeError(err)}`);
  }
}

function parseFixLines(text: string, defaultDevice: string | undefined): FixRecord[] {
  const out: FixRecord[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new BwcError('BAD_FIX', `${where}: not JSON (${describeError(err)})`);
    }
    const fix = fixFromJson(value, where);
    const o = value as Record<string, unknown>;
    const device = o.device ?? defaultDevice;
    if (device === undefined) throw new BwcError('BAD_FIX', `${where}: no "device" in the record and no --device given`);
    if (typeof device !== 'string') throw new BwcError('BAD_FIX', `${where}: "device" must be a string, got ${JSON.stringify(device)}`);
    try {
      checkTopicId('device', device);
    } catch (err) {
      throw new BwcError('BAD_FIX', `${where}: ${describeError(err)}`);
    }
    if (o.seq !== undefined && !(Number.isSafeInteger(o.seq) && (o.seq as number) >= 0)) {
      throw new BwcError('BAD_FIX', `${where}: "seq" must be a non-negative integer, got ${JSON.stringify(o.seq)}`);
    }
    if (o.historical !== undefined && typeof o.historical !== 'boolean') {
      throw new BwcError('BAD_FIX', `${where}: "historical" must be true or false, got ${JSON.stringify(o.historical)}`);
    }
    if (!Number.isInteger(fix.timeMs) || fix.timeMs < 0) throw new BwcError('BAD_FIX', `${where}: "time" must be after 1970`);
    out.push({ fix, device, seq: o.seq as number | undefined, historical: o.historical === true, where });
  });
  return out;
}

/** Consecutive records of one device and one historical flag, at most `size` a batch. */
function batchRecords(records: FixRecord[], size: number, firstSeq: number) {
  const nextSeq = new Map<string, number>();
  const batches: { header: { deviceId: string; seq: number; session: number; sentMs: number }; historical: boolean; fixes: Fix[]; seqs: number[] }[] = [];
  let cur: (typeof batches)[number] | undefined;
  for (const r of records) {
    const seq = r.seq ?? nextSeq.get(r.device) ?? firstSeq;
    nextSeq.set(r.device, seq + 1);
    if (!cur || cur.header.deviceId !== r.device || cur.historical !== r.historical || cur.fixes.length >= size) {
      cur = { header: { deviceId: r.device, seq, session: 0, sentMs: 0 }, historical: r.historical, fixes: [], seqs: [] };
      batches.push(cur);
    }
    cur.fixes.push(r.fix);
    cur.seqs.push(seq);
    cur.header.sentMs = r.fix.timeMs;
  }
  return batches;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function writeBytes(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(bytes, (err) => (err ? reject(err) : resolve()));
  });
}
