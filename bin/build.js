#!/usr/bin/env node
// Builds dist/ from the TypeScript sources (and bundles the web console's
// browser code): `npm run build` always,
// `npm ci` (prepare: --if-stale) only when a source is newer than the last
// build. npm also runs prepare whenever `npx bwc-agent` puts this clone into
// its npx cache (npm 11 does that for a package's own commands): an
// unconditional rebuild there took a minute of silence, deleted dist/ under
// any running agent, and ignored SIGTERM meanwhile.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const stamp = join(dist, '.build-stamp');
const SKIP = new Set(['node_modules', '.git', '.tap', 'data']);

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name) || e.name.startsWith('dist')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (/\.(ts|tsx|json|proto)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

if (process.argv.includes('--if-stale') && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(root)) {
  console.log('bwc-agent: dist/ is up to date');
} else {
  rmSync(dist, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // The web console's browser code, bundled beside its page.
  const web = spawnSync(process.execPath, [join(dist, 'console', 'server', 'build-web-app.js')], { cwd: root, stdio: 'inherit' });
  if (web.status !== 0) process.exit(web.status ?? 1);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
