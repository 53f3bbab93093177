import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import type { LoadedConfig } from '../../config/load-config.js';

/**
 * The version a remote update declared, kept beside the agent's state as
 * `{version, content}` where content is the hash of the file it came with:
 * while the file is unchanged the declared version is reported; once the file
 * is edited by hand, its own hash is (a stale declaration never lies).
 */
const FILE = 'config-version.json';

export function writeDeclaredVersion(dataDir: string, version: string, content: string): void {
  mkdirSync(dataDir, { recursive: true });
  atomicWriteFileSync(join(dataDir, FILE), JSON.stringify({ version, content }) + '\n', 0o644);
}

/** The loaded configuration with the declared version when it still describes this file. */
export function withDeclaredVersion(loaded: LoadedConfig): LoadedConfig {
  try {
    const d = JSON.parse(readFileSync(join(loaded.config.agent.dataDir, FILE), 'utf8')) as { version?: unknown; content?: unknown };
    if (typeof d.version === 'string' && d.content === loaded.version) return { ...loaded, version: d.version };
  } catch {
    // No declaration (or an unreadable one): the file's own hash is its version.
  }
  return loaded;
}
