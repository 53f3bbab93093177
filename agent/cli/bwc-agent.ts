import { runAgentCli } from './main.js';

void runAgentCli(process.argv);
