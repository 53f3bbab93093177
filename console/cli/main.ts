import { Command } from 'commander';
import { AGENT_VERSION } from '../../common/version.js';
import { runProgram } from '../../common/cli-kit.js';
import { registerWatchCommand } from './commands/watch.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerSpotCheckCommand } from './commands/spot-check.js';
import { registerAuditAnchorsCommand } from './commands/audit-anchors.js';
import { registerServeCommand } from './commands/serve.js';
import { registerUserCommands } from './commands/user.js';

/** `bwc-console`: the supervisor's tooling at the command centre. */
export function buildConsoleProgram(): Command {
  const program = new Command('bwc-console')
    .description('Command-centre tooling: watch the fleet, generate keys, run spot checks, serve the web console')
    .version(AGENT_VERSION);
  registerWatchCommand(program);
  registerKeysCommands(program);
  registerSpotCheckCommand(program);
  registerAuditAnchorsCommand(program);
  registerServeCommand(program);
  registerUserCommands(program);
  return program;
}

export function runConsoleCli(argv: string[]): Promise<void> {
  return runProgram(buildConsoleProgram(), argv);
}
