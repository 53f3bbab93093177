import { writeFileSync } from 'node:fs';
import { entryHash, type ChainedEntry } from '../../agent/audit/audit-log.js';

/**
 * What an attacker holding the device does to the audit log after deleting,
 * editing or cutting entries: renumber them, recompute every hash and write
 * a matching head file, so that the chain verifies on its own again.
 */
export function rebuildChain(file: string, entries: readonly ChainedEntry[]): void {
  let prev = '0'.repeat(64);
  const lines = entries.map((e, index) => {
    const { index: _i, prev: _p, hash: _h, ...rest } = e;
    const hash = entryHash(prev, index, rest);
    const line = JSON.stringify({ index, prev, hash, ...rest });
    prev = hash;
    return line;
  });
  writeFileSync(file, lines.map((l) => l + '\n').join(''));
  writeFileSync(`${file}.head`, JSON.stringify({ entries: lines.length, hash: prev }) + '\n');
}
