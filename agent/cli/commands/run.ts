import type { Command } from 'commander';
import { loadConfig } from '../../../config/load-config.js';
import { createLogger } from '../../log.js';
import { Agent } from '../../agent.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the agent daemon: cameras → track pipeline → buffer → MQTT (logs: JSON lines on stdout)')
    .requiredOption('--config <file>', 'configuration file (YAML); see config/README.md')
    .action(async (opts: { config: string }) => {
      // An invalid file is refused before anything starts.
      const loaded = await loadConfig(opts.config);
      const log = createLogger({ level: loaded.config.log.level, name: 'bwc-agent' });
      const agent = await Agent.start(loaded, log);
      log.info({ agent: loaded.config.agent.id, devices: loaded.config.devices.length, config: loaded.version }, 'agent started');
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'stopping');
          void agent.stop(signal).then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
