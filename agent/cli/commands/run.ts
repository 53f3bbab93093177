import type { Command } from 'commander';
import { BwcError } from '../../../protocol/errors.js';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'run is not yet available in this build');
    });
}
