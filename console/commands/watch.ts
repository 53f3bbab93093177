import type { Command } from 'commander';
import { BwcError } from '../../protocol/errors.js';

export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'watch is not yet available in this build');
    });
}
