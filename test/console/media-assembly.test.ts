import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileAssembler, ObjectAssembler, ReceivedRanges } from '../../console/spot-check/media-assembly.js';
import type { MediaChunkMessage } from '../../console/spot-check/command-link.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest();

function chunks(data: Buffer, size: number, from = 0): MediaChunkMessage[] {
  const out: MediaChunkMessage[] = [];
  for (let at = from, i = 0; at < data.length; at += size, i++) {
    const last = at + size >= data.length;
    out.push({ requestId: 'r', index: i, offset: at, last, contentType: 'image/jpeg', data: data.subarray(at, at + size), ...(last ? { sha256: sha(data) } : {}), totalSize: data.length, frame: 7, timeMs: 1000, objectId: 'o' });
  }
  return out;
}

t.test('received ranges merge, count once, and give the contiguous prefix', async (t) => {
  const r = new ReceivedRanges();
  r.add(100, 200);
  t.equal(r.contiguous, 0, 'a hole at 0');
  r.add(0, 50);
  t.equal(r.contiguous, 50);
  r.add(50, 100);
  t.same(r.ranges, [[0, 200]], 'adjacent ranges merge');
  r.add(150, 180);
  t.equal(r.total, 200, 'a duplicate counts once');
  r.add(300, 400);
  r.add(190, 310);
  t.same(r.ranges, [[0, 400]], 'a range bridging two merges all three');
  r.add(500, 500);
  t.same(r.ranges, [[0, 400]], 'an empty range changes nothing');
});

t.test('an object assembles from chunks in any order, duplicates included, only when whole', async (t) => {
  const data = randomBytes(200_000);
  const cs = chunks(data, 65_000);
  const a = new ObjectAssembler();
  t.equal(a.add(cs[3]!), undefined, 'the last chunk alone is not the object');
  t.equal(a.add(cs[1]!), undefined);
  t.equal(a.add(cs[1]!), undefined, 'a duplicate');
  t.equal(a.add(cs[2]!), undefined);
  const obj = a.add(cs[0]!);
  t.ok(obj, 'whole once every byte is in');
  t.ok(obj!.data.equals(data), 'the bytes');
  t.equal(obj!.sha256, sha(data).toString('hex'));
  t.equal(obj!.announced, obj!.sha256, 'the last chunk announced the same hash');
  t.equal(obj!.frame, 7);
  const bad = new ObjectAssembler();
  const altered = chunks(data, 65_000);
  altered[1] = { ...altered[1]!, data: Buffer.alloc(altered[1]!.data.length) };
  let got;
  for (const c of altered) got = bad.add(c) ?? got;
  t.not(got!.sha256, got!.announced, 'altered bytes do not match the announced hash');
  t.throws(() => new ObjectAssembler().add({ ...cs[0]!, offset: -1 }), { code: 'BAD_CHUNK' });
});

t.test('a file resumes from an offset and hashes the whole', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-asm-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = randomBytes(1_000_000);
  const f = new FileAssembler(join(dir, 'clip.part'), data.length);
  const first = chunks(data, 64_000).slice(0, 5);
  for (const c of first) f.add(c);
  t.equal(f.ranges.contiguous, 320_000, 'where a resume starts');
  t.notOk(f.complete);
  // The resumed transfer starts at that offset; one chunk of the first also arrives late (QoS 1 redelivery).
  for (const c of chunks(data, 64_000, 320_000)) f.add(c);
  f.add(first[2]!);
  t.ok(f.complete && f.lastSeen);
  t.equal(f.hash(), sha(data).toString('hex'), 'the whole file hashes as the original');
  t.equal(f.announced, sha(data).toString('hex'));
  t.throws(() => f.add({ ...first[0]!, offset: data.length - 10 }), { code: 'BAD_CHUNK' }, 'a chunk past the end is refused');
  f.close();
  t.ok(readFileSync(join(dir, 'clip.part')).equals(data));
});
