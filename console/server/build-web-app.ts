import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bundles the browser app (console/web/*.ts) into dist/console/web-app/,
 * next to its HTML and CSS. Run by `npm run build` after tsc (and so by
 * `npm ci`, through prepare).
 */
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const src = join(repo, 'console', 'web');
const out = join(repo, 'dist', 'console', 'web-app');

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'main.ts')],
  bundle: true,
  format: 'iife',
  target: ['chrome110', 'firefox115', 'safari16'],
  outfile: join(out, 'app.js'),
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(src, f), join(out, f));
