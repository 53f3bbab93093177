import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMessageBuffer } from '../agent/buffer/sqlite-message-buffer.js';
import type { NewMessage } from '../agent/buffer/message-buffer.js';
import { runIfMain, type BenchRow } from './bench-kit.js';

/**
 * Buffer writes: fixes appended in batches (one transaction each), as the
 * device runtimes do, on a real file with the agent's settings (WAL,
 * synchronous=NORMAL, WAL fsync every second). Goal from the agent core
 * issue: >= 50,000 fixes/s. Also: the file's bytes per row, the cost of a
 * forced WAL fsync, and a drain (oldest + ack) as the publisher does.
 */
const TOTAL = 200_000;
const DEVICES = 64;
/** A live fix payload is ≤ 32 bytes (protocol goal); 24 is typical. */
const PAYLOAD = 24;

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const batch of [1, 10, 100, 1000]) {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-buffer-'));
    try {
      const buffer = SqliteMessageBuffer.open({ path: join(dir, 'buffer.db'), syncIntervalMs: 1000 });
      const total = batch === 1 ? 20_000 : TOTAL;
      const msgs = makeFixes(total);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < total; i += batch) buffer.append(msgs.slice(i, i + batch));
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      rows.push({ bench: 'buffer-write', metric: `appends, batches of ${batch}`, value: Math.round(total / s), unit: 'fixes/s', goal: batch >= 10 ? '>= 50000' : undefined, met: batch >= 10 ? total / s >= 50_000 : undefined });
      if (batch === 1000) {
        const ts = process.hrtime.bigint();
        const n = 20;
        for (let i = 0; i < n; i++) {
          buffer.append(msgs.slice(i * 100, i * 100 + 100));
          await buffer.sync();
        }
        rows.push({ bench: 'buffer-write', metric: 'append 100 + WAL fsync', value: Number(process.hrtime.bigint() - ts) / 1e6 / n, unit: 'ms' });
        buffer.close();
        const size = statSync(join(dir, 'buffer.db')).size;
        rows.push({ bench: 'buffer-write', metric: `file bytes per row (payload ${PAYLOAD})`, value: Math.round(size / (total + n * 100)), unit: 'B/row' });
        const again = SqliteMessageBuffer.open({ path: join(dir, 'buffer.db'), syncIntervalMs: 0 });
        const td = process.hrtime.bigint();
        let drained = 0;
        for (;;) {
          const page = again.oldest({ limit: 600 });
          if (page.length === 0) break;
          again.ack(page.map((m) => m.id));
          drained += page.length;
        }
        rows.push({ bench: 'buffer-write', metric: 'drain (oldest 600 + ack)', value: Math.round(drained / (Number(process.hrtime.bigint() - td) / 1e9)), unit: 'msgs/s' });
        again.close();
      } else {
        buffer.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

function makeFixes(n: number): NewMessage[] {
  const out: NewMessage[] = [];
  const t0 = Date.UTC(2026, 10, 25, 2, 0, 0);
  for (let i = 0; i < n; i++) {
    const payload = new Uint8Array(PAYLOAD);
    for (let j = 0; j < PAYLOAD; j++) payload[j] = (i * 31 + j * 7) & 0xff;
    out.push({ deviceId: `BWC-${String(i % DEVICES).padStart(4, '0')}`, kind: i % 500 === 0 ? 'event' : 'fix', timeMs: t0 + Math.floor(i / DEVICES) * 200, payload });
  }
  return out;
}

void runIfMain(import.meta.url, run);
