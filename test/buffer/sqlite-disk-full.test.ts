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

t.test('disk full with fixes: the oldest fixes make room, appends never throw', async (t) => {
  const b = SqliteMessageBuffer.open({ path: join(tempDir(t), 'buffer.db'), syncIntervalMs: 0, pageLimit: PAGES });
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
  t.ok(st.drops.disk_full! > 0, `${st.drops.disk_full} fixes dropped for disk_full`);
  t.ok(st.rows > 100 && st.rows < 3001, `${st.rows} rows fit`);
  t.ok(notices.every((d) => d.reason === 'disk_full' && d.kind === 'fix'));
  const left = b.oldest({ limit: 5000 });
  t.equal(left[0]!.kind, 'event', 'the event is still there, oldest of all');
  t.equal(tag(left.at(-1)!.payload), last, 'the newest fix is there');
  t.equal(left.length, st.rows, 'stats agree with the content');
});

t.test('disk full with nothing to drop: events wait in memory, fixes are dropped, and all recover when space returns', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, pageLimit: PAGES });
  const notices: DropNotice[] = [];
  b.onDrop((d) => notices.push(d));
  // 300 events of 1 KB: far more than 40 pages hold.
  const events = Array.from({ length: 300 }, (_, i) => m('event', i, 1000));
  for (const e of events) t.doesNotThrow(() => b.append([e]));
  t.equal(b.stats().rows, 300, 'no event lost');
  t.same(b.oldest({ limit: 1000 }).map((x) => tag(x.payload)), events.map((_, i) => i), 'all readable, in order');
  const fix = b.append([m('fix', 1000, 1000)])[0]!;
  t.equal(b.stats().drops.disk_full, 1, 'a fix is dropped');
  t.match(notices.at(-1), { reason: 'disk_full', kind: 'fix', deviceId: 'CAM-1', count: 1 });
  t.equal(b.newest({ deviceId: 'CAM-1', kind: 'event' })!.seq, 300, 'newest sees the events held in memory');
  // Acks reach events held in memory too.
  b.ack([b.oldest({ limit: 1 })[0]!.id]);
  t.equal(b.stats().rows, 299);
  // Space returns.
  b.setPageLimit(100_000);
  const after = b.append([m('fix', 2000, 10)])[0]!;
  t.ok(after.seq > fix.seq, 'seqs went on through it all');
  b.close();
  const again = SqliteMessageBuffer.open({ path, syncIntervalMs: 0 });
  t.teardown(() => again.close());
  const rows = again.oldest({ limit: 1000 });
  t.equal(rows.length, 300, 'the 299 events and the new fix are on disk');
  t.same(rows.slice(0, 299).map((x) => tag(x.payload)), events.slice(1).map((_, i) => i + 1));
  t.equal(tag(rows.at(-1)!.payload), 2000);
  t.equal(again.append([m('fix', 3000, 10)])[0]!.seq, after.seq + 1, 'clean close: seqs continue without a gap');
});

t.test('closed while events wait in memory: the next start does not reuse their seqs', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, pageLimit: PAGES });
  let last = 0;
  for (let i = 0; i < 300; i++) last = b.append([m('event', i, 1000)])[0]!.seq;
  b.close();
  const again = SqliteMessageBuffer.open({ path, syncIntervalMs: 0 });
  t.teardown(() => again.close());
  t.ok(again.stats().rows < 300, 'some events could not be kept');
  t.ok(again.append([m('fix', 1, 10)])[0]!.seq > last, 'seq above every one handed out');
});

t.test('the periodic sync writes waiting events once space returns, without a new append', async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 50, pageLimit: PAGES });
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
