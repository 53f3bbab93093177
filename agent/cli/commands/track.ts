import type { Command } from 'commander';
import { BwcError } from '../../../protocol/errors.js';

export function registerTrackCommands(program: Command): void {
  program
    .command('track')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'track is not yet available in this build');
    });
}
