import type { Command } from 'commander';
import { BwcError } from '../../../protocol/errors.js';

export function registerConfigCommands(program: Command): void {
  program
    .command('config')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'config is not yet available in this build');
    });
}
