import type { Command } from 'commander';
import { loadConfig } from '../../../config/load-config.js';
import { createLogger } from '../../../common/log.js';
import { AgentSupervisor } from '../../technician/agent-supervisor.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the agent daemon: cameras → track pipeline → buffer → MQTT (logs: JSON lines on stderr)')
    .requiredOption('--config <file>', 'configuration file (YAML); see config/README.md')
    .action(async (opts: { config: string }) => {
      // An invalid file is refused before anything starts.
      const first = await loadConfig(opts.config);
      const log = createLogger({ level: first.config.log.level, name: 'bwc-agent' });
      // The supervisor owns the running agent so that a signed configuration
      // update can restart it on the new file and roll back if it cannot come up.
      const sup = await AgentSupervisor.start(opts.config, log);
      const loaded = sup.current();
      log.info({ agent: loaded.config.agent.id, devices: loaded.config.devices.length, config: loaded.version }, 'agent started');
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'stopping');
          void sup.stop(signal).then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
