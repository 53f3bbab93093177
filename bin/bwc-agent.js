#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm ci` (prepare).
import { runAgentCli } from '../dist/agent/cli/main.js';
runAgentCli(process.argv);
