import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, writeOut } from '../../../common/cli-kit.js';
import { describeError } from '../../../common/errors.js';
import { Accounts, checkUserName, CONSOLE_ROLES, type ConsoleRole } from '../../server/accounts.js';

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('web console accounts');
  user
    .command('add <name>')
    .description('add a console account, or change its role and password (idempotent)')
    .requiredOption('--role <role>', `${CONSOLE_ROLES.join(', ')}`)
    .requiredOption('--password-file <file>', 'file holding the password (first line), so it never shows in the process list')
    .requiredOption('--data-dir <dir>', 'the console\'s data folder (as given to serve)')
    .option('--json', 'print {"name","role","created"}')
    .action(async (name: string, opts: { role: string; passwordFile: string; dataDir: string; json?: boolean }) => {
      try {
        checkUserName(name);
      } catch (err) {
        throw new UsageError(describeError(err));
      }
      if (!(CONSOLE_ROLES as readonly string[]).includes(opts.role)) throw new UsageError(`--role must be one of ${CONSOLE_ROLES.join(', ')}, got ${JSON.stringify(opts.role)}`);
      let password: string;
      try {
        password = readFileSync(opts.passwordFile, 'utf8').split(/\r?\n/)[0] ?? '';
      } catch (err) {
        throw new UsageError(`cannot read --password-file ${opts.passwordFile}: ${describeError(err)}`);
      }
      if (password.length < 8) throw new UsageError(`the password in ${opts.passwordFile} is shorter than 8 characters`);
      const accounts = Accounts.load(resolve(opts.dataDir));
      const created = accounts.role(name) === undefined;
      await accounts.set(name, opts.role as ConsoleRole, password);
      await writeOut(opts.json ? JSON.stringify({ name, role: opts.role, created }) + '\n' : `${created ? 'added' : 'updated'} ${name} (${opts.role})\n`);
    });
}
