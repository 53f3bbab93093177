import type { Command } from 'commander';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keyFingerprint } from '../../../common/command-keys.js';
import { UsageError, writeOut } from '../../../common/cli-kit.js';

const ROLES = ['supervisor', 'technician', 'platform'];

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('Ed25519 key pairs that sign commands to the agents');
  keys
    .command('generate')
    .description('write DIR/ROLE.key (private, mode 0600) and DIR/ROLE.pub; give the .pub to the agents (security.trustedKeys)')
    .requiredOption('--role <role>', 'supervisor, technician or platform')
    .requiredOption('--out <dir>', 'folder for the key files')
    .option('--force', 'overwrite existing key files')
    .option('--json', 'print {"role","key","pub","keyId"}')
    .action(async (opts: { role: string; out: string; force?: boolean; json?: boolean }) => {
      if (!ROLES.includes(opts.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(opts.role)}`);
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const keyFile = join(dir, `${opts.role}.key`);
      const pubFile = join(dir, `${opts.role}.pub`);
      if (!opts.force && (existsSync(keyFile) || existsSync(pubFile))) {
        throw new UsageError(`${keyFile} or ${pubFile} exists already; use --force to replace it (agents trusting the old key will refuse the new one)`);
      }
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      chmodSync(keyFile, 0o600);
      writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
      const keyId = keyFingerprint(publicKey);
      if (opts.json) await writeOut(JSON.stringify({ role: opts.role, key: keyFile, pub: pubFile, keyId }) + '\n');
      else await writeOut(`wrote ${keyFile} (private, 0600) and ${pubFile}\nkey id ${keyId}: trust it on an agent with\n  security.trustedKeys: [{ id: ${keyId}, role: ${opts.role}, publicKeyFile: ${pubFile} }]\n`);
    });
}
