import type { Command } from 'commander';
import { BwcError } from '../../../protocol/errors.js';

export function registerNmeaCommands(program: Command): void {
  program
    .command('nmea')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'nmea is not yet available in this build');
    });
}
