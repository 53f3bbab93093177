/**
 * Writes protocol/vectors/device-auth/chain.json once (kept when it exists):
 * the frozen truth the auth vector test checks. Never rewrite it to make a test pass.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { authVector } from './auth-vector.js';

const dir = join(repoRoot, 'protocol', 'vectors', 'device-auth');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'chain.json');
if (existsSync(file)) console.log('kept chain.json');
else {
  writeFileSync(file, JSON.stringify(authVector(), null, 2) + '\n');
  console.log('wrote chain.json');
}
