import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { agentCli, repoRoot } from '../helpers/paths.js';
import type { TapTest } from '../helpers/tap-test.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BWC_')));
  const r = spawnSync(process.execPath, [agentCli, ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function dir(t: TapTest): string {
  const d = mkdtempSync(join(tmpdir(), 'bwc-config-cli-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

t.test('config validate: ok, or the path and reason with exit status 2', async (t) => {
  const d = dir(t);
  const good = join(d, 'good.yaml');
  writeFileSync(good, 'agent: {id: gw-1}\nmqtt: {brokers: [mqtt://127.0.0.1:1883]}\n');
  const ok = cli(['config', 'validate', good]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /good\.yaml: ok \(agent gw-1, 0 device\(s\), 1 broker\(s\), version [0-9a-f]{16}\)/);
  const json = cli(['config', 'validate', good, '--json']);
  t.match(JSON.parse(json.out), { ok: true, agent: 'gw-1', devices: 0 });
  const bad = join(d, 'bad.yaml');
  writeFileSync(bad, 'agent: {id: gw-1}\nmqtt:\n  brokers: [mqtt://127.0.0.1:1883]\n  keepaliveS: 2\n  colour: red\n');
  const r = cli(['config', 'validate', bad]);
  t.equal(r.code, 2);
  t.match(r.err, /mqtt\.keepaliveS: must be >= 5, got 2/);
  t.match(r.err, /mqtt\.colour: unknown key/);
  t.equal(r.out, '');
  const env = cli(['config', 'validate', good], { BWC_MQTT__KEEPALIVE_S: '1' });
  t.equal(env.code, 2);
  t.match(env.err, /set by BWC_MQTT__KEEPALIVE_S/);
  for (const f of ['gateway.yaml', 'handheld.yaml', 'demo.yaml', 'wvp-gb28181.yaml']) {
    const ex = cli(['config', 'validate', '--skip-secrets', join(repoRoot, 'config', 'examples', f)]);
    t.equal(ex.code, 0, `${f}: ${ex.err}`);
  }
  t.match(cli(['config', 'validate', join(repoRoot, 'config', 'examples', 'gateway.yaml')]).err, /mqtt\.passwordFile: cannot read the secret file/);
});

t.test('config show: defaults filled, secrets masked, YAML or JSON', async (t) => {
  const d = dir(t);
  const file = join(d, 'a.yaml');
  writeFileSync(join(d, 'pw'), 'hunter2\n', { mode: 0o600 });
  writeFileSync(file, 'agent: {id: gw-1}\nmqtt:\n  brokers: [mqtt://user:hunter2@127.0.0.1:1883]\n  username: user\n  passwordFile: pw\n');
  const y = cli(['config', 'show', file]);
  t.equal(y.code, 0, y.err);
  t.notMatch(y.out, /hunter2/, 'no secret in the output');
  const shown = parse(y.out) as { mqtt: { brokers: string[]; keepaliveS: number; passwordFile: string } };
  t.same(shown.mqtt.brokers, ['mqtt://user:***@127.0.0.1:1883']);
  t.equal(shown.mqtt.keepaliveS, 30);
  t.equal(shown.mqtt.passwordFile, join(d, 'pw'));
  const j = cli(['config', 'show', file, '--json']);
  t.equal(j.code, 0);
  t.notMatch(j.out, /hunter2/);
  t.match(JSON.parse(j.out), { agent: { id: 'gw-1' }, buffer: { path: join('/var/lib/bwc-agent', 'buffer.db') }, publish: { historicalBatchSize: 60 } });
  // As the README says every command takes it: --config FILE, or $BWC_CONFIG.
  const byOption = cli(['config', 'show', '--config', file, '--json']);
  t.equal(byOption.code, 0, byOption.err);
  t.same(JSON.parse(byOption.out), JSON.parse(j.out), 'config show --config FILE shows the same');
  const byEnv = cli(['config', 'validate'], { BWC_CONFIG: file });
  t.equal(byEnv.code, 0, byEnv.err);
  t.match(byEnv.out, /a\.yaml: ok/);
  const both = cli(['config', 'show', file, '--config', join(d, 'other.yaml')]);
  t.equal(both.code, 2);
  t.match(both.err, /two configuration files given/);
});

t.test('config init writes a valid file and refuses to overwrite without --force', async (t) => {
  const d = dir(t);
  const out = join(d, 'agent.yaml');
  const r = cli(['config', 'init', '--broker', 'mqtt://127.0.0.1:1883', '--data-dir', join(d, 'data'), '--out', out]);
  t.equal(r.code, 0, r.err);
  t.ok(existsSync(out));
  t.equal(cli(['config', 'validate', out]).code, 0);
  const again = cli(['config', 'init', '--broker', 'mqtt://127.0.0.1:1883', '--data-dir', d, '--out', out]);
  t.equal(again.code, 2);
  t.match(again.err, /already exists.*--force/);
  t.equal(cli(['config', 'init', '--broker', 'mqtt://127.0.0.1:1883', '--data-dir', d, '--out', out, '--force']).code, 0);
  const missing = cli(['config', 'init', '--data-dir', d, '--out', join(d, 'x.yaml')]);
  t.not(missing.code, 0);
  t.match(missing.err, /--broker/);
});
