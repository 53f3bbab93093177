import { runConsoleCli } from './main.js';

void runConsoleCli(process.argv);
