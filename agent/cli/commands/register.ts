import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readPasswordFile, readPrivateKeyFile } from '../../../config/secret-files.js';
import { registerByClaim } from '../../technician/claim-registration.js';
import { positiveMs, requiredConfig } from '../../technician/cli-options.js';
import { UsageError, writeOut } from '../../../common/cli-kit.js';

interface RegisterOptions {
  config?: string;
  broker?: string;
  claimUser?: string;
  claimPasswordFile?: string;
  claimCert?: string;
  claimKey?: string;
  claimCa?: string;
  timeout: number;
  json?: boolean;
}

/** `bwc-agent register`: registration with the platform by claim (fleet provisioning). */
export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description('register this gateway with the platform using the restricted claim credential it was shipped with; stores the device credential the platform returns and points the configuration at it')
    .option('--config <file>', 'agent configuration to update (default $BWC_CONFIG or /etc/bwc-agent/config.yaml)')
    .option('--broker <url>', 'broker to register through (default: the first of mqtt.brokers)')
    .option('--claim-user <name>', 'claim user name')
    .option('--claim-password-file <file>', 'file holding the claim password (mode 0600)')
    .option('--claim-cert <file>', 'claim client certificate (PEM), instead of a user and password')
    .option('--claim-key <file>', 'its private key (PEM, mode 0600)')
    .option('--claim-ca <file>', 'CA of the broker certificate for mqtts:// (default: mqtt.tls.caFile, else the system CAs)')
    .option('--timeout <ms>', 'how long to wait for the platform\'s reply', positiveMs('--timeout'), 30_000)
    .option('--json', 'print one JSON document: {"ok","agentId","credential","files","brokers","config"}')
    .action(async (opts: RegisterOptions) => {
      const loaded = await requiredConfig(opts.config, 'register');
      const byPassword = opts.claimUser !== undefined || opts.claimPasswordFile !== undefined;
      const byCert = opts.claimCert !== undefined || opts.claimKey !== undefined;
      if (byPassword === byCert) throw new UsageError('give the claim credential: --claim-user NAME --claim-password-file FILE, or --claim-cert FILE --claim-key FILE');
      if (byPassword && (!opts.claimUser || !opts.claimPasswordFile)) throw new UsageError('--claim-user and --claim-password-file go together');
      if (byCert && (!opts.claimCert || !opts.claimKey)) throw new UsageError('--claim-cert and --claim-key go together');
      const caFile = opts.claimCa ?? loaded.config.mqtt.tls?.caFile;
      const result = await registerByClaim({
        loaded,
        broker: opts.broker ?? loaded.config.mqtt.brokers[0]!,
        claim: byPassword
          ? { username: opts.claimUser, password: readPasswordFile('--claim-password-file', opts.claimPasswordFile!), ...(caFile ? { ca: readFileSync(caFile) } : {}) }
          : { cert: readFileSync(opts.claimCert!), key: readPrivateKeyFile('--claim-key', opts.claimKey!), ...(caFile ? { ca: readFileSync(caFile) } : {}) },
        timeoutMs: opts.timeout,
      });
      await writeOut(
        opts.json
          ? JSON.stringify({ ok: true, ...result }) + '\n'
          : `registered ${result.agentId}: ${result.credential} credential stored in ${result.files.join(', ')}; ${result.config} now uses it${result.brokers ? ` (brokers ${result.brokers.join(', ')})` : ''}\n`,
      );
    });
}
