import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { readAuditEntries, verifyAuditLog } from '../../audit/audit-log.js';
import { checkAgainstAnchors, publicKeyHexOf, readAnchorsFile, type AnchorVerdict } from '../../audit/anchor-check.js';
import { writeOut } from '../../../common/cli-kit.js';
import { BwcError } from '../../../common/errors.js';

interface AuditOptions {
  dataDir?: string;
  file?: string;
  json?: boolean;
  jsonl?: boolean;
  anchors?: string;
  agent?: string;
  agentKey?: string;
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
    .description('check the hash chain (and, with --anchors, the signed heads the platform kept): exit 0 when intact, 1 when any entry was edited, inserted or removed')
    .option('--data-dir <dir>', 'agent data folder (holds audit.log)')
    .option('--file <file>', 'audit log file (instead of --data-dir)')
    .option('--json', 'one JSON document: {"ok","entries","lastHash","problems"} (+ "anchors" with --anchors)')
    .option('--anchors <file>', 'also check against anchors the platform kept (JSON Lines from `bwc-console audit-anchors`): detects deleted, rewritten or cut entries even when the chain and head were rebuilt')
    .option('--agent <id>', 'with --anchors: the agent whose anchors apply (needed when the file holds several)')
    .option('--agent-key <file>', "with --anchors: the agent's public key (agent.pub) the anchors must be signed with; default: the key of the earliest anchor")
    .action(async (opts: AuditOptions) => {
      const file = auditFile(opts);
      const v = verifyAuditLog(file);
      let a: AnchorVerdict | undefined;
      if (opts.anchors) {
        a = checkAgainstAnchors(readAuditEntries(file), readAnchorsFile(resolve(opts.anchors)), { agentId: opts.agent, publicKeyHex: opts.agentKey ? publicKeyHexOf(resolve(opts.agentKey)) : undefined });
      }
      const ok = v.ok && (a?.ok ?? true);
      if (opts.json) await writeOut(JSON.stringify({ file, ...v, ok, chainOk: v.ok, ...(a ? { anchors: a } : {}) }) + '\n');
      else {
        let out = v.ok ? `audit log intact: ${v.entries} entries, last hash ${v.lastHash}\n` : `audit log BROKEN (${file}):\n${v.problems.map((p) => `  ${p}`).join('\n')}\n`;
        if (a) {
          const newest = a.newest ? ` (newest: ${a.newest.entries} entries at ${new Date(a.newest.timeMs).toISOString()})` : '';
          out += a.ok ? `anchors: the log matches ${a.checked} anchors${newest}\n` : `anchors: the log does NOT match the anchors (entries deleted, rewritten or cut, or the chain rebuilt):\n${a.problems.map((p) => `  ${p}`).join('\n')}\n`;
          if (a.notes.length > 0) out += a.notes.slice(0, 20).map((n) => `  note: ${n}\n`).join('') + (a.notes.length > 20 ? `  note: … ${a.notes.length - 20} more\n` : '');
        }
        await writeOut(out);
      }
      if (!ok) process.exitCode = 1;
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
