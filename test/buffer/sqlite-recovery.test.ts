import { rmSync, existsSync, openSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { SqliteMessageBuffer, type BufferLog } from '../../agent/buffer/sqlite-message-buffer.js';
import type { NewMessage } from '../../agent/buffer/message-buffer.js';
import { timeSeqFloor, SEQ_FLOOR_PER_S } from '../../agent/buffer/seq-floor.js';
import { tempDir } from './temp-buffer.js';
import type { TapTest } from '../helpers/tap-test.js';

function fixes(device: string, n: number, size = 100): NewMessage[] {
  return Array.from({ length: n }, (_, i) => ({ deviceId: device, kind: 'fix' as const, timeMs: 1_700_000_000_000 + i, payload: new Uint8Array(size).fill(i & 0xff) }));
}

function recordingLog(): BufferLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (o, m) => lines.push(`warn ${m} ${JSON.stringify(o)}`), error: (o, m) => lines.push(`error ${m} ${JSON.stringify(o)}`) };
}

/** A buffer that held messages for CAM-1 up to seq `n`, closed cleanly. */
function usedBuffer(t: TapTest, n = 3000): { path: string; lastSeq: number } {
  const path = join(tempDir(t), 'buffer.db');
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0 });
  const stored = b.append(fixes('CAM-1', n));
  b.close();
  return { path, lastSeq: stored.at(-1)!.seq };
}

function expectRecovered(t: TapTest, path: string, lastSeq: number | undefined, reason: RegExp): void {
  const log = recordingLog();
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, log });
  t.teardown(() => b.close());
  t.ok(b.recovered, 'the loss is reported on the opened buffer');
  t.match(b.recovered?.reason, reason);
  t.match(b.recovered?.movedTo, /buffer\.db\.corrupt-\d{4}-\d\d-\d\dT/);
  t.ok(existsSync(b.recovered!.movedTo), 'the unreadable file is kept aside');
  t.match(log.lines.join('\n'), /error buffer database unreadable: moved aside/, 'and logged with its reason');
  t.match(b.stats(), { rows: 0, bytes: 0 }, 'a fresh, empty buffer');
  const next = b.append(fixes('CAM-1', 1))[0]!;
  if (lastSeq !== undefined) t.ok(next.seq > lastSeq, `seq ${next.seq} continues above the lost file's ${lastSeq}`);
  t.equal(b.oldest({ limit: 5 }).length, 1, 'and it works');
}

t.test('a garbage file is moved aside and a fresh buffer made', async (t) => {
  const { path, lastSeq } = usedBuffer(t, 10);
  writeFileSync(path, Buffer.from('this is not SQLite at all, just text that was written over the buffer'.repeat(100)));
  expectRecovered(t, path, lastSeq, /not a database/);
});

t.test('a truncated file is moved aside', async (t) => {
  const { path, lastSeq } = usedBuffer(t);
  truncateSync(path, Math.floor(statSync(path).size / 2));
  expectRecovered(t, path, lastSeq, /malformed|integrity|corrupt/i);
});

t.test('a file cut inside its header is moved aside', async (t) => {
  const { path, lastSeq } = usedBuffer(t, 10);
  truncateSync(path, 60);
  expectRecovered(t, path, lastSeq, /not a database|malformed|corrupt/i);
});

t.test('scrambled pages in the middle are found at open and moved aside', async (t) => {
  const { path, lastSeq } = usedBuffer(t);
  const fd = openSync(path, 'r+');
  const junk = Buffer.alloc(4096 * 3);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) & 0xff;
  writeSync(fd, junk, 0, junk.length, 4096 * 5);
  closeSync(fd);
  expectRecovered(t, path, lastSeq, /malformed|integrity|corrupt/i);
});

t.test("another program's SQLite file is not taken over", async (t) => {
  const path = join(tempDir(t), 'buffer.db');
  const other = new Database(path);
  other.exec("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me')");
  other.close();
  expectRecovered(t, path, undefined, /not a bwc-agent buffer/);
  const moved = readdirSync(join(path, '..')).find((f) => f.startsWith('buffer.db.corrupt-') && !f.endsWith('-wal'))!;
  const check = new Database(join(path, '..', moved), { readonly: true });
  t.same(check.prepare('SELECT x FROM notes').all(), [{ x: 'keep me' }], 'its content is untouched');
  check.close();
});

t.test('after a recovery the next start is normal: no loop', async (t) => {
  const { path } = usedBuffer(t, 10);
  writeFileSync(path, 'garbage'.repeat(1000));
  const a = SqliteMessageBuffer.open({ path, syncIntervalMs: 0 });
  t.ok(a.recovered);
  const s = a.append(fixes('CAM-2', 5));
  a.close();
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0 });
  t.teardown(() => b.close());
  t.equal(b.recovered, undefined);
  t.same(b.oldest({ limit: 10 }).map((m) => m.seq), s.map((m) => m.seq));
});

t.test('the database deleted (state file kept): seqs do not restart', async (t) => {
  const { path, lastSeq } = usedBuffer(t, 50);
  truncateSync(path, 0);
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0 });
  t.teardown(() => b.close());
  t.ok(b.append(fixes('CAM-1', 1))[0]!.seq > lastSeq);
});

t.test('the database and its state file both lost: a new epoch above the time floor, no seq repeats', async (t) => {
  // The old epoch began at the floor of an hour ago and handed out 3000 seqs.
  const hourAgo = Date.now() - 3_600_000;
  const path = join(tempDir(t), 'buffer.db');
  const a = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, seqFloor: () => timeSeqFloor(hourAgo) });
  const lastSeq = a.append(fixes('CAM-1', 3000)).at(-1)!.seq;
  a.close();
  for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-seq.json`]) rmSync(f, { force: true });
  const lines: string[] = [];
  const b = SqliteMessageBuffer.open({ path, syncIntervalMs: 0, log: { ...recordingLog(), info: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`) } });
  t.teardown(() => b.close());
  const next = b.append(fixes('CAM-1', 1))[0]!.seq;
  t.ok(next > lastSeq, `the new epoch's first seq ${next} is above the lost epoch's last ${lastSeq}`);
  t.ok(next - (lastSeq - 3000) >= SEQ_FLOOR_PER_S * 3600, 'an hour of floor lies between the two epochs');
  t.match(lines.join('\n'), /new seq epoch starts above the time floor.*CAM-1/, 'the new epoch is logged');
});

t.test('a folder that cannot be made is an error, not a move-aside', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), 'x');
  t.throws(() => SqliteMessageBuffer.open({ path: join(dir, 'file', 'buffer.db') }), { code: 'BUFFER_OPEN', message: /cannot create the folder/ });
  t.equal(readFileSync(join(dir, 'file'), 'utf8'), 'x');
});
