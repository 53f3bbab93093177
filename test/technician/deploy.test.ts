import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { runCli } from './rig.js';

const unitFile = join(repoRoot, 'deploy', 'bwc-agent.service');

t.test('the systemd unit verifies and runs the contract commands as the agent user with dialout', async (t) => {
  const out = execFileSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.equal(out.trim(), '', 'systemd-analyze verify finds nothing to say');
  const unit = readFileSync(unitFile, 'utf8');
  const key = (k: string) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
  t.same(key('User'), ['bwc-agent']);
  t.same(key('SupplementaryGroups'), ['dialout']);
  t.same(key('StateDirectory'), ['bwc-agent']);
  t.same(key('StandardOutput'), ['journal']);
  // node [node flags] /opt/bwc-agent/bin/bwc-agent.js run --config FILE
  const exec = key('ExecStart')[0]!.split(' ');
  t.same(exec.slice(exec.findIndex((w) => w.endsWith('/bwc-agent.js')) + 1), ['run', '--config', '/etc/bwc-agent/config.yaml']);
  // The commands the unit runs exist with those flags.
  const run = await runCli(['run', '--help']);
  t.match(run.stdout, /--config <file>/);
  const validate = key('ExecStartPre')[0]!.split(' ').slice(2);
  t.same(validate, ['config', 'validate', '/etc/bwc-agent/config.yaml']);
});

t.test('the README keeps its technician guide: provisioning, doctor, service install', async (t) => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const guide = readme.slice(readme.indexOf('## Technician guide'));
  t.ok(readme.includes('## Technician guide'));
  for (const s of ['bwc-agent provision', 'bwc-agent doctor', 'bwc-agent register', 'useradd --system', 'dialout', '/var/lib/bwc-agent', 'journalctl -u bwc-agent']) t.ok(guide.includes(s), s);
});
