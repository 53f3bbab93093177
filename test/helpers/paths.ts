import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Compiled output root (dist/ or another outDir): this file is <out>/test/helpers/paths.js. */
export const outRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The repository root (holds package.json, protocol/*.proto, config/examples). */
export const repoRoot = resolve(outRoot, '..');
/** The compiled CLIs, to spawn as separate processes exactly as users run them. */
export const agentCli = join(outRoot, 'agent', 'cli', 'bwc-agent.js');
export const consoleCli = join(outRoot, 'console', 'cli', 'bwc-console.js');
/** Real receiver captures with gpsd's expected fixes (BSD-2, test/fixtures/gnss-captures/COPYING.gpsd). */
export const capturesDir = join(repoRoot, 'test', 'fixtures', 'gnss-captures');
