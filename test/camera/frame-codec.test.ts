import t from 'tap';
import { crc16Ccitt, crc32 } from '../../drivers/camera/crc.js';
import { encodeFrame, Flag, FrameDecoder, MAX_PAYLOAD, type Frame } from '../../drivers/camera/frame-codec.js';
import { TlvReader, TlvWriter } from '../../drivers/camera/tlv.js';
import { isBwcError } from '../../common/errors.js';

function collect(maxPayload?: number): { d: FrameDecoder; frames: Frame[] } {
  const frames: Frame[] = [];
  return { d: new FrameDecoder((f) => frames.push({ ...f, payload: Buffer.from(f.payload) }), maxPayload), frames };
}

const f1: Frame = { type: 0x02, flags: 0, requestId: 1, payload: Buffer.alloc(0) };
const f2: Frame = { type: 0x06, flags: Flag.RESPONSE | Flag.TEXT_GBK, requestId: 65535, payload: Buffer.from('hello, camera') };

t.test('CRC check values of the catalogue', async (t) => {
  const s = Buffer.from('123456789');
  t.equal(crc16Ccitt(s), 0x29b1, 'CRC-16/CCITT-FALSE');
  t.equal(crc32(s), 0xcbf43926, 'CRC-32');
});

t.test('frames round-trip, whole or byte by byte', async (t) => {
  const bytes = Buffer.concat([encodeFrame(f1), encodeFrame(f2)]);
  t.equal(bytes.length, 17 + 17 + f2.payload.length, '17 bytes of overhead per frame');
  const a = collect();
  a.d.push(bytes);
  t.same(a.frames, [f1, f2]);
  const b = collect();
  for (const byte of bytes) b.d.push(Buffer.from([byte]));
  t.same(b.frames, [f1, f2]);
  t.equal(b.d.rejections, 0, 'nothing rejected');
});

t.test('garbage before, between and after frames is skipped and counted', async (t) => {
  const { d, frames } = collect();
  const junk = Buffer.from([0x00, 0xa5, 0x13, 0xa5, 0x5a, 0x01, 0xff]);
  d.push(Buffer.concat([junk, encodeFrame(f1), junk, encodeFrame(f2), Buffer.from([1, 2, 3])]));
  d.end();
  t.same(frames, [f1, f2]);
  t.ok(d.counters.garbage + d.counters['bad-header-crc'] >= 2, `rejections counted: ${JSON.stringify(d.counters)}`);
  t.equal(d.discardedBytes + d.frameBytes, 2 * junk.length + encodeFrame(f1).length + encodeFrame(f2).length + 3, 'every byte is in a frame or counted as discarded');
});

t.test('a bad payload checksum loses that frame only', async (t) => {
  const { d, frames } = collect();
  const bad = encodeFrame(f2);
  bad[bad.length - 1]! ^= 0x40;
  d.push(Buffer.concat([bad, encodeFrame(f1)]));
  t.same(frames, [f1]);
  t.equal(d.counters['bad-crc'], 1);
});

t.test('a cut-off frame followed by a whole one: the whole one is found', async (t) => {
  const { d, frames } = collect();
  const cut = encodeFrame(f2).subarray(0, 20);
  d.push(Buffer.concat([cut, encodeFrame(f1), encodeFrame(f1)]));
  t.same(frames, [f1, f1], 'resynchronised on the next frame');
  t.ok(d.rejections >= 1);
});

t.test('an oversized length is refused at once, not waited for', async (t) => {
  const { d, frames } = collect(1000);
  const big = encodeFrame({ ...f1, payload: Buffer.alloc(2000) }, MAX_PAYLOAD);
  d.push(big.subarray(0, 13)); // header only
  t.equal(d.counters['too-long'], 1, 'refused on the header alone');
  d.push(encodeFrame(f1));
  t.same(frames.at(-1), f1, 'the next frame is read');
  t.throws(() => encodeFrame({ ...f1, payload: Buffer.alloc(MAX_PAYLOAD + 1) }), { code: 'CAMERA_FRAME_TOO_LARGE' });
});

t.test('unknown version and flags are refused', async (t) => {
  const { d, frames } = collect();
  const v2 = encodeFrame(f1);
  v2[2] = 2;
  v2.writeUInt16BE(crc16Ccitt(v2, 0, 11), 11);
  const flags = encodeFrame(f1);
  flags[3] = 0x80;
  flags.writeUInt16BE(crc16Ccitt(flags, 0, 11), 11);
  d.push(Buffer.concat([v2, flags]));
  d.end();
  t.same(frames, []);
  t.equal(d.counters['bad-version'], 1);
  t.equal(d.counters['bad-flags'], 1);
});

t.test('TLV fields: typed, bounded, unknown tags skipped', async (t) => {
  const w = new TlvWriter('gbk').u8(1, 7).u32(2, 0xdeadbeef).i64(3, 1_790_000_000_123).str(4, '王伟').bool(5, true).raw(99, Buffer.from('future'));
  const r = new TlvReader(w.toBuffer(), 'gbk', 'test');
  t.equal(r.u8(1, 'a'), 7);
  t.equal(r.u32(2, 'b'), 0xdeadbeef);
  t.equal(r.i64(3, 'c'), 1_790_000_000_123);
  t.equal(r.str(4, 'd'), '王伟');
  t.equal(r.bool(5, 'e'), true);
  t.throws(() => r.u32(1, 'a as u32'), { code: 'CAMERA_BAD_PAYLOAD' });
  t.throws(() => r.str(42, 'missing'), /missing missing/);
  t.throws(() => new TlvReader(Buffer.from([1, 0, 0, 0, 9, 1]), 'utf8', 'cut'), { code: 'CAMERA_BAD_PAYLOAD' });
  try {
    new TlvReader(new TlvWriter().raw(4, Buffer.from([0xff, 0xfe])).toBuffer(), 'utf8', 'bad utf8').str(4, 'name');
    t.fail('invalid UTF-8 accepted');
  } catch (err) {
    t.ok(isBwcError(err, 'CAMERA_BAD_PAYLOAD'), 'invalid UTF-8 refused');
  }
});
