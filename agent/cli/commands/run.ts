import type { Command } from 'commander';
import { loadConfig } from '../../../config/load-config.js';
import { createLogger, defaultLogFormat, type LogFormat } from '../../../common/log.js';
import { AgentSupervisor } from '../../technician/agent-supervisor.js';
import { UsageError, untilStopSignal } from '../../../common/cli-kit.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the agent daemon: cameras → track pipeline → buffer → MQTT (logs on stderr: readable on a terminal, JSON lines otherwise)')
    .requiredOption('--config <file>', 'configuration file (YAML); see config/README.md')
    .option('--log-format <format>', 'json (one object a line, the default when stderr is not a terminal) or pretty (readable lines)', logFormat)
    .action(async (opts: { config: string; logFormat?: LogFormat }) => {
      // An invalid file is refused before anything starts.
      const first = await loadConfig(opts.config);
      const log = createLogger({ level: first.config.log.level, name: 'bwc-agent', format: opts.logFormat ?? defaultLogFormat() });
      const startedAt = Date.now();
      // The supervisor owns the running agent so that a signed configuration
      // update can restart it on the new file and roll back if it cannot come up.
      const sup = await AgentSupervisor.start(opts.config, log);
      const loaded = sup.current();
      log.info({ agent: loaded.config.agent.id, devices: loaded.config.devices.length, config: loaded.version }, 'agent started');
      const signal = await untilStopSignal();
      log.info({ signal }, 'stopping');
      const buffered = await sup.stop(signal);
      log.info({ uptimeS: Math.round((Date.now() - startedAt) / 1000), buffered }, buffered > 0 ? `stopped; ${buffered} message(s) kept in the buffer for the next start` : 'stopped');
    });
}

function logFormat(value: string): LogFormat {
  if (value !== 'json' && value !== 'pretty') throw new UsageError(`--log-format must be json or pretty, got ${JSON.stringify(value)}`);
  return value;
}
