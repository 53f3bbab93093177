import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, verifyAuditLog } from '../../agent/audit/audit-log.js';
import { agentCli } from '../helpers/paths.js';
import type { TapTest } from '../helpers/tap-test.js';

function filled(t: TapTest) {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  const log = new AuditLog(file);
  for (let i = 0; i < 5; i++) log.append({ time: new Date(Date.UTC(2026, 10, 25, 3, 0, i)).toISOString(), device: 'BWC-0001', commandId: `c${i}`, issuer: 'sup', kind: 'snapshot', outcome: i === 2 ? 'rejected' : 'accepted', ...(i === 2 ? { reason: 'REASON_EXPIRED' } : {}) });
  log.close();
  return { dir, file };
}

const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');

t.test('an intact chain verifies, by API and by CLI', async (t) => {
  const { dir, file } = filled(t);
  t.match(verifyAuditLog(file), { ok: true, entries: 5 });
  const r = spawnSync(process.execPath, [agentCli, 'audit', 'verify', '--data-dir', dir, '--json'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout), { ok: true, entries: 5 });
  const again = new AuditLog(file);
  again.append({ time: new Date().toISOString(), device: 'BWC-0001', outcome: 'accepted' });
  again.close();
  t.match(verifyAuditLog(file), { ok: true, entries: 6 }, 'reopening continues the same chain');
});

t.test('an edited entry is detected', async (t) => {
  const { dir, file } = filled(t);
  const l = lines(file);
  l[2] = l[2]!.replace('"rejected"', '"accepted"');
  writeFileSync(file, l.join('\n') + '\n');
  const v = verifyAuditLog(file);
  t.equal(v.ok, false);
  t.match(v.problems.join('\n'), /line 3: content does not match its hash/);
  const r = spawnSync(process.execPath, [agentCli, 'audit', 'verify', '--data-dir', dir], { encoding: 'utf8' });
  t.equal(r.status, 1);
  t.match(r.stdout, /BROKEN/);
});

t.test('a removed entry is detected, in the middle and at the end', async (t) => {
  const { file } = filled(t);
  const l = lines(file);
  writeFileSync(file, [...l.slice(0, 1), ...l.slice(2)].join('\n') + '\n');
  t.match(verifyAuditLog(file).problems.join('\n'), /removed or inserted/);
  writeFileSync(file, l.slice(0, 4).join('\n') + '\n');
  const v = verifyAuditLog(file);
  t.equal(v.ok, false, 'cutting the last entry is caught by the head');
  t.match(v.problems.join('\n'), /head records 5/);
});
