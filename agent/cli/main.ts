import { Command } from 'commander';
import { AGENT_VERSION } from '../../common/version.js';
import { runProgram } from '../../common/cli-kit.js';
import { registerNmeaCommands } from './commands/nmea.js';
import { registerTrackCommands } from './commands/track.js';
import { registerSimCommand } from './commands/sim.js';
import { registerConfigCommands } from './commands/config.js';
import { registerRunCommand } from './commands/run.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerDevicesCommand } from './commands/devices.js';
import { registerProvisionCommand } from './commands/provision.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerTailCommand } from './commands/tail.js';
import { registerBufferCommands } from './commands/buffer.js';
import { registerRegisterCommand } from './commands/register.js';
import { registerAclCommand } from './commands/acl.js';

/** `bwc-agent`: the technician's CLI and the daemon (see shared CLI contract). */
export function buildAgentProgram(): Command {
  const program = new Command('bwc-agent')
    .description('Edge agent for body-worn cameras: GNSS tracks, status and alarms to MQTT, store-and-forward, signed spot checks')
    .version(AGENT_VERSION);
  registerRunCommand(program);
  registerDemoCommand(program);
  registerSimCommand(program);
  registerConfigCommands(program);
  registerNmeaCommands(program);
  registerTrackCommands(program);
  registerAuditCommands(program);
  registerDevicesCommand(program);
  registerProvisionCommand(program);
  registerDoctorCommand(program);
  registerTailCommand(program);
  registerBufferCommands(program);
  registerRegisterCommand(program);
  registerAclCommand(program);
  return program;
}

export function runAgentCli(argv: string[]): Promise<void> {
  return runProgram(buildAgentProgram(), argv);
}
