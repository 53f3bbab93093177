import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { agentCli, repoRoot } from './paths.js';

let mirror: string | undefined;

/** Whether a user may search every directory on the way to `path` (the others' bit, or the owner's). */
function searchableBy(path: string, uid: number): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const st = statSync(dir);
    const ok = (st.mode & 0o001) !== 0 || (st.uid === uid && (st.mode & 0o100) !== 0);
    if (!ok) return false;
    if (dirname(dir) === dir) return true;
  }
}

/**
 * The compiled agent CLI at a path that `uid` can reach. Tests that run the
 * agent as another user (nobody) need every folder above it searchable; a
 * clone in a private folder (a home of mode 0700, `mktemp -d`) is not. Then
 * the repository is mirrored once per test process, as hard links (a copy
 * where links cannot be made), into a fresh folder of the system's temp
 * folder, and removed when the process exits.
 */
export function agentCliFor(uid: number | undefined): string {
  if (uid === undefined || searchableBy(agentCli, uid)) return agentCli;
  if (!mirror) {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-reachable-'));
    chmodSync(dir, 0o755);
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    for (const entry of readdirSync(repoRoot).filter((e) => e !== '.git')) {
      const linked = spawnSync('cp', ['-al', join(repoRoot, entry), dir]);
      if (linked.status !== 0) {
        const copied = spawnSync('cp', ['-a', join(repoRoot, entry), dir]);
        if (copied.status !== 0) throw new Error(`cannot mirror ${entry} where uid ${uid} can reach it: ${copied.stderr.toString().trim()}`);
      }
    }
    mirror = dir;
  }
  return join(mirror, relative(repoRoot, agentCli));
}
