#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm ci` (prepare).
import { runConsoleCli } from '../dist/console/main.js';
runConsoleCli(process.argv);
