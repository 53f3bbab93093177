import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TapTest } from '../helpers/tap-test.js';

/** A temporary folder removed when the test ends. */
export function tempDir(t: TapTest, prefix = 'bwc-buffer-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
