import { statSync } from 'node:fs';
import { SqliteMessageBuffer } from '../../agent/buffer/sqlite-message-buffer.js';
import type { MessageKind, NewMessage } from '../../agent/buffer/message-buffer.js';

/**
 * A separate process that appends to a buffer until it is killed, and
 * reports on stdout, one JSON line each, what is committed and what is synced:
 *   {"append":[[id, device, seq], ...]}   after append() returned (committed)
 *   {"synced":id,"walBytes":n}            after sync() resolved (durable), with
 *                                         the WAL's size then: what survives a power cut
 * Usage: node append-child.js DB_PATH [SYNC_EVERY]
 */
const path = process.argv[2];
const syncEvery = Number(process.argv[3] ?? 10);
if (!path) {
  process.stderr.write('usage: append-child DB_PATH [SYNC_EVERY]\n');
  process.exit(2);
}
const buffer = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0 });
const devices = ['CAM-1', 'CAM-2', 'CAM-3'];
const kinds: MessageKind[] = ['fix', 'fix', 'fix', 'fix', 'event', 'status'];
let n = 0;

function write(line: object): Promise<void> {
  return new Promise((resolve) => process.stdout.write(JSON.stringify(line) + '\n', () => resolve()));
}

async function loop(): Promise<void> {
  for (let round = 1; ; round++) {
    const batch: NewMessage[] = [];
    const size = 1 + (round % 7);
    for (let i = 0; i < size; i++, n++) {
      const payload = new Uint8Array(16 + (n % 16));
      new DataView(payload.buffer).setUint32(0, n);
      batch.push({ deviceId: devices[n % devices.length]!, kind: kinds[n % kinds.length]!, timeMs: Date.now(), payload });
    }
    const stored = buffer.append(batch);
    await write({ append: stored.map((m) => [m.id, m.deviceId, m.seq]) });
    if (round % syncEvery === 0) {
      const synced = await buffer.sync();
      await write({ synced, walBytes: walSize() });
    }
  }
}

void loop();

function walSize(): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}
