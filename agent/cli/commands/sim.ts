import type { Command } from 'commander';
import { BwcError } from '../../../protocol/errors.js';

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'sim is not yet available in this build');
    });
}
