import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { describeError } from '../../../common/errors.js';
import type { SettingValue } from '../../../drivers/camera/camera-driver.js';
import type { FoundCamera } from '../../technician/find-cameras.js';
import { provision, type ProvisionReport } from '../../technician/provision.js';
import { StepFailure, type StepRecord } from '../../technician/step-runner.js';
import { collect, hardwareOptions, positiveMs } from '../../technician/cli-options.js';
import { UsageError, writeOut } from '../../../common/cli-kit.js';
import { BwcError } from '../../../common/errors.js';

interface ProvisionOptions {
  port?: string;
  serial?: string;
  gnss?: string;
  officer: string;
  name: string;
  unit: string;
  unitName?: string;
  deviceId?: string;
  profile?: string;
  setting?: string[];
  credentials: string;
  config: string;
  dryRun?: boolean;
  json?: boolean;
  timeout: number;
  gnssWait: number;
  sysRoot: string;
  devRoot: string;
}

/**
 * `bwc-agent provision --port PATH --officer NUMBER --name NAME --unit NUMBER --config FILE [--dry-run] [--json]`
 * (shared CLI contract): binds a camera to an officer and to this agent.
 */
export function registerProvisionCommand(program: Command): void {
  const cmd = program
    .command('provision')
    .description('bind a camera to an officer and to this agent: officer binding, clock from GNSS, settings, credentials, configuration entry; read back; idempotent')
    .option('--port <path>', 'control port of the camera (default: the camera found on USB; with several, --serial or a choice)')
    .option('--serial <serial>', 'pick the camera with this product serial (or USB serial) among those found')
    .option('--gnss <port>', 'GNSS port of the camera (default: found beside it on USB, or as configured)')
    .requiredOption('--officer <number>', 'officer (police) number, 6 digits')
    .requiredOption('--name <name>', 'officer name (UTF-8; up to 32 characters)')
    .requiredOption('--unit <number>', 'unit number, 12 letters or digits')
    .option('--unit-name <name>', 'unit name (default: keep the one on the camera)')
    .requiredOption('--config <file>', 'agent configuration to add the camera to (edited atomically, comments kept)')
    .option('--device-id <id>', 'device id in topics (default: the configured id for this port, else the camera serial)')
    .option('--profile <profile>', 'foot or vehicle (the jump filter speed limit)')
    .option('--setting <key=value>', 'a camera setting to write (repeatable); numbers and true/false are typed', collect)
    .option('--credentials <kind>', 'device credentials to create: keypair (Ed25519) or password', 'keypair')
    .option('--dry-run', 'read the camera and check everything, write nothing, print what would change')
    .option('--json', 'print one JSON document (the report with every step) instead of progress lines')
    .option('--timeout <ms>', 'how long the camera may take to answer each request', positiveMs('--timeout'), 3000)
    .option('--gnss-wait <ms>', 'how long to wait for a GNSS fix to set the clock before using the system clock', positiveMs('--gnss-wait'), 5000);
  hardwareOptions(cmd).action(async (opts: ProvisionOptions) => {
    if (opts.credentials !== 'keypair' && opts.credentials !== 'password') throw new UsageError(`--credentials must be keypair or password, got ${JSON.stringify(opts.credentials)}`);
    if (opts.profile !== undefined && opts.profile !== 'foot' && opts.profile !== 'vehicle') throw new UsageError(`--profile must be foot or vehicle, got ${JSON.stringify(opts.profile)}`);
    const progress = (r: StepRecord, i: number, n: number) => {
      if (!opts.json) process.stdout.write(`[${i}/${n}] ${r.step.padEnd(12)} ${r.result.padEnd(12)} ${r.detail}\n`);
    };
    let report: ProvisionReport;
    try {
      report = await provision({
        configFile: opts.config,
        port: opts.port,
        serial: opts.serial,
        gnss: opts.gnss,
        officerNumber: opts.officer,
        officerName: opts.name,
        unitNumber: opts.unit,
        unitName: opts.unitName,
        deviceId: opts.deviceId,
        profile: opts.profile as 'foot' | 'vehicle' | undefined,
        settings: parseSettings(opts.setting ?? []),
        credentials: opts.credentials,
        dryRun: !!opts.dryRun,
        timeoutMs: opts.timeout,
        gnssWaitMs: opts.gnssWait,
        sysRoot: opts.sysRoot,
        devRoot: opts.devRoot,
        choose: process.stdin.isTTY && process.stdout.isTTY && !opts.json ? chooseInteractively : undefined,
        progress,
      });
    } catch (err) {
      if (!(err instanceof StepFailure)) throw err;
      const undone = err.undone.length ? ` Undone: ${err.undone.join('; ')}.` : err.step === 'validate' || err.step === 'find' ? ' Nothing was changed.' : ' Nothing had been written.';
      const undoErr = err.undoErrors.length ? ` COULD NOT UNDO: ${err.undoErrors.join('; ')}.` : '';
      if (opts.json) {
        await writeOut(JSON.stringify({ ok: false, dryRun: !!opts.dryRun, failedStep: err.step, error: describeError(err.cause), undone: err.undone, undoErrors: err.undoErrors }) + '\n');
      }
      // Bad input (exit 2) stays bad input; anything else is a failed task (exit 1).
      const cause = (err.cause as { code?: string }).code ?? '';
      const badInput = cause.startsWith('BAD_') || cause === 'USAGE' || cause === 'CAMERA_BAD_ARGUMENT';
      throw new BwcError(badInput ? 'BAD_PROVISION' : 'PROVISION_FAILED', `provision failed at step ${err.step}: ${describeError(err.cause)}.${undone}${undoErr}`);
    }
    if (opts.json) await writeOut(JSON.stringify(report) + '\n');
    else await writeOut(report.dryRun ? `dry run: ${report.changed ? 'the steps marked would-change would be applied' : 'nothing would change'}\n` : `provisioned ${report.device} (camera ${report.serial}) for officer ${report.binding?.officerNumber}${report.changed ? '' : ': nothing needed changing'}\n`);
  });
}

function parseSettings(list: string[]): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  for (const s of list) {
    const i = s.indexOf('=');
    if (i <= 0) throw new UsageError(`--setting must be KEY=VALUE, got ${JSON.stringify(s)}`);
    const v = s.slice(i + 1);
    out[s.slice(0, i)] = v === 'true' ? true : v === 'false' ? false : v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  return out;
}

async function chooseInteractively(cams: FoundCamera[]): Promise<FoundCamera> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    cams.forEach((c, i) => process.stdout.write(`  ${i + 1}) ${c.identity.serial} on ${c.port} (officer ${c.identity.officerNumber} ${c.identity.officerName})\n`));
    for (;;) {
      const answer = (await rl.question(`which camera (1-${cams.length})? `)).trim();
      const n = Number(answer);
      if (Number.isInteger(n) && n >= 1 && n <= cams.length) return cams[n - 1]!;
      process.stdout.write(`answer a number from 1 to ${cams.length}\n`);
    }
  } finally {
    rl.close();
  }
}
