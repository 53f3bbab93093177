import { join } from 'node:path';
import t from 'tap';
import { SqliteMessageBuffer } from '../../agent/buffer/sqlite-message-buffer.js';
import type { DropNotice, NewMessage } from '../../agent/buffer/message-buffer.js';
import { tempDir } from './temp-buffer.js';

/**
 * A full disk, made real for SQLite with PRAGMA max_page_count (the
 * `pageLimit` option): past it every write fails with SQLITE_FULL exactly as
 * on a full file system.
 */
const PAGES = 40;

function m(kind: 'fix' | 'event', i: number, size: number): NewMessage {
  const payload = new Uint8Array(size);
  new DataView(payload.buffer).setUint32(0, i);
  return { deviceId: 'CAM-1', kind, timeMs: 1_700_000_000_000 + i, payload };
}
const tag = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(0);

t.test('disk full with fixes: the newest wait in the memory ring, what falls off it is counted, appends never throw', async (t) => {
  const b = SqliteMessageBuffer.open({ path: join(tempDir(t), 'buffer.db'), syncIntervalMs: 0, seqFloor: () => 0, pageLimit: PAGES, memoryFixesPerDevice: 100 });
  t.teardown(() => b.close());
  const notices: DropNotice[] = [];
  b.onDrop((d) => notices.push(d));
  b.append([m('event', 0, 200)]);
  let last = 0;
  for (let i = 1; i <= 3000; i++) {
    b.append([m('fix', i, 200)]);
    last = i;
  }
  const st = b.stats();
  t.ok(st.drops.memory_full! > 0, `${st.drops.memory_full} fixes fell off the memory ring`);
  t.equal(st.drops.disk_full, undefined, 'no fix on disk was given up');
  t.equal(st.rows + st.drops.memory_full!, 3001, `${st.rows} rows held (on disk and in memory): all the others are counted`);
  t.ok(notices.every((d) => d.reason === 'memory_full' && d.kind === 'fix'));
  const left = b.oldest({ limit: 5000 });
  const tags = left.filter((x) => x.kind === 'fix').map((x) => tag(x.payload));
  t.same(tags.slice(-100), Array.from({ length: 100 }, (_, i) => 2901 + i), 'the ring holds the newest 100');
  t.same(tags.slice(0, -100), Array.from({ length: tags.length - 100 }, (_, i) => 1 + i), 'the disk the oldest, without a gap');
  t.equal(left[0]!.kind, 'event', 'the event is still there, oldest of all');
  t.equal(tag(left.at(-1)!.payload), last, 'the newest fix is there');
  t.equal(left.length, st.rows, 'stats agree with the content');
});

t.test('disk full with nothing to drop: events and fixes wait in memory, and all recover when space returns', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0, pageLimit: PAGES });
  const notices: DropNotice[] = [];
  b.onDrop((d) => notices.push(d));
  // 300 events of 1 KB: far more than 40 pages hold.
  const events = Array.from({ length: 300 }, (_, i) => m('event', i, 1000));
  for (const e of events) t.doesNotThrow(() => b.append([e]));
  t.equal(b.stats().rows, 300, 'no event lost');
  t.same(b.oldest({ limit: 1000 }).map((x) => tag(x.payload)), events.map((_, i) => i), 'all readable, in order');
  const fix = b.append([m('fix', 1000, 1000)])[0]!;
  t.same(b.stats().drops, {}, 'the fix is held, not dropped');
  t.equal(notices.length, 0);
  t.equal(b.newest({ deviceId: 'CAM-1', kind: 'fix' })!.seq, fix.seq, 'the held fix can be published from memory');
  t.equal(b.newest({ deviceId: 'CAM-1', kind: 'event' })!.seq, 300, 'newest sees the events held in memory');
  // Acks reach events held in memory too.
  b.ack([b.oldest({ limit: 1 })[0]!.id]);
  t.equal(b.stats().rows, 300);
  // Space returns.
  b.setPageLimit(100_000);
  const after = b.append([m('fix', 2000, 10)])[0]!;
  t.ok(after.seq > fix.seq, 'seqs went on through it all');
  b.close();
  const again = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0 });
  t.teardown(() => again.close());
  const rows = again.oldest({ limit: 1000 });
  t.equal(rows.length, 301, 'the 299 events, the fix held in memory and the new fix are on disk');
  t.same(rows.slice(0, 299).map((x) => tag(x.payload)), events.slice(1).map((_, i) => i + 1));
  t.same(rows.slice(299).map((x) => tag(x.payload)), [1000, 2000]);
  t.equal(again.append([m('fix', 3000, 10)])[0]!.seq, after.seq + 1, 'clean close: seqs continue without a gap');
});

t.test('closed while events wait in memory: the next start does not reuse their seqs', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0, pageLimit: PAGES });
  let last = 0;
  for (let i = 0; i < 300; i++) last = b.append([m('event', i, 1000)])[0]!.seq;
  b.close();
  const again = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0 });
  t.teardown(() => again.close());
  t.ok(again.stats().rows < 300, 'some events could not be kept');
  t.ok(again.append([m('fix', 1, 10)])[0]!.seq > last, 'seq above every one handed out');
});

t.test('the periodic sync writes waiting events once space returns, without a new append', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 50, seqFloor: () => 0, pageLimit: PAGES });
  t.teardown(() => b.close());
  for (let i = 0; i < 200; i++) b.append([m('event', i, 1000)]);
  b.setPageLimit(100_000);
  // Wait for the tick: the events then reach the file, where another connection can see them.
  const { default: Database } = await import('better-sqlite3');
  const peek = new Database(path, { readonly: true });
  t.teardown(() => peek.close());
  const count = () => (peek.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
  for (let i = 0; i < 600 && count() < 200; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(count(), 200);
});

t.test('a full disk loses no fix that fits in the memory ring; what falls off it is counted', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0, pageLimit: PAGES, memoryFixesPerDevice: 50 });
  const notices: DropNotice[] = [];
  b.onDrop((d) => notices.push(d));
  // Fill the file with events (never dropped), so no fix on disk can make room.
  for (let i = 0; b.stats().rows === b.stats().byKind.event && i < 1000; i++) {
    b.append([m('event', i, 1000)]);
    if (b.stats().drops.overflow_full) break;
  }
  const before = b.stats().rows;
  // 80 fixes for CAM-1, 30 for CAM-2 while full: CAM-1's ring holds 50, CAM-2's all 30.
  const seqs: number[] = [];
  for (let i = 0; i < 80; i++) seqs.push(b.append([m('fix', 10_000 + i, 100)])[0]!.seq);
  for (let i = 0; i < 30; i++) b.append([{ ...m('fix', 20_000 + i, 100), deviceId: 'CAM-2' }]);
  const st = b.stats();
  t.equal(st.drops.memory_full, 30, '30 of CAM-1 fell off its ring');
  t.equal(st.drops.disk_full, undefined, 'nothing else dropped');
  t.same(notices.filter((d) => d.reason === 'memory_full').reduce((a, d) => a + d.count, 0), 30, 'reported through onDrop');
  t.ok(notices.every((d) => d.reason === 'memory_full' && d.deviceId === 'CAM-1'));
  t.equal(st.rows, before + 80, 'rows count what memory holds');
  const held = b.oldest({ limit: 10_000, kinds: ['fix'] });
  t.same(held.filter((x) => x.deviceId === 'CAM-1').map((x) => tag(x.payload)), Array.from({ length: 50 }, (_, i) => 10_030 + i), 'the newest 50 of CAM-1 are held, in order');
  t.equal(held.filter((x) => x.deviceId === 'CAM-2').length, 30);
  // Publishing acks some from memory while the disk is still full.
  b.ack(held.slice(0, 10).map((x) => x.id));
  t.equal(b.stats().rows, before + 70);
  // Space returns: the next write (or the periodic sync) writes them out.
  b.setPageLimit(100_000);
  b.append([m('event', 99_999, 10)]);
  b.close();
  const again = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => 0 });
  t.teardown(() => again.close());
  const fixes = again.oldest({ limit: 10_000, kinds: ['fix'] });
  t.equal(fixes.length, 70, 'every held fix not yet acked is on disk');
  t.same(fixes.filter((x) => x.deviceId === 'CAM-1').map((x) => x.seq), seqs.slice(40), 'with the seqs they were given');
});
