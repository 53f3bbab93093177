import t from 'tap';
import { randomBytes } from 'node:crypto';
import { decodeMessage, encodeMessage, type HeaderData } from '../../protocol/codec.js';
import { encodeMediaChunk, type MediaChunkFields } from '../../protocol/media-chunk-codec.js';

const header: HeaderData = { deviceId: 'BWC-0001', seq: 1_790_000_000_123, session: 7, sentMs: 1_796_464_669_828 };
const unit = (n: number) => randomBytes(n);

/** Chunks as the live path sends them, and edges of every field. */
const cases: Array<[string, HeaderData, MediaChunkFields]> = [
  ['a keyframe in one chunk', header, {
    requestId: 'cmxa8oilk-8cc0e7777702', index: 0, offset: 0, last: true, contentType: 'video/h264', data: unit(40_000), sha256: unit(32),
    totalSize: 40_000, frame: 0, timeMs: 1_796_464_669_801, objectId: 'live', keyframe: true, codec: 'avc1.42C01F', width: 1280, height: 720, ptsUs: 0, fps: 25, gop: 0,
  }],
  ['the middle chunk of a large unit', header, {
    requestId: 'r', index: 1, offset: 65_024, last: false, contentType: 'video/h264', data: unit(65_024),
    totalSize: 200_000, frame: 123_456, timeMs: 1_796_464_669_801, objectId: 'live', keyframe: false, codec: 'avc1.64001F', width: 1920, height: 1080, ptsUs: 86_400_000_000, fps: 30, gop: 99_999,
  }],
  ['defaults left out: zeros, false, empty strings and bytes', { deviceId: 'd', seq: 0, session: 0, sentMs: 0, schema: 0 }, {
    requestId: '', index: 0, offset: 0, last: false, contentType: '', data: new Uint8Array(0), sha256: new Uint8Array(0), totalSize: 0, objectId: '',
  }],
  ['numbers past 32 bits and varint edges', { deviceId: 'x'.repeat(127), seq: Number.MAX_SAFE_INTEGER, session: 0xffffffff, sentMs: 2 ** 32, schema: 128 }, {
    requestId: 'q', index: 127, offset: 2 ** 35 + 1, last: true, contentType: 'video/h264', data: unit(127), sha256: unit(32),
    totalSize: 2 ** 40, frame: 0xffffffff, timeMs: 2 ** 53 - 1, objectId: 'live', keyframe: true, codec: 'avc1', width: 16_383, height: 16_384, ptsUs: 2 ** 49, fps: 1, gop: 2 ** 21,
  }],
];

t.test('live chunks: the same bytes as the general encoder, and they decode', async (t) => {
  for (const [name, h, c] of cases) {
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c)) if (v !== undefined) body[k] = v;
    const want = Buffer.from(encodeMessage('MediaChunk', h, body));
    const got = encodeMediaChunk(h, c);
    t.ok(got.equals(want), `${name}: ${got.length} bytes, as encodeMessage`);
    const back = decodeMessage<Record<string, any>>('MediaChunk', got);
    t.equal(Buffer.from(back.data).equals(Buffer.from(c.data)), true, `${name}: data decodes`);
    t.equal(back.offset, c.offset);
    t.equal(back.header?.seq, h.seq);
  }
});

t.test('outside the plain case the general encoder answers, checks included', async (t) => {
  const base = cases[0]![2];
  const odd = encodeMediaChunk(header, { ...base, objectId: 'live-直播' });
  t.ok(odd.equals(Buffer.from(encodeMessage('MediaChunk', header, { ...base, objectId: 'live-直播' }))), 'a non-ASCII string: the same bytes');
  t.throws(() => encodeMediaChunk(header, { ...base, timeMs: -1 - 2 ** 60 }), /timeMs/, 'a number out of range is refused with the field named');
  t.throws(() => encodeMediaChunk(header, { ...base, index: 1.5 }), /index/);
  t.throws(() => encodeMediaChunk({ ...header, deviceId: '' }, base), /deviceId/);
});
