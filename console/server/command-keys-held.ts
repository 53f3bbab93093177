import type { KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import { UsageError } from '../../common/cli-kit.js';
import { readPrivateKey } from '../../common/command-keys.js';
import type { CommandRole } from '../../protocol/command-signing.js';

const KEY_ROLES = ['supervisor', 'platform'] as const;

/**
 * The command-signing keys the server holds (`--key FILE.key`, repeatable).
 * A key's role is its file name, as `bwc-console keys generate` writes it
 * (supervisor.key, platform.key): a console user of that role signs with it.
 */
export function readHeldKeys(files: string[]): Map<CommandRole, KeyObject> {
  const out = new Map<CommandRole, KeyObject>();
  for (const file of files) {
    const role = basename(file).replace(/\.key$/, '') as CommandRole;
    if (!(KEY_ROLES as readonly string[]).includes(role)) {
      throw new UsageError(`--key ${file}: the file name gives the role it signs for, and must be supervisor.key or platform.key (as bwc-console keys generate writes them)`);
    }
    if (out.has(role)) throw new UsageError(`--key: two keys for the role ${role}`);
    out.set(role, readPrivateKey(file));
  }
  return out;
}
