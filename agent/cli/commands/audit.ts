import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { readAuditEntries, verifyAuditLog } from '../../audit/audit-log.js';
import { writeOut } from '../../../common/cli-kit.js';
import { BwcError } from '../../../common/errors.js';

interface AuditOptions {
  dataDir?: string;
  file?: string;
  json?: boolean;
  jsonl?: boolean;
}

function auditFile(opts: AuditOptions): string {
  if (opts.file) return resolve(opts.file);
  if (opts.dataDir) return join(resolve(opts.dataDir), 'audit.log');
  throw new BwcError('BAD_USAGE', 'give --data-dir DIR (the agent data folder holding audit.log) or --file FILE');
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the local hash-chained audit log of every command received, accepted or not');
  audit
    .command('verify')
    .description('check the hash chain: exit 0 when intact, 1 when any entry was edited, inserted or removed')
    .option('--data-dir <dir>', 'agent data folder (holds audit.log)')
    .option('--file <file>', 'audit log file (instead of --data-dir)')
    .option('--json', 'one JSON document: {"ok","entries","lastHash","problems"}')
    .action(async (opts: AuditOptions) => {
      const file = auditFile(opts);
      const v = verifyAuditLog(file);
      if (opts.json) await writeOut(JSON.stringify({ file, ...v }) + '\n');
      else if (v.ok) await writeOut(`audit log intact: ${v.entries} entries, last hash ${v.lastHash}\n`);
      else await writeOut(`audit log BROKEN (${file}):\n${v.problems.map((p) => `  ${p}`).join('\n')}\n`);
      if (!v.ok) process.exitCode = 1;
    });
  audit
    .command('export')
    .description('print every entry (one JSON object per line), after checking the chain')
    .option('--data-dir <dir>', 'agent data folder (holds audit.log)')
    .option('--file <file>', 'audit log file (instead of --data-dir)')
    .option('--jsonl', 'one JSON object per line (the default)')
    .action(async (opts: AuditOptions) => {
      const file = auditFile(opts);
      const v = verifyAuditLog(file);
      if (!v.ok) process.stderr.write(`warning: the audit chain is broken: ${v.problems.join('; ')}\n`);
      await writeOut(readAuditEntries(file).map((e) => JSON.stringify(e) + '\n').join(''));
      if (!v.ok) process.exitCode = 1;
    });
}
