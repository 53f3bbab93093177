import t from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeResult, SEED } from './chaos-kit.js';
import { loadConfigText } from '../../config/load-config.js';
import { runCli, startSim, tempDir, writeConfig } from '../technician/rig.js';

/**
 * Unsafe identifiers at every entry point, through the real CLI: device and
 * agent ids that would climb out of the data folder, hide a file, add or
 * wildcard a topic level, or carry control characters (configuration,
 * `provision --device-id`), and officer names that would show as something
 * else or as nothing (`provision --name`, against a simulated camera on a
 * pty). Each is refused with exit 2 and a message naming it; nothing is
 * written; the camera's binding is untouched.
 */
const IDS = ['.', '..', '.hidden', '../etc', 'a/b', '+', '#', 'a+b', 'dev#1', 'a\u0001b', 'a\u007fb', 'a\u0085b', 'cam era'];
const NAMES = ['Ann\u0085', '\u202eevil', 'x\u2066y\u2069', '\u200b', 'Ann\ufffd'];

t.test('unsafe ids and names are refused everywhere, with a clear message', { timeout: 600_000 }, async (t) => {
  const dir = tempDir(t);
  const results = { config: { tried: 0, refused: 0 }, agentId: { tried: 0, refused: 0 }, provisionId: { tried: 0, refused: 0 }, names: { tried: 0, refused: 0 } };
  const unclear: string[] = [];

  // The configuration, as the agent loads it (in process: the CLI path is the same loader, tried once below).
  const base = readFileSync(writeConfig(dir), 'utf8');
  const refusedBy = (text: string, re: RegExp, what: string, tally: { tried: number; refused: number }) => {
    tally.tried++;
    try {
      loadConfigText(text, join(dir, 'agent.yaml'), {}, { readSecrets: false });
    } catch (err) {
      if ((err as { code?: string }).code === 'BAD_CONFIG') tally.refused++;
      if (!re.test((err as Error).message)) unclear.push(`${what}: ${(err as Error).message}`);
      return;
    }
    unclear.push(`${what}: accepted`);
  };
  for (const id of IDS) {
    refusedBy(base.replace('devices: []', `devices:\n  - id: ${JSON.stringify(id)}\n    gnss: /dev/ttyUSB0`), /devices\[0\]\.id: must be 1-64 characters .*not starting with a dot/, `device id ${JSON.stringify(id)}`, results.config);
  }
  for (const id of ['..', '.hidden', 'a/b', 'a\u0085b']) {
    refusedBy(base.replace('"gw-test"', JSON.stringify(id)), /agent\.id: must be 1-64 characters/, `agent id ${JSON.stringify(id)}`, results.agentId);
  }
  const file = join(dir, 'cli.yaml');
  writeFileSync(file, base.replace('"gw-test"', '".."'));
  const cli = await runCli(['config', 'validate', '--skip-secrets', file]);
  const cliRefused = cli.code === 2 && /agent\.id: must be 1-64 characters/.test(cli.stderr);

  const rig = await startSim(t, 1);
  const { control, device } = rig.ports[0]!;
  const before = { ...rig.cameras.get(device)!.identity };
  mkdirSync(join(dir, 'prov'));
  const config = writeConfig(join(dir, 'prov'));
  const configBefore = readFileSync(config, 'utf8');
  const prov = ['provision', '--port', control, '--officer', '123456', '--unit', '330281520099', '--config', config];
  for (const id of ['..', '.cam', 'a/b']) {
    const r = await runCli([...prov, '--name', 'Ann', '--device-id', id]);
    results.provisionId.tried++;
    if (r.code === 2) results.provisionId.refused++;
    if (!/provision failed at step validate: --device-id .* must /.test(r.stderr)) unclear.push(`provision id ${JSON.stringify(id)}: ${r.stderr.trim()}`);
  }
  for (const name of NAMES) {
    const r = await runCli([...prov, '--name', name]);
    results.names.tried++;
    if (r.code === 2) results.names.refused++;
    if (!/provision failed at step validate: officer name .*(control|bidirectional|invisible|not valid UTF-8)/.test(r.stderr)) unclear.push(`name ${JSON.stringify(name)}: ${r.stderr.trim()}`);
  }
  const after = rig.cameras.get(device)!.identity;
  const bindingUntouched = after.officerNumber === before.officerNumber && after.officerName === before.officerName;
  const configUntouched = readFileSync(config, 'utf8') === configBefore;
  const dataDir = join(dir, 'prov', 'data');
  const stray = existsSync(dataDir) ? readdirSync(dataDir).filter((f) => f !== 'devices') : [];
  const keysWritten = existsSync(join(dataDir, 'devices')) ? readdirSync(join(dataDir, 'devices')).length : 0;

  const result = { ...results, cliRefused, unclearMessages: unclear.length, bindingUntouched, configUntouched, filesWritten: stray.length + keysWritten };
  writeResult('unsafe-ids', result);
  t.comment(`seed ${SEED}: ${JSON.stringify(result)}`);
  for (const [k, v] of Object.entries(results)) t.equal(v.refused, v.tried, `${k}: every unsafe value refused with exit 2 (${v.refused} of ${v.tried})`);
  t.same(unclear, [], 'every refusal names the value and why');
  t.ok(cliRefused, 'bwc-agent config validate refuses with exit 2');
  t.ok(bindingUntouched, 'the camera binding is untouched');
  t.ok(configUntouched, 'the configuration is untouched');
  t.equal(result.filesWritten, 0, 'no file written');
});
