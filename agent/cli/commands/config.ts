import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig, maskSecrets } from '../../../config/load-config.js';
import { writeMinimalConfig } from '../../../config/write-config.js';
import { UsageError, writeOut } from '../../../common/cli-kit.js';
import { DEFAULT_CONFIG } from '../../technician/cli-options.js';

/** `bwc-agent config validate|show|init` (shared CLI contract). */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check, show and create the agent configuration (see config/README.md)');

  config
    .command('validate')
    .description('check a configuration file: "ok", or each problem with its path and reason (exit status 2)')
    .argument('[file]', `configuration file (YAML); or --config FILE, $BWC_CONFIG, ${DEFAULT_CONFIG}`)
    .option('--config <file>', 'configuration file, as the other commands take it')
    .option('--json', 'print the result as one JSON document')
    .option('--skip-secrets', 'do not read the secret files it names (to check a file away from the machine it is for)')
    .action(async (given: string | undefined, opts: { config?: string; json?: boolean; skipSecrets?: boolean }) => {
      const file = configFile(given, opts.config);
      const loaded = await loadConfig(file, process.env, { readSecrets: !opts.skipSecrets });
      const c = loaded.config;
      if (opts.json) {
        await writeOut(JSON.stringify({ ok: true, file: loaded.file, version: loaded.version, agent: c.agent.id, devices: c.devices.length, envOverrides: loaded.envOverrides }) + '\n');
      } else {
        const env = loaded.envOverrides.length ? `, overridden by ${loaded.envOverrides.join(' ')}` : '';
        await writeOut(`${file}: ok (agent ${c.agent.id}, ${c.devices.length} device(s), ${c.mqtt.brokers.length} broker(s), version ${loaded.version}${env})\n`);
      }
    });

  config
    .command('show')
    .description('print a configuration with defaults filled, paths resolved and secrets masked')
    .argument('[file]', `configuration file (YAML); or --config FILE, $BWC_CONFIG, ${DEFAULT_CONFIG}`)
    .option('--config <file>', 'configuration file, as the other commands take it')
    .option('--json', 'print JSON instead of YAML')
    .option('--skip-secrets', 'do not read the secret files it names')
    .action(async (given: string | undefined, opts: { config?: string; json?: boolean; skipSecrets?: boolean }) => {
      const file = configFile(given, opts.config);
      const loaded = await loadConfig(file, process.env, { readSecrets: !opts.skipSecrets });
      const shown = maskSecrets(loaded.config);
      await writeOut(opts.json ? JSON.stringify(shown, null, 2) + '\n' : `# ${loaded.file} (version ${loaded.version}), defaults filled, secrets masked\n${stringify(shown)}`);
    });

  config
    .command('init')
    .description('write a minimal valid configuration')
    .requiredOption('--broker <url>', 'broker URL (mqtt://, mqtts://, ws://, wss://)')
    .requiredOption('--data-dir <dir>', 'folder for the buffer and other state')
    .requiredOption('--out <file>', 'file to write')
    .option('--agent-id <id>', 'agent id (default: this host name)')
    .option('--force', 'replace an existing file')
    .action(async (opts: { broker: string; dataDir: string; out: string; agentId?: string; force?: boolean }) => {
      const r = writeMinimalConfig({ broker: opts.broker, dataDir: opts.dataDir, out: opts.out, agentId: opts.agentId, force: opts.force });
      await writeOut(`wrote ${r.file} (agent ${r.agentId}); check it with: bwc-agent config validate ${r.file}\n`);
    });
}

/** The file to read: the argument or --config (not both), else $BWC_CONFIG, else the default. */
function configFile(argument: string | undefined, option: string | undefined): string {
  if (argument && option && argument !== option) throw new UsageError(`two configuration files given: ${argument} and --config ${option}`);
  return argument ?? option ?? process.env.BWC_CONFIG ?? DEFAULT_CONFIG;
}
