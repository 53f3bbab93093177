import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { sleep, writeResult, SEED } from './chaos-kit.js';
import { FleetRig } from './fleet-rig.js';

/**
 * Corrupt database at agent start: a buffer file that is garbage, one cut
 * in half, and one with pages overwritten. Each time: the file is moved
 * aside with a logged reason, a fresh one is created, the loss is logged,
 * live fixes flow again with seqs above every seq seen before (none
 * reused), and the next start is normal (no crash loop).
 */
type Damage = 'garbage' | 'truncated' | 'scrambled';
const DAMAGES: Damage[] = ['garbage', 'truncated', 'scrambled'];

function damage(file: string, how: Damage): void {
  rmSync(file + '-wal', { force: true });
  rmSync(file + '-shm', { force: true });
  const size = statSync(file).size;
  if (how === 'garbage') writeFileSync(file, randomBytes(Math.max(size, 64 * 1024)));
  else if (how === 'truncated') truncateSync(file, Math.floor(size / 2) + 100);
  else {
    const b = readFileSync(file);
    // Overwrite whole pages past the first (header intact: the file still looks like SQLite).
    for (let p = 1; p < b.length / 4096; p += 2) randomBytes(4096).copy(b, p * 4096);
    writeFileSync(file, b);
  }
}

t.test('a garbage, truncated or scrambled buffer file at start', { timeout: 600_000 }, async (t) => {
  const rig = await FleetRig.start(t, { scenario: 'corrupt-database', cameras: 2, rateHz: 5, seed: 606 });
  await rig.liveFromAll(0, 60_000, 'live fixes');
  const cases: Array<Record<string, unknown>> = [];
  for (const how of DAMAGES) {
    // Leave unsent messages in the file: the broker goes away first.
    await rig.broker.stop();
    await sleep(4000);
    await rig.agent.stop();
    const maxSeqBefore = new Map<string, number>();
    for (const r of rig.recorder.records) if (r.device && r.seq !== undefined && !r.retainedCopy) maxSeqBefore.set(r.device, Math.max(maxSeqBefore.get(r.device) ?? 0, r.seq));
    damage(rig.bufferFile, how);
    await rig.broker.restart();
    const logFrom = statSync(rig.agent.logFile).size;
    const startsBefore = rig.agent.starts;
    const started = Date.now();
    rig.agent.start();
    await rig.liveFromAll(started, 60_000, `live fixes after the ${how} file`);
    await sleep(3000);
    const log = readFileSync(rig.agent.logFile).subarray(logFrom).toString();
    const movedLines = log.split('\n').filter((l) => /moved aside/.test(l));
    const aside = readdirSync(dirname(rig.bufferFile)).filter((f) => /^buffer\.db\.corrupt-/.test(f) && !f.endsWith('-wal'));
    // A second start on the fresh file: normal, nothing moved aside again.
    await rig.agent.kill('SIGKILL');
    const asideCount = aside.length;
    const again = Date.now();
    rig.agent.start();
    await rig.liveFromAll(again, 60_000, 'live fixes after a second start');
    const asideAfter = readdirSync(dirname(rig.bufferFile)).filter((f) => /^buffer\.db\.corrupt-/.test(f) && !f.endsWith('-wal')).length;
    // A seq handed out again is one on a message the new run made (its own time after the start);
    // an old message the broker delivers late (a QoS 1 resend after its restart) is not.
    const madeAfter = (r: Record<string, unknown>) => {
      const at = Date.parse(String(r.time ?? r.observed ?? ''));
      return !Number.isFinite(at) || at >= started - 1000;
    };
    const reused = rig.devices.filter((d) => rig.recorder.records.some((r) => r.device === d && r.receivedMs > started && !r.retainedCopy && r.seq !== undefined && r.seq <= (maxSeqBefore.get(d) ?? 0) && madeAfter(r))).length;
    const reason = movedLines.length ? (JSON.parse(movedLines[movedLines.length - 1]!.slice(movedLines[movedLines.length - 1]!.indexOf('{'))) as Record<string, unknown>) : undefined;
    cases.push({ damage: how, movedAsideLogged: movedLines.length > 0, reason: reason?.reason ?? null, filesAside: asideCount, movedAgainOnNextStart: asideAfter - asideCount, seqsReused: reused, starts: rig.agent.starts - startsBefore });
  }
  await rig.agent.stop();
  const result = { cases, crashes: rig.agent.crashes.length };
  writeResult('corrupt-database', result);
  t.comment(`seed ${SEED}: ${JSON.stringify(result)}`);
  t.equal(rig.agent.crashes.length, 0, 'the agent never exited by itself: no crash loop');
  cases.forEach((c, i) => {
    t.ok(c.movedAsideLogged, `${c.damage}: moving the file aside was logged`);
    t.ok(typeof c.reason === 'string' && (c.reason as string).length > 0, `${c.damage}: with a reason (${c.reason})`);
    t.equal(c.filesAside, i + 1, `${c.damage}: the damaged file kept aside for inspection`);
    t.equal(c.movedAgainOnNextStart, 0, `${c.damage}: the next start is normal`);
    t.equal(c.seqsReused, 0, `${c.damage}: no seq handed out again`);
  });
});
