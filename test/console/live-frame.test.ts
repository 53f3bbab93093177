import t from 'tap';
import { decodeFrame, encodeFrame, type FrameHeader } from '../../console/fleet/live-frame.js';

t.test('a live frame survives the WebSocket framing: header and bytes as sent, the length prefix big-endian', async (t) => {
  const h: FrameHeader = { type: 'frame', live: 'L1', device: 'BWC-0001', frame: 7, contentType: 'video/h264', timeMs: 1_764_000_000_123, keyframe: true, codec: 'avc1.42E01E', ptsUs: 280_000, width: 640, height: 360, sha256Ok: true };
  const data = Uint8Array.from([0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0xff]);
  const msg = encodeFrame(h, data);
  const headLength = Buffer.byteLength(JSON.stringify(h));
  t.equal(msg.length, 4 + headLength + data.length, 'length prefix, JSON header, frame: nothing else');
  t.equal(Buffer.from(msg).readUInt32BE(0), headLength, 'the prefix is the header length, big-endian');
  // A browser gets the message as an ArrayBuffer of its own, at offset 0.
  const got = decodeFrame(msg.slice().buffer);
  t.same(got.h, h);
  t.same([...got.data], [...data]);

  const empty = decodeFrame(encodeFrame({ ...h, keyframe: false }, new Uint8Array(0)).buffer as ArrayBuffer);
  t.equal(empty.data.length, 0, 'an empty frame stays empty');
  t.equal(empty.h.keyframe, false);
});
