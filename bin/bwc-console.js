#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm ci` (prepare).
import '../dist/console/cli/bwc-console.js';
