import type { Command } from 'commander';
import { CHECK_ORDER, runDoctor, worstLevel, type CheckResult } from '../../technician/doctor-checks.js';
import { DEFAULT_CONFIG, positiveMs } from '../../technician/cli-options.js';
import { writeOut } from '../../../common/cli-kit.js';

/** Exit status by the worst result: scripts can tell a warning from a failure. */
export const DOCTOR_EXIT = { pass: 0, fail: 1, warn: 3 } as const;

/** `bwc-agent doctor [--json]` (shared CLI contract). */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(`ordered checks with pass/warn/fail and a hint for each problem: ${CHECK_ORDER.join(', ')}`)
    .option('--json', 'print one JSON document: {"worst","checks":[{"check","subject","level","detail","hint"}]}')
    .option('--config <file>', `agent configuration (default $BWC_CONFIG or ${DEFAULT_CONFIG})`)
    .option('--listen <ms>', 'how long to listen to each GNSS port', positiveMs('--listen'), 3000)
    .option('--timeout <ms>', 'how long a camera may take to answer', positiveMs('--timeout'), 3000)
    .addHelpText('after', '\nExit status: 0 every check passed, 3 the worst was a warning, 1 a check failed, 2 bad usage.')
    .action(async (opts: { json?: boolean; config?: string; listen: number; timeout: number }) => {
      const configFile = opts.config ?? process.env.BWC_CONFIG ?? DEFAULT_CONFIG;
      const results = await runDoctor({
        configFile,
        listenMs: opts.listen,
        timeoutMs: opts.timeout,
        onResult: opts.json ? undefined : (r) => process.stdout.write(renderCheck(r)),
      });
      const worst = worstLevel(results);
      const counts = { pass: 0, warn: 0, fail: 0, skip: 0 };
      for (const r of results) counts[r.level]++;
      if (opts.json) await writeOut(JSON.stringify({ ok: worst !== 'fail', worst, counts, checks: results }) + '\n');
      else await writeOut(`summary: ${counts.pass} pass, ${counts.warn} warn, ${counts.fail} fail${counts.skip ? `, ${counts.skip} skipped` : ''}\n`);
      if (worst !== 'pass') process.stderr.write(`bwc-agent: doctor: ${worst === 'fail' ? `${counts.fail} check(s) failed` : `${counts.warn} warning(s)`}: ${results.filter((r) => r.level === worst).map((r) => `${r.check}${r.subject ? ` (${r.subject})` : ''}`).join(', ')}; see the hints above\n`);
      process.exitCode = DOCTOR_EXIT[worst];
    });
}

export function renderCheck(r: CheckResult): string {
  const head = `${r.level.toUpperCase().padEnd(5)} ${r.check.padEnd(18)} ${r.subject ? `${r.subject}: ` : ''}${r.detail}\n`;
  return r.hint ? `${head}      hint: ${r.hint}\n` : head;
}
