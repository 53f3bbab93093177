import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentCli, consoleCli, repoRoot } from '../helpers/paths.js';

/**
 * Every command and flag the README shows works as written: each
 * `bwc-agent …` / `bwc-console …` the README gives (in code spans and shell
 * blocks) names a command that exists, and each of its flags is one that
 * command's --help lists.
 */
interface Use {
  cli: 'bwc-agent' | 'bwc-console';
  words: string[];
  flags: string[];
  text: string;
}

function usesIn(readme: string): Use[] {
  const snippets: string[] = [];
  for (const m of readme.matchAll(/```sh\n([\s\S]*?)```/g)) snippets.push(...m[1]!.replace(/\\\n\s*/g, ' ').split('\n'));
  for (const m of readme.replace(/```[\s\S]*?```/g, '').matchAll(/`([^`]+)`/g)) snippets.push(m[1]!.replace(/\s+/g, ' '));
  const uses: Use[] = [];
  for (const snippet of snippets) {
    // The CLI as a command (`npx bwc-agent`, `node bin/bwc-agent.js`), not the user or group of that name.
    for (const m of snippet.matchAll(/(?<![-\w/]|-u |--groups \S+ )(?:node bin\/)?(bwc-agent|bwc-console)(?:\.js)?((?: [a-z][a-z-]*(?:\\\|[a-z][a-z-]*)*)*)([^#]*)/g)) {
      const words = m[2]!.trim().split(' ').filter(Boolean);
      const flags = [...m[3]!.matchAll(/(?:^|[\s[(|])(--[a-z][a-z0-9-]*)/g)].map((f) => f[1]!);
      // A subcommand list such as "verify\|export" is one use per alternative.
      const expand = (ws: string[]): string[][] => (ws.length === 0 ? [[]] : ws[0]!.split('\\|').flatMap((w) => expand(ws.slice(1)).map((rest) => [w, ...rest])));
      for (const ws of expand(words)) uses.push({ cli: m[1] as Use['cli'], words: ws, flags, text: m[0]!.trim() });
    }
  }
  return uses;
}

t.test('every command and flag in the README is one the CLI has', async (t) => {
  const uses = usesIn(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
  t.ok(uses.length >= 25, `${uses.length} command uses found in the README`);
  const helps = new Map<string, { code: number | null; out: string }>();
  for (const u of uses) {
    // The command is the longest run of words --help accepts (the rest are arguments: a device id, a file).
    let words = u.words;
    let help: { code: number | null; out: string } | undefined;
    for (;;) {
      const key = `${u.cli} ${words.join(' ')}`;
      if (!helps.has(key)) {
        const r = spawnSync(process.execPath, [u.cli === 'bwc-agent' ? agentCli : consoleCli, ...words, '--help'], { encoding: 'utf8', timeout: 120_000 });
        helps.set(key, { code: r.status, out: r.stdout + r.stderr });
      }
      help = helps.get(key)!;
      const isThisCommand = help.code === 0 && (words.length === 0 || new RegExp(`^Usage: ${u.cli} ${words.join(' ')}\\b`, 'm').test(help.out));
      if (isThisCommand || words.length === 0) break;
      words = words.slice(0, -1);
    }
    t.equal(help.code, 0, `${u.cli} ${words.join(' ')} exists (README: ${u.text})`);
    const missing = u.flags.filter((f) => f !== '--help' && !new RegExp(`(^|[\\s,])${f}(?![a-z-])`, 'm').test(help.out));
    t.same(missing, [], `${u.cli} ${words.join(' ')} takes ${u.flags.join(' ') || 'no flags'}`);
  }
});
