import t from 'tap';
import { timeSeqFloor } from '../../agent/buffer/seq-floor.js';
import type { TapTest } from '../helpers/tap-test.js';
import type { DropNotice, MessageBuffer, MessageKind, NewMessage } from '../../agent/buffer/message-buffer.js';

/**
 * The contract every MessageBuffer keeps, run against each implementation
 * (after MQTT.js test/node/abstract_store.ts). `make` opens a fresh, empty
 * buffer with the given bounds and clock; the harness closes and removes it.
 * Without `seqFloor` in opts the harness gives a floor of 0 (seqs from 1, easy
 * to read); `seqFloor: undefined` given explicitly asks for the default.
 */
export interface BufferMaker {
  (opts: { maxRows?: number; maxBytes?: number; maxAgeMs?: number; now?: () => number; seqFloor?: () => number }, t: TapTest): MessageBuffer;
}

const T0 = Date.UTC(2026, 10, 25, 2, 0, 0);

export function msg(deviceId: string, kind: MessageKind, i: number, size = 8): NewMessage {
  const payload = new Uint8Array(size);
  payload.fill(i & 0xff);
  // The first bytes carry i, so a test can tell which message came back.
  new DataView(payload.buffer).setUint32(0, i);
  return { deviceId, kind, timeMs: T0 + i * 1000, payload };
}

export function tagOf(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

export function messageBufferContract(name: string, make: BufferMaker): void {
  t.test(`${name}: a device with no seq history starts a new epoch above the seq floor`, async (t) => {
    const b = make({ seqFloor: () => 70_000 }, t);
    const stored = b.append([msg('A', 'fix', 1), msg('B', 'fix', 2), msg('A', 'fix', 3)]);
    t.same(stored.map((s) => [s.deviceId, s.seq]), [['A', 70_001], ['B', 70_001], ['A', 70_002]]);
  });

  t.test(`${name}: by default the floor is the time floor of now`, async (t) => {
    const before = timeSeqFloor(Date.now());
    const b = make({ seqFloor: undefined }, t);
    const seq = b.append([msg('A', 'fix', 1)])[0]!.seq;
    const after = timeSeqFloor(Date.now());
    t.ok(seq > before && seq <= after + 1, `first seq ${seq} lies just above the floor (${before}..${after})`);
  });

  t.test(`${name}: append assigns ids in insertion order and per-device seqs from 1`, async (t) => {
    const b = make({}, t);
    const stored = b.append([msg('A', 'fix', 1), msg('B', 'fix', 2), msg('A', 'event', 3), msg('A', 'fix', 4)]);
    t.same(stored.map((s) => [s.deviceId, s.seq]), [['A', 1], ['B', 1], ['A', 2], ['A', 3]]);
    for (let i = 1; i < stored.length; i++) t.ok(stored[i]!.id > stored[i - 1]!.id, 'ids increase');
    t.same(stored.map((s) => tagOf(s.payload)), [1, 2, 3, 4]);
    t.same(stored.map((s) => s.kind), ['fix', 'fix', 'event', 'fix']);
    t.equal(stored[0]!.timeMs, T0 + 1000);
    const more = b.append([msg('B', 'status', 5)]);
    t.equal(more[0]!.seq, 2);
    t.ok(more[0]!.id > stored[3]!.id);
    t.same(b.append([]), [], 'an empty batch is fine');
  });

  t.test(`${name}: oldest: order, limit, kinds, device and cursor`, async (t) => {
    const b = make({}, t);
    const s = b.append([msg('A', 'fix', 1), msg('B', 'event', 2), msg('A', 'status', 3), msg('B', 'fix', 4), msg('A', 'reply', 5), msg('A', 'fix', 6)]);
    const tags = (list: { payload: Uint8Array }[]) => list.map((m) => tagOf(m.payload));
    t.same(tags(b.oldest({ limit: 100 })), [1, 2, 3, 4, 5, 6]);
    t.same(tags(b.oldest({ limit: 2 })), [1, 2]);
    t.same(tags(b.oldest({ limit: 100, kinds: ['fix'] })), [1, 4, 6]);
    t.same(tags(b.oldest({ limit: 100, kinds: ['event', 'reply'] })), [2, 5]);
    t.same(tags(b.oldest({ limit: 100, deviceId: 'A' })), [1, 3, 5, 6]);
    t.same(tags(b.oldest({ limit: 100, deviceId: 'A', kinds: ['fix'] })), [1, 6]);
    t.same(tags(b.oldest({ limit: 100, afterId: s[2]!.id })), [4, 5, 6]);
    t.same(tags(b.oldest({ limit: 1, afterId: s[2]!.id, deviceId: 'A' })), [5]);
    t.same(b.oldest({ limit: 100, deviceId: 'nobody' }), []);
    const full = b.oldest({ limit: 1 })[0]!;
    t.same({ ...full, payload: [...full.payload] }, { ...s[0]!, payload: [...s[0]!.payload] }, 'a stored message reads back whole');
  });

  t.test(`${name}: newest by device and kind`, async (t) => {
    const b = make({}, t);
    const s = b.append([msg('A', 'fix', 1), msg('A', 'fix', 2), msg('B', 'fix', 3), msg('A', 'event', 4)]);
    t.equal(tagOf(b.newest({ deviceId: 'A', kind: 'fix' })!.payload), 2);
    t.equal(tagOf(b.newest({ deviceId: 'A', kind: 'event' })!.payload), 4);
    t.equal(b.newest({ deviceId: 'A', kind: 'status' }), undefined);
    t.equal(b.newest({ deviceId: 'C', kind: 'fix' }), undefined);
    b.ack([s[1]!.id]);
    t.equal(tagOf(b.newest({ deviceId: 'A', kind: 'fix' })!.payload), 1, 'after its ack, the one before');
    b.ack([s[0]!.id]);
    t.equal(b.newest({ deviceId: 'A', kind: 'fix' }), undefined);
  });

  t.test(`${name}: ack deletes; stats follow; unknown ids are ignored`, async (t) => {
    const b = make({}, t);
    const s = b.append([msg('A', 'fix', 1, 10), msg('A', 'event', 2, 20), msg('B', 'fix', 3, 30)]);
    t.match(b.stats(), { rows: 3, bytes: 60, oldestMs: T0 + 1000, byKind: { fix: 2, event: 1, status: 0, reply: 0 }, drops: {} });
    b.ack([s[0]!.id, 999_999]);
    t.match(b.stats(), { rows: 2, bytes: 50, oldestMs: T0 + 2000, byKind: { fix: 1, event: 1 } });
    b.ack([s[0]!.id]);
    t.equal(b.stats().rows, 2, 'acking twice changes nothing');
    t.same(b.oldest({ limit: 10 }).map((m) => m.id), [s[1]!.id, s[2]!.id]);
    b.ack([s[1]!.id, s[2]!.id]);
    t.match(b.stats(), { rows: 0, bytes: 0, byKind: { fix: 0, event: 0 } });
    t.equal(b.stats().oldestMs, undefined);
  });

  t.test(`${name}: seqs are never reused, after acks or drops`, async (t) => {
    const b = make({ maxRows: 5 }, t);
    const first = b.append([msg('A', 'fix', 1), msg('A', 'fix', 2)]);
    b.ack(first.map((m) => m.id));
    t.equal(b.append([msg('A', 'fix', 3)])[0]!.seq, 3, 'after an ack of everything');
    const many = b.append(Array.from({ length: 10 }, (_, i) => msg('A', 'fix', 10 + i)));
    t.same(many.map((m) => m.seq), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    t.equal(b.stats().rows, 5);
    t.equal(b.append([msg('A', 'fix', 30)])[0]!.seq, 14, 'after drops');
  });

  t.test(`${name}: full by rows: oldest fixes go first, events and replies stay`, async (t) => {
    const b = make({ maxRows: 10 }, t);
    const notices: DropNotice[] = [];
    b.onDrop((d) => notices.push(d));
    const batch: NewMessage[] = [];
    for (let i = 0; i < 20; i++) batch.push(msg(i % 2 ? 'A' : 'B', i % 5 === 0 ? (i === 10 ? 'reply' : 'event') : 'fix', i));
    b.append(batch);
    const left = b.oldest({ limit: 100 });
    t.equal(left.length, 10);
    t.same(left.filter((m) => m.kind !== 'fix').map((m) => tagOf(m.payload)), [0, 5, 10, 15], 'every event and reply kept');
    t.same(left.filter((m) => m.kind === 'fix').map((m) => tagOf(m.payload)), [13, 14, 16, 17, 18, 19], 'the newest fixes kept');
    t.equal(b.stats().drops.max_rows, 10);
    t.equal(notices.reduce((n, d) => n + d.count, 0), 10, 'every drop reported');
    t.ok(notices.every((d) => d.reason === 'max_rows' && d.kind === 'fix'));
    t.same(new Set(notices.map((d) => d.deviceId)), new Set(['A', 'B']));
    // More appends keep the bound, one by one.
    for (let i = 100; i < 105; i++) b.append([msg('A', 'fix', i)]);
    t.equal(b.stats().rows, 10);
    t.equal(b.stats().drops.max_rows, 15);
    t.same(b.oldest({ limit: 100, kinds: ['event', 'reply'] }).length, 4);
  });

  t.test(`${name}: full with no fixes left: status before events, then the oldest events`, async (t) => {
    const b = make({ maxRows: 3 }, t);
    b.append([msg('A', 'event', 1), msg('A', 'status', 2), msg('A', 'event', 3), msg('A', 'fix', 4)]);
    t.same(b.oldest({ limit: 10 }).map((m) => tagOf(m.payload)), [1, 2, 3], 'the fix went first');
    b.append([msg('A', 'event', 5)]);
    t.same(b.oldest({ limit: 10 }).map((m) => tagOf(m.payload)), [1, 3, 5], 'then the status');
    b.append([msg('A', 'reply', 6)]);
    t.same(b.oldest({ limit: 10 }).map((m) => tagOf(m.payload)), [3, 5, 6], 'then the oldest event');
    t.same(b.stats().drops, { max_rows: 3 });
  });

  t.test(`${name}: full by bytes`, async (t) => {
    const b = make({ maxBytes: 1000 }, t);
    b.append([msg('A', 'event', 1, 300)]);
    for (let i = 2; i < 12; i++) b.append([msg('A', 'fix', i, 100)]);
    const st = b.stats();
    t.ok(st.bytes <= 1000, `bytes ${st.bytes} within the bound`);
    t.equal(st.bytes, 1000);
    t.equal(st.drops.max_bytes, 3);
    t.same(b.oldest({ limit: 100 }).map((m) => tagOf(m.payload)), [1, 5, 6, 7, 8, 9, 10, 11]);
  });

  t.test(`${name}: fixes and status older than maxAge go; events stay`, async (t) => {
    let now = T0;
    const hour = 3_600_000;
    const b = make({ maxAgeMs: 2 * hour, now: () => now }, t);
    const notices: DropNotice[] = [];
    b.onDrop((d) => notices.push(d));
    b.append([msg('A', 'fix', 0), msg('A', 'event', 1), msg('A', 'status', 2), msg('B', 'fix', 3)]);
    now = T0 + 3 * hour;
    b.append([msg('A', 'fix', 3 * 3600)]);
    t.same(b.oldest({ limit: 10 }).map((m) => tagOf(m.payload)), [1, 3 * 3600]);
    t.equal(b.stats().drops.max_age, 3);
    t.same(
      notices.map((d) => [d.reason, d.kind, d.deviceId, d.count]).sort(),
      [['max_age', 'fix', 'A', 1], ['max_age', 'fix', 'B', 1], ['max_age', 'status', 'A', 1]].sort(),
    );
  });

  t.test(`${name}: closed is closed`, async (t) => {
    const b = make({}, t);
    b.append([msg('A', 'fix', 1)]);
    b.close();
    t.throws(() => b.append([msg('A', 'fix', 2)]), { code: 'BUFFER_CLOSED' });
    t.throws(() => b.oldest({ limit: 1 }), { code: 'BUFFER_CLOSED' });
  });
}
