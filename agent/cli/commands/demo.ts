import type { Command } from 'commander';
import { BwcError } from '../../../protocol/errors.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new BwcError('NOT_AVAILABLE', 'demo is not yet available in this build');
    });
}
