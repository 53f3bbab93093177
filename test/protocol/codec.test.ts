import t from 'tap';
import { decodeHeader, decodeMessage, encodeBody, encodeMessage, withHeader } from '../../protocol/codec.js';
import { frameDelimited, splitDelimited } from '../../protocol/delimited-codec.js';
import { isBwcError } from '../../common/errors.js';
import { SCHEMA_VERSION } from '../../protocol/schema.js';
import { Rng } from './track-gen.js';
import { MESSAGE_CASES } from './vector-cases.js';

const header = { deviceId: 'BWC-0007', seq: 9_007_199_254_740, session: 4_000_000_000, sentMs: 1795572750200 };

t.test('header + stored body is one message: withHeader never re-encodes the body', async (t) => {
  for (const c of MESSAGE_CASES) {
    const body = encodeBody(c.type, c.body);
    const whole = withHeader(c.header, body);
    t.same(Buffer.from(whole), Buffer.from(encodeMessage(c.type, c.header, c.body)), c.name);
    t.same(Buffer.from(whole.subarray(whole.length - body.length)), Buffer.from(body), `${c.name}: the body bytes are carried as they are`);
    t.same(decodeHeader(whole), c.header, `${c.name}: header alone`);
  }
});

t.test('64-bit integers come back as numbers, schema defaults to SCHEMA_VERSION', async (t) => {
  const msg = decodeMessage('Status', encodeMessage('Status', header, { storageTotalBytes: 2 ** 40 + 3, counters: { fixesIn: 2 ** 52 } }));
  t.same(msg.header, { ...header, schema: SCHEMA_VERSION });
  t.equal(msg.storageTotalBytes, 2 ** 40 + 3);
  t.equal(typeof msg.storageTotalBytes, 'number');
  t.equal(msg.counters.fixesIn, 2 ** 52);
  t.equal(msg.recording, 'RECORDING_STATE_UNKNOWN', 'enums as names; proto3 defaults listed');
  t.equal(msg.charging, false);
  t.notOk('clocks' in msg, 'an absent sub-message stays absent');
});

t.test('a body without a header decodes without one', async (t) => {
  const msg = decodeMessage('Event', encodeBody('Event', { type: 'EVENT_TYPE_TAMPER', timeMs: 5 }));
  t.equal(msg.header, undefined);
  t.equal(msg.type, 'EVENT_TYPE_TAMPER');
  t.equal(decodeHeader(encodeBody('Event', { type: 3 })), undefined);
});

t.test('wrong bodies are refused with the field named, never silently zeroed', async (t) => {
  const cases: [string, object, RegExp][] = [
    ['Status', { batteryPct: 'full' }, /Status\.batteryPct must be an integer/],
    ['Status', { batteryPct: -1 }, /Status\.batteryPct must be an integer from 0/],
    ['Status', { battery: 50 }, /unknown field "battery"/],
    ['Status', { recording: 'RECORDING_STATE_MAYBE' }, /Status\.recording must be one of/],
    ['Status', { gnss: { sats: [{ used: 1.5 }] } }, /Status\.gnss\.sats\[0\]\.used/],
    ['Status', { gnss: { sats: 'x' } }, /Status\.gnss\.sats must be an array/],
    ['Status', { charging: 1 }, /charging must be a boolean/],
    ['MediaChunk', { data: 42 }, /data must be bytes/],
    ['Event', { header }, /pass the header to withHeader/],
    ['NoSuchType', {}, /unknown message type/],
  ];
  for (const [type, body, re] of cases) {
    try {
      encodeBody(type, body);
      t.fail(`${type} ${JSON.stringify(body)} was accepted`);
    } catch (err) {
      t.ok(isBwcError(err, 'BAD_MESSAGE'), `${JSON.stringify(body)}: BAD_MESSAGE`);
      t.match((err as Error).message, re);
    }
  }
  t.throws(() => encodeMessage('CommandEnvelope', header, {}), /has no header/);
  t.throws(() => withHeader({ ...header, seq: -1 }, new Uint8Array()), /Header\.seq/);
  t.throws(() => withHeader({ ...header, deviceId: '' }, new Uint8Array()), /deviceId/);
});

t.test('a cut inside any field of a message is refused with BAD_MESSAGE', async (t) => {
  for (const c of MESSAGE_CASES) {
    const bytes = encodeMessage(c.type, c.header, c.body);
    const headerLen = 2 + bytes[1]!;
    // Every cut inside the header field (its length says more bytes follow).
    for (let len = 1; len < headerLen; len++) {
      t.throws(() => decodeMessage(c.type, bytes.subarray(0, len)), { code: 'BAD_MESSAGE' }, `${c.name} cut at ${len}`);
    }
    // One byte short of the whole: the last field is cut.
    t.throws(() => decodeMessage(c.type, bytes.subarray(0, bytes.length - 1)), { code: 'BAD_MESSAGE' }, `${c.name} minus its last byte`);
  }
});

t.test('a known field with the wrong wire type is refused, not read as something else', async (t) => {
  // Status.battery_pct (3, uint32) sent as length-delimited: protobufjs alone would read a number from it.
  t.throws(() => decodeMessage('Status', Uint8Array.from([0x1a, 0x02, 0x10, 0x01])), /Status\.batteryPct: wire type 2 where 0 belongs, at byte 0/);
  // Inside a sub-message: Header.seq (2, uint64) as fixed32.
  t.throws(() => decodeMessage('Event', Uint8Array.from([0x0a, 0x05, 0x15, 1, 2, 3, 4])), /Event\.header\.seq: wire type 5/);
  t.throws(() => decodeMessage('Event', Uint8Array.from([0x00, 0x01])), /field number 0/);
  // Unknown fields of any wire type are skipped: a newer sender may add them.
  const known = encodeMessage('Event', header, { type: 'EVENT_TYPE_SOS' });
  const withUnknown = Buffer.concat([Buffer.from(known), Buffer.from([0xf8, 0x07, 0x05, 0xfa, 0x07, 0x01, 0x41])]);
  t.equal(decodeMessage('Event', withUnknown).type, 'EVENT_TYPE_SOS');
});

t.test('random garbage to every type: BAD_MESSAGE or a message, never another error', async (t) => {
  const rng = new Rng(808);
  const types = ['TrackBatch', 'Status', 'Event', 'AgentState', 'CommandEnvelope', 'CommandBody', 'Reply', 'MediaChunk', 'Header'];
  let refused = 0;
  for (let i = 0; i < 20000; i++) {
    const bytes = new Uint8Array(rng.int(1, 80)).map(() => rng.int(0, 255));
    const type = types[i % types.length]!;
    try {
      decodeMessage(type, bytes);
      decodeHeader(bytes);
    } catch (err) {
      if (!isBwcError(err, 'BAD_MESSAGE')) {
        t.fail(`${type} ${Buffer.from(bytes).toString('hex')}: ${String(err)}`);
        return;
      }
      refused++;
    }
  }
  t.ok(refused > 10000, `${refused} of 20000 refused`);
});

t.test('length-delimited streams split back, and a cut stream names the byte', async (t) => {
  const msgs = [new Uint8Array(3).fill(1), new Uint8Array(200).fill(2), new Uint8Array(0), new Uint8Array(20000).fill(3)];
  const stream = frameDelimited(msgs);
  const parts = splitDelimited(stream);
  t.same(parts.map((p) => p.bytes.length), [3, 200, 0, 20000]);
  t.same(parts.map((p) => p.offset), [1, 6, 207, 210]);
  t.throws(() => splitDelimited(stream.subarray(0, 5)), /at byte 4: truncated length prefix/);
  t.throws(() => splitDelimited(stream.subarray(0, 7)), /at byte 4: message of 200 bytes but only 1 left \(truncated input\)/);
  t.throws(() => splitDelimited(stream.subarray(0, 209)), /at byte 207: truncated length prefix/);
  t.throws(() => splitDelimited(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), /longer than 5 bytes/);
});
