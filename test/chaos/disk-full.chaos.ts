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
 * Disk full, against the running agent, broker down all along:
 * 1. the buffer at its cap (maxRows, pre-filled to just under it): the
 *    oldest fixes go, counted as max_rows; SOS alarms are kept;
 * 2. the file system full (the buffer on a 4 MiB tmpfs, the rest filled):
 *    SQLite says SQLITE_FULL, fixes are dropped as disk_full, alarms wait in
 *    memory; the agent keeps running and serving /metrics;
 * 3. space returns and the broker comes back: every alarm arrives, every
 *    seq is either delivered or counted as dropped, live fixes flow again.
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
      return { ...base, http: { enabled: true, port: 0 }, buffer: { path: join(mountDir, 'buffer.db'), maxRows: 1000 } };
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
  rig.agent.onLine((l) => {
    const m = /"port":(\d+).*health and metrics endpoint listening/.exec(l);
    if (m) httpPort = Number(m[1]);
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
  let m2: Record<string, number> = {};
  for (;;) {
    m2 = await metrics(httpPort);
    if ((m2.disk_full ?? 0) > 0) break;
    await sleep(500);
  }
  for (const d of rig.devices) {
    rig.camera(d).pressSos();
    sos++;
  }
  await sleep(5000);
  const aliveWhileFull = rig.agent.running;
  const m2b = await metrics(httpPort);

  // 3. Space returns, the broker comes back.
  rmSync(filler);
  await sleep(3000);
  await rig.broker.restart();
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
  const sosArrived = new Set(rig.recorder.records.filter((r) => r.type === 'event' && r.event === 'sos').map((r) => `${r.device}/${r.seq}`)).size;
  const result = {
    cameras: 4,
    maxRows: 1000,
    fileSystemBytes: FS_BYTES,
    dropsAtCap: m1,
    dropsWhileFull: m2b,
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
  t.ok((m2b.disk_full ?? 0) > 0, `drops on the full disk reported as disk_full (${m2b.disk_full})`);
  t.equal(sosArrived, sos, `every SOS alarm arrived (${sosArrived} of ${sos})`);
  t.ok(tot.lost <= dropped, `every seq not delivered is counted as dropped (${tot.lost} missing, ${dropped} dropped)`);
  t.equal(tot.inconsistentDuplicates, 0, 'duplicates carry the same content');
});
