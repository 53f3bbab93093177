import t from 'tap';
import { encodeFrame, Flag, FrameDecoder, type Frame } from '../../drivers/camera/frame-codec.js';
import {
  Msg, readAlert, readError, readIdentity, readLiveFrame, readNotification, readRecordings, readSettingsPayload, readStatus,
  writeAlert, writeError, writeIdentity, writeLiveFrame, writeNotification, writeRecording, writeSettingsPayload, writeStatus,
} from '../../drivers/camera/messages.js';
import { TlvReader, TlvWriter } from '../../drivers/camera/tlv.js';
import { BwcError } from '../../common/errors.js';
import { SeededRandom } from '../../sim/gnss/random.js';
import { IDENTITY } from './camera-rig.js';

/**
 * Mutated frames (seeded, so a failure repeats): the decoder never throws,
 * and every byte it is given ends up either in an accepted frame or counted
 * as discarded under a reason. Then mutated payloads inside valid frames:
 * the message readers either decode or raise CAMERA_BAD_PAYLOAD.
 */
const FRAMES = 100_000;
const rng = new SeededRandom(20261125);

function samplePayloads(): { type: number; flags: number; payload: Buffer }[] {
  const rec = { id: 'A1B2C3D_20261125021230_0001', startMs: 1_790_000_000_000, endMs: 1_790_000_060_000, size: 123456, sha256: 'ab'.repeat(32), officerNumber: '123456', trigger: 'sos' as const, contentType: 'video/x-mjpeg' };
  const jpegish = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 0xa5, 0x5a, 0xff, 0xd9]);
  return [
    { type: Msg.IDENTIFY, flags: Flag.RESPONSE, payload: writeIdentity(new TlvWriter(), IDENTITY).toBuffer() },
    { type: Msg.IDENTIFY, flags: Flag.RESPONSE | Flag.TEXT_GBK, payload: writeIdentity(new TlvWriter('gbk'), { ...IDENTITY, officerName: '张三', unitName: '执法局' }).toBuffer() },
    { type: Msg.STATUS, flags: Flag.RESPONSE, payload: writeStatus(new TlvWriter(), { recording: 'recording', batteryPct: 77, charging: false, storageTotal: 32e9, storageFree: 1e9, clockMs: 1_790_000_000_000 }).toBuffer() },
    { type: Msg.LIST_RECORDINGS, flags: Flag.RESPONSE, payload: writeRecording(writeRecording(new TlvWriter(), rec), { ...rec, id: 'X2' }).toBuffer() },
    { type: Msg.N_LIVE_FRAME, flags: Flag.NOTIFICATION, payload: writeLiveFrame(new TlvWriter(), { index: 3, timeMs: 1_790_000_000_000, jpeg: jpegish }).toBuffer() },
    { type: Msg.N_BATTERY, flags: Flag.NOTIFICATION, payload: writeNotification(new TlvWriter(), { type: 'battery', pct: 40, charging: true }).toBuffer() },
    { type: Msg.N_STORAGE, flags: Flag.NOTIFICATION, payload: writeNotification(new TlvWriter(), { type: 'storage', free: 5, total: 10 }).toBuffer() },
    { type: Msg.N_RECORDING, flags: Flag.NOTIFICATION, payload: writeNotification(new TlvWriter(), { type: 'recording', state: 'pre-record' }).toBuffer() },
    { type: Msg.WRITE_SETTINGS, flags: 0, payload: writeSettingsPayload(new TlvWriter(), { a: 1, b: 'x', c: true }).toBuffer() },
    { type: Msg.NOTIFY_OFFICER, flags: 0, payload: writeAlert(new TlvWriter(), 'vibrate', 500).toBuffer() },
    { type: Msg.STATUS, flags: Flag.RESPONSE | Flag.ERROR, payload: writeError(new TlvWriter(), 'BUSY', 'busy now').toBuffer() },
  ];
}

function mutate(src: Buffer): Buffer {
  let b = Buffer.from(src);
  const ops = rng.int(1, 3);
  for (let k = 0; k < ops; k++) {
    const op = rng.int(0, 6);
    const at = b.length ? rng.int(0, b.length - 1) : 0;
    switch (op) {
      case 0: if (b.length) b[at]! ^= 1 << rng.int(0, 7); break; // bit flip
      case 1: if (b.length) b[at] = rng.int(0, 255); break; // byte replaced
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.int(0, 255)]), b.subarray(at)]); break; // insert
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); break; // delete
      case 4: b = b.subarray(0, at); break; // truncate
      case 5: b = Buffer.concat([b.subarray(0, at), b.subarray(rng.int(0, Math.max(0, b.length - 1)))]); break; // splice/duplicate
      case 6: { const junk = Buffer.alloc(rng.int(1, 8)); for (let i = 0; i < junk.length; i++) junk[i] = rng.int(0, 255); b = Buffer.concat([junk, b]); break; }
    }
  }
  return b;
}

t.test(`${FRAMES} mutated frames: no exception, every byte accounted for`, async (t) => {
  const samples = samplePayloads().map((s) => encodeFrame({ ...s, requestId: rng.int(0, 0xffff) }));
  let accepted = 0, rejections = 0, discarded = 0, fed = 0, unaccounted = 0;
  const frames: Frame[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const input = mutate(samples[i % samples.length]!);
    const d = new FrameDecoder((f) => frames.push(f));
    // Fed in random pieces, as a serial port delivers them.
    for (let off = 0; off < input.length;) {
      const n = rng.int(1, 64);
      d.push(input.subarray(off, off + n));
      off += n;
    }
    d.end();
    fed += input.length;
    accepted += d.frames;
    rejections += d.rejections;
    discarded += d.discardedBytes;
    if (d.frameBytes + d.discardedBytes !== input.length) unaccounted++;
    if (d.discardedBytes > 0 && d.rejections === 0) unaccounted++;
    frames.length = 0;
  }
  t.equal(unaccounted, 0, 'every input byte is in a frame or discarded under a counted reason');
  t.ok(rejections > FRAMES * 0.9, `${rejections} rejections counted, ${accepted} frames survived, ${discarded} of ${fed} bytes discarded`);
});

t.test('one long stream of mutated and whole frames: every whole frame behind junk is recovered', async (t) => {
  // Whole frames carry request id 7, the mutated ones 9: a mutation cannot forge a 7 with valid CRCs.
  const whole = samplePayloads().map((s) => encodeFrame({ ...s, requestId: 7 }));
  const mutated = samplePayloads().map((s) => encodeFrame({ ...s, requestId: 9 }));
  let recovered = 0;
  const d = new FrameDecoder((f) => { if (f.requestId === 7) recovered++; });
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    d.push(mutate(mutated[i % mutated.length]!));
    d.push(whole[(i + 1) % whole.length]!);
  }
  d.end();
  t.equal(recovered, N, `${recovered} of ${N} whole frames recovered after ${d.rejections} rejections`);
});

t.test('mutated payloads in valid frames: readers decode or refuse with CAMERA_BAD_PAYLOAD', async (t) => {
  const samples = samplePayloads();
  const readers: Record<number, (r: TlvReader, type: number) => unknown> = {
    [Msg.IDENTIFY]: (r) => readIdentity(r),
    [Msg.STATUS]: (r) => readStatus(r),
    [Msg.LIST_RECORDINGS]: (r) => readRecordings(r),
    [Msg.N_LIVE_FRAME]: (r) => readLiveFrame(r),
    [Msg.WRITE_SETTINGS]: (r) => readSettingsPayload(r),
    [Msg.NOTIFY_OFFICER]: (r) => readAlert(r),
  };
  let ok = 0, refused = 0, other = 0;
  const otherErrors = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const s = samples[i % samples.length]!;
    const payload = mutate(s.payload);
    try {
      const r = new TlvReader(payload, s.flags & Flag.TEXT_GBK ? 'gbk' : 'utf8', 'fuzz');
      if (s.flags & Flag.ERROR) readError(r);
      else if (readers[s.type]) readers[s.type]!(r, s.type);
      else readNotification(s.type, r);
      ok++;
    } catch (err) {
      if (err instanceof BwcError && err.code === 'CAMERA_BAD_PAYLOAD') refused++;
      else {
        other++;
        otherErrors.add(String(err));
      }
    }
  }
  t.equal(other, 0, `only CAMERA_BAD_PAYLOAD escapes (${[...otherErrors].slice(0, 3).join('; ')})`);
  t.ok(refused > 0 && ok > 0, `${ok} decoded, ${refused} refused`);
});

t.test('the driver fed mutated notifications: keeps working, counts what it rejects', async (t) => {
  const { PassThrough, Writable, Duplex } = await import('node:stream');
  const { openReferenceCamera } = await import('../../drivers/camera/reference-driver.js');
  const incoming = new PassThrough();
  const link = Duplex.from({ readable: incoming, writable: new Writable({ write: (_c, _e, cb) => cb() }) });
  const driver = openReferenceCamera(link);
  t.teardown(() => driver.close());
  let notes = 0;
  driver.onNotification(() => notes++);
  const valid = encodeFrame({ type: Msg.N_BATTERY, flags: Flag.NOTIFICATION, requestId: 0, payload: writeNotification(new TlvWriter(), { type: 'battery', pct: 50, charging: false }).toBuffer() });
  const sos = samplePayloads().filter((s) => s.flags & Flag.NOTIFICATION).map((s) => encodeFrame({ ...s, requestId: 0 }));
  let sent = 0;
  for (let i = 0; i < 10_000; i++) {
    incoming.write(mutate(sos[i % sos.length]!));
    // A frame with good CRCs but a payload mutated into nonsense.
    const s = sos[i % sos.length]!;
    incoming.write(encodeFrame({ type: s[4]!, flags: Flag.NOTIFICATION, requestId: 0, payload: mutate(s.subarray(13, s.length - 4)) }));
    incoming.write(valid);
    sent++;
  }
  await new Promise((r) => setImmediate(r));
  const deadline = Date.now() + 30_000;
  while (notes < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const c = driver.counters;
  t.ok(notes >= sent, `${notes} notifications delivered (${sent} valid ones sent among the junk)`);
  t.ok(c['rejected.bad-payload']! > 0, `bad payloads counted: ${c['rejected.bad-payload']}`);
  t.ok(c['rejected.bad-crc']! + c['rejected.bad-header-crc']! + c['rejected.garbage']! > 0, 'framing rejections counted');
});
