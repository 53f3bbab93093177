import t from 'tap';
import { resultsJson, resultsTable } from '../../console/spot-check/summary.js';
import { pickRandom } from '../../console/spot-check/fleet-status.js';
import type { SpotResult } from '../../console/spot-check/spot-check-runner.js';

const ok: SpotResult = { device: 'BWC-0001', officer: '810001 王伟', kind: 'clip', result: 'ok', reason: '', files: ['/o/BWC-0001/a.mjpeg'], bytes: 6_000_000, seconds: 7.25, sha256_ok: true, resumes: 1, resumedFrom: [1300480], recording: 'a' };
const no: SpotResult = { device: 'BWC-0002', kind: 'live', result: 'rejected', reason: 'REASON_NOT_RECORDING: the camera is not recording', files: [], bytes: 0, seconds: 0.4, sha256_ok: false };

t.test('--json follows the CLI contract and extends it', async (t) => {
  const doc = JSON.parse(resultsJson([ok, no])) as Array<Record<string, unknown>>;
  t.equal(doc.length, 2);
  for (const r of doc) for (const k of ['device', 'kind', 'result', 'reason', 'files', 'bytes', 'sha256_ok']) t.ok(k in r, `${r.device} has ${k}`);
  t.match(doc[0], { device: 'BWC-0001', kind: 'clip', result: 'ok', reason: '', files: ['/o/BWC-0001/a.mjpeg'], bytes: 6_000_000, sha256_ok: true, officer: '810001 王伟', resumes: 1, resumed_from: [1300480] });
  t.match(doc[1], { result: 'rejected', reason: /NOT_RECORDING/, files: [], sha256_ok: false, officer: null });
});

t.test('the table: device, officer, kind, result, bytes, seconds, aligned with wide characters', async (t) => {
  const lines = resultsTable([ok, no]).trimEnd().split('\n');
  t.match(lines[0], /^device\s+officer\s+kind\s+result\s+bytes\s+seconds\s+detail$/);
  t.match(lines[2], /BWC-0001\s+810001 王伟\s+clip\s+ok\s+5\.7 MB\s+7\.3\s+resumed 1x, sha256 ok/);
  t.match(lines[3], /BWC-0002\s+-\s+live\s+rejected\s+0 B\s+0\.4\s+REASON_NOT_RECORDING/);
  // "王伟" is 4 columns wide: the kind column starts at the same column on both rows.
  const col = (l: string) => [...l.slice(0, l.indexOf(l.includes('clip') ? 'clip' : 'live'))].reduce((n, ch) => n + (/[\u1100-\uffff]/.test(ch) ? 2 : 1), 0);
  t.equal(col(lines[2]!), col(lines[3]!));
});

t.test('random picks are distinct and drawn from the pool', async (t) => {
  const pool = Array.from({ length: 8 }, (_, i) => `BWC-000${i + 1}`);
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const p = pickRandom(pool, 3);
    t.equal(new Set(p).size, 3);
    for (const d of p) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  t.equal(counts.size, 8, 'every device gets picked');
  // 400 draws of 3 of 8: 150 expected per device; far outside 90..210 would mean a biased draw.
  t.ok([...counts.values()].every((n) => n > 90 && n < 210), `roughly even (${[...counts.values()].join(', ')})`);
  t.same(pickRandom(pool, 20).sort(), pool, 'asking for more gives all');
});
