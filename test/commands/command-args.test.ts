import t from 'tap';
import { checkCommandArgs, describeArgs } from '../../agent/commands/command-args.js';
import { BlockReader } from '../../agent/media/block-reader.js';

t.test('clip fetch: a recording id can name no path', async (t) => {
  for (const id of ['../../etc/passwd', '/etc/passwd', 'a/b', '..', '.hidden', 'x\u0000y', 'a\\b', 'C:evil', 'a'.repeat(65)]) {
    t.match(checkCommandArgs('clipFetch', { recordingId: id }), /not a recording id/, `${JSON.stringify(id)} refused`);
  }
  t.equal(checkCommandArgs('clipFetch', { recordingId: 'YY00001_20261125021230_0001', offset: 5 }), undefined, 'a plain id');
  t.equal(checkCommandArgs('clipFetch', { recordingId: 'YY00001_20261125021230_0001.mjpeg' }), undefined, 'with an extension');
  t.match(checkCommandArgs('clipFetch', { recordingId: 'a', offset: -1 }), /offset/);
  t.match(checkCommandArgs('clipFetch', {}), /recording id or a time range/);
  t.match(checkCommandArgs('clipFetch', { range: { fromMs: 10, toMs: 5 } }), /time range/);
  t.equal(checkCommandArgs('clipFetch', { range: { fromMs: 5, toMs: 10 } }), undefined);
});

t.test('live feed, snapshot, tracking, cancel: out-of-range arguments are refused, not clamped', async (t) => {
  t.match(checkCommandArgs('liveFeed', { fps: 31 }), /fps/);
  t.match(checkCommandArgs('liveFeed', { durationS: 601 }), /duration/);
  t.equal(checkCommandArgs('liveFeed', { fps: 5, durationS: 10, quality: 50 }), undefined);
  t.equal(checkCommandArgs('liveFeed', {}), undefined, 'defaults');
  t.match(checkCommandArgs('snapshot', { quality: 101 }), /quality/);
  t.match(checkCommandArgs('temporaryTracking', { intervalS: 0, durationS: 10 }), /interval/);
  t.match(checkCommandArgs('cancel', { commandId: '../x/+' }), /command id/);
  t.equal(checkCommandArgs('viewerKeepalive', { commandId: 'c1-abc' }), undefined);
});

t.test('audit descriptions name what was asked', async (t) => {
  t.equal(describeArgs('clipFetch', { what: 'recordingId', recordingId: 'R1', offset: 1300480 }), 'clipFetch recordingId=R1 offset=1300480');
  t.equal(describeArgs('snapshot', { quality: 0 }), 'snapshot');
  t.equal(describeArgs('clipFetch', { range: { fromMs: 1, toMs: 2 } }), 'clipFetch range=1..2');
});

t.test('the block reader serves any range from large blocks, reads ahead one block, and retries a failed read', async (t) => {
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const reads: Array<[number, number]> = [];
  let failNext = false;
  const r = new BlockReader(async (o, l) => {
    reads.push([o, l]);
    if (failNext) {
      failNext = false;
      throw new Error('camera timeout');
    }
    return data.subarray(o, o + l);
  }, data.length, 1024);
  t.ok((await r.read(0, 300)).equals(data.subarray(0, 300)));
  await new Promise((res) => setImmediate(res));
  t.same(reads, [[0, 1024], [1024, 1024]], 'the first block, then the next ahead of need');
  t.ok((await r.read(900, 300)).equals(data.subarray(900, 1200)), 'a range across two blocks');
  t.ok((await r.read(4500, 1000)).equals(data.subarray(4500, 5000)), 'the end is short');
  const fresh = new BlockReader(async (o, l) => {
    if (failNext) {
      failNext = false;
      throw new Error('camera timeout');
    }
    return data.subarray(o, o + l);
  }, data.length, 1024);
  failNext = true;
  await t.rejects(fresh.read(2048, 10), /camera timeout/);
  t.ok((await fresh.read(2048, 10)).equals(data.subarray(2048, 2058)), 'a failed block is read again');
  const short = new BlockReader(async (o, l) => data.subarray(o, Math.min(o + l, 1500)), 3000, 1024);
  t.equal((await short.read(1000, 1000)).length, 500, 'a source shorter than announced gives a short read (the sender reports it)');
});
