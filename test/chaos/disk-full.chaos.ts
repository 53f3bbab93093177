import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, waitFor, writeResult, SEED } from './chaos-kit.js';
import { FleetRig } from './fleet-rig.js';
import { accountDelivery, readBufferCounts, totals } from './delivery.js';
import { SqliteMessageBuffer } from '../../agent/buffer/sqlite-message-buffer.js';
import { encodeFixPayload } from '../../agent/fix-payload.js';

/**
 * Disk full, against the running agent (every fix reported, 1 a second per camera):
 * 1. broker down, the buffer at its cap (maxRows, pre-filled to just under
 *    it): the oldest fixes go, counted as max_rows; SOS alarms are kept;
 * 2. the file system full (the buffer on a 4 MiB tmpfs, the rest filled):
 *    SQLite says SQLITE_FULL; fixes and alarms wait in memory (each camera's
 *    fixes in a ring of 10 minutes); the agent keeps running and serving /metrics;
 * 3. the broker comes back while the disk is still full: live fixes flow,
 *    published from memory;
 * 4. space returns: what is held is written out; every alarm arrives, every
 *    fix read while the disk was full is delivered, every seq is either
 *    delivered or counted as dropped.
 */
const FS_BYTES = 4 * 1024 * 1024;

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^bwc_buffer_dropped_total\{reason="([a-z_]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

t.test('buffer at its cap, then the file system full, then space back', { timeout: 600_000 }, async (t) => {
  let mountDir = '';
  let httpPort = 0;
  const rig = await FleetRig.start(t, {
    scenario: 'disk-full',
    cameras: 4,
    rateHz: 5,
    seed: 505,
    startAgent: false,
    config: (base, dir) => {
      mountDir = join(dir, 'small-fs');
      return { ...base, http: { enabled: true, port: 0 }, buffer: { path: join(mountDir, 'buffer.db'), maxRows: 1000 }, reporting: { movingIntervalS: 1, stationaryIntervalS: 1 } };
    },
  });
  mkdirSync(mountDir, { recursive: true });
  // A small file system of its own (needs root: CI runs as root).
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'tmpfs', mountDir]);
  t.teardown(() => {
    try {
      execFileSync('umount', ['-l', mountDir]);
    } catch {
      /* already gone */
    }
  });
  const bufferFile = join(mountDir, 'buffer.db');
  // Pre-fill to just under the cap with real fix rows of these cameras.
  const pre = SqliteMessageBuffer.open({ path: bufferFile, maxRows: 1000, syncIntervalMs: 0 });
  const old = Date.now() - 600_000;
  pre.append(Array.from({ length: 980 }, (_, i) => ({ deviceId: rig.devices[i % 4]!, kind: 'fix' as const, timeMs: old + i * 250, payload: encodeFixPayload({ timeMs: old + i * 250, lat: 30.04, lon: 121.15, mode: 3 }) })));
  pre.close();
  await rig.broker.stop();
  let fullSeen = 0;
  let spaceBack = 0;
  rig.agent.onLine((l) => {
    const m = /"port":(\d+).*health and metrics endpoint listening/.exec(l);
    if (m) httpPort = Number(m[1]);
    if (l.includes('buffer: disk full; messages held in memory')) fullSeen ||= Date.now();
    if (l.includes('buffer: space is back')) spaceBack ||= Date.now();
  });
  rig.agent.start();
  await waitFor(() => httpPort > 0, 60_000, 'the metrics endpoint');

  // 1. At the cap.
  let m1: Record<string, number> = {};
  for (;;) {
    m1 = await metrics(httpPort);
    if ((m1.max_rows ?? 0) > 0) break;
    await sleep(500);
  }
  let sos = 0;
  for (const d of rig.devices) {
    rig.camera(d).pressSos();
    sos++;
  }
  await sleep(3000);

  // 2. The file system full.
  const filler = join(mountDir, 'filler');
  const fd = openSync(filler, 'w');
  const block = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch {
    /* ENOSPC: full */
  }
  try {
    for (;;) writeSync(fd, block.subarray(0, 512));
  } catch {
    /* to the last block */
  }
  closeSync(fd);
  await waitFor(() => fullSeen > 0, 60_000, 'the agent to find the disk full');
  const fullFrom = Date.now();
  for (const d of rig.devices) {
    rig.camera(d).pressSos();
    sos++;
  }
  await sleep(15_000);
  const aliveWhileFull = rig.agent.running;
  const m2b = await metrics(httpPort);

  // 3. The broker comes back; the disk is still full.
  await rig.broker.restart();
  const brokerBack = Date.now();
  await rig.liveFromAll(brokerBack, 90_000, 'live fixes while the disk is full');
  await sleep(10_000);
  const fullTo = Date.now();
  const liveWhileFull = Object.fromEntries(rig.devices.map((d) => [d, rig.recorder.fixes(d).filter((f) => f.historical === false && f.receivedMs > brokerBack && f.receivedMs < (spaceBack || fullTo)).length]));

  // 4. Space returns.
  rmSync(filler);
  await waitFor(() => spaceBack > 0, 60_000, 'the held messages written out');
  const back = Date.now();
  await rig.liveFromAll(back, 90_000, 'live fixes after space returned');
  await rig.recorder.waitFor(() => rig.recorder.records.filter((r) => r.type === 'event' && r.event === 'sos').length >= sos, 90_000, 'every SOS alarm');
  await sleep(5000);
  await rig.sim.stop();
  await sleep(5000);
  const m3 = await metrics(httpPort);
  const rows = accountDelivery(rig.recorder, readBufferCounts(bufferFile), rig.devices);
  await rig.agent.stop();
  const dropped = Object.values(m3).reduce((a, b) => a + b, 0);
  const tot = totals(rows);
  // Fixes read while the disk was full (by fix time): delivered, and no seq of
  // that stretch missing (the only seqs lost are the oldest, at the cap).
  const fullWindow = (d: string) => {
    const seqs = rig.recorder.fixes(d).filter((f) => { const ms = Date.parse(f.time as string); return ms >= fullFrom && ms < fullTo; }).map((f) => f.seq as number);
    const lo = Math.min(...seqs);
    const hi = Math.max(...seqs);
    const lost = rows.find((r) => r.device === d)?.lostSeqs.filter((s) => s >= lo && s <= hi).length ?? 0;
    return { delivered: new Set(seqs).size, lostInStretch: lost };
  };
  const readWhileFull = Object.fromEntries(rig.devices.map((d) => [d, fullWindow(d)]));
  const sosArrived = new Set(rig.recorder.records.filter((r) => r.type === 'event' && r.event === 'sos').map((r) => `${r.device}/${r.seq}`)).size;
  const result = {
    cameras: 4,
    maxRows: 1000,
    fileSystemBytes: FS_BYTES,
    dropsAtCap: m1,
    dropsWhileFull: m2b,
    fullS: Math.round((fullTo - fullFrom) / 1000),
    brokerUpWhileFullS: Math.round((fullTo - brokerBack) / 1000),
    liveFixesWhileFull: liveWhileFull,
    fixesReadWhileFullDelivered: readWhileFull,
    dropsTotal: m3,
    sosPressed: sos,
    sosDelivered: sosArrived,
    aliveWhileFull,
    crashes: rig.agent.crashes.length,
    totals: tot,
    missingSeqsVsDropped: { missing: tot.lost, dropped },
  };
  writeResult('disk-full', result);
  t.comment(`seed ${SEED}: ${JSON.stringify(result)}`);
  t.equal(rig.agent.crashes.length, 0, 'the agent never exited by itself');
  t.ok(aliveWhileFull, 'the agent kept running on a full file system');
  t.ok((m1.max_rows ?? 0) > 0, `drops at the cap reported as max_rows (${m1.max_rows})`);
  t.equal(m2b.disk_full ?? 0, 0, 'no fix dropped for the full disk');
  t.equal(m3.memory_full ?? 0, 0, 'none fell off the memory ring (it holds 10 minutes)');
  for (const d of rig.devices) t.ok(liveWhileFull[d]! >= 1, `${d}: live fixes published from memory while the disk was full (${liveWhileFull[d]})`);
  for (const d of rig.devices) {
    const w = readWhileFull[d]!;
    t.ok(w.delivered >= 5, `${d}: fixes read while the disk was full delivered (${w.delivered})`);
    t.equal(w.lostInStretch, 0, `${d}: none of them missing`);
  }
  t.equal(sosArrived, sos, `every SOS alarm arrived (${sosArrived} of ${sos})`);
  t.ok(tot.lost <= dropped, `every seq not delivered is counted as dropped (${tot.lost} missing, ${dropped} dropped)`);
  t.equal(tot.inconsistentDuplicates, 0, 'duplicates carry the same content');
});
