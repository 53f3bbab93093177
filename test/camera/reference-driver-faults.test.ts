import t from 'tap';
import { openReferenceCamera } from '../../drivers/camera/reference-driver.js';
import { isBwcError } from '../../common/errors.js';
import { waitFor } from './camera-driver.contract.js';
import { IDENTITY, openPort, openRig } from './camera-rig.js';

// Faults of the simulated camera, seen through the reference driver on a real pty.

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isBwcError(err) ? err.code : `not a BwcError: ${String(err)}`;
  }
}

t.test('an unplug closes the driver and abandons waiting requests', async (t) => {
  const rig = await openRig(t, { faults: ['silent'] }, { timeoutMs: 3000 });
  const reasons: string[] = [];
  rig.driver.onClose((r) => reasons.push(r));
  const pending = codeOf(rig.driver.status());
  await rig.pair.close();
  // serialport may miss a pty hang-up (its reader retries zero-byte reads), so the
  // waiting request ends closed or timed out; the next write then fails for sure.
  t.match(await pending, /^CAMERA_(CLOSED|TIMEOUT)$/, 'the waiting request ends');
  t.equal(await codeOf(rig.driver.identify()), 'CAMERA_CLOSED', 'the next request fails as closed');
  await waitFor('onClose', () => reasons.length > 0);
  t.equal(reasons.length, 1, 'onClose once');
  t.equal(rig.host.isOpen, false, 'the driver let go of the port');
});

t.test('slow answers time out, and the late answer is counted, not mistaken', async (t) => {
  const rig = await openRig(t, { faults: ['slow'], faultOptions: { slowMs: 1500 } }, { timeoutMs: 200 });
  t.equal(await codeOf(rig.driver.status()), 'CAMERA_TIMEOUT');
  t.equal(rig.driver.counters.timeouts, 1, 'one timeout counted');
  await waitFor('the late answer', () => rig.driver.counters['rejected.unmatched-response']! >= 1);
  t.pass('late answer counted as unmatched');
});

t.test('a patient driver gets slow answers', async (t) => {
  const rig = await openRig(t, { faults: ['slow'], faultOptions: { slowMs: 500 } }, { timeoutMs: 20_000 });
  t.same(await rig.driver.identify(), IDENTITY);
});

t.test('a silent camera: every request times out', async (t) => {
  const rig = await openRig(t, { faults: ['silent'] }, { timeoutMs: 300 });
  const codes = await Promise.all([rig.driver.status(), rig.driver.identify(), rig.driver.readClock()].map(codeOf));
  t.same(codes, ['CAMERA_TIMEOUT', 'CAMERA_TIMEOUT', 'CAMERA_TIMEOUT']);
  t.equal(rig.driver.counters.timeouts, 3);
});

t.test('a camera that dies mid-reply: the cut frame is dropped and counted; after a replug it answers', async (t) => {
  const rig = await openRig(t, { faults: ['die-mid-reply'], faultOptions: { dieAfterReplies: 1 } }, { timeoutMs: 500 });
  t.same(await rig.driver.identify(), IDENTITY, 'the first answer is whole');
  t.equal(await codeOf(rig.driver.status()), 'CAMERA_TIMEOUT', 'the cut answer never completes');
  t.equal(await codeOf(rig.driver.status()), 'CAMERA_TIMEOUT', 'a dead camera stays silent');
  await rig.driver.close();
  t.equal(rig.driver.counters['rejected.truncated'], 1, 'the half frame is counted as truncated when the link ends');
  // Replug: the camera reboots on a new link (it is still the same pty pair).
  const host = await openPort(rig.pair.hostSide);
  host.on('error', () => {});
  rig.sim.serve(rig.camera);
  const driver = openReferenceCamera(host, { timeoutMs: 10_000 });
  t.teardown(() => driver.close());
  t.equal((await driver.status()).recording, 'off', 'answers again after the replug');
});

t.test('garbage between frames: every answer still arrives, garbage counted', async (t) => {
  const rig = await openRig(t, { faults: ['garbage'], faultOptions: { garbageRate: 0.8 } });
  for (let i = 0; i < 40; i++) t.equal((await rig.driver.status()).recording, 'off', `status ${i}`);
  const c = rig.driver.counters;
  t.ok(c['rejected.garbage']! > 0, `garbage runs counted: ${c['rejected.garbage']}`);
  t.ok(c.discardedBytes! > 0, `discarded bytes: ${c.discardedBytes}`);
  t.equal(c.timeouts, 0, 'no answer lost');
});

t.test('bad checksums: the corrupt answers are dropped, counted, and time out; the rest arrive', async (t) => {
  const rig = await openRig(t, { faults: ['bad-checksum'], faultOptions: { badChecksumRate: 0.3 } }, { timeoutMs: 400 });
  let ok = 0, timedOut = 0;
  for (let i = 0; i < 40; i++) {
    const code = await codeOf(rig.driver.readClock());
    if (code === 'ok') ok++;
    else if (code === 'CAMERA_TIMEOUT') timedOut++;
    else t.fail(`unexpected ${code}`);
  }
  t.ok(ok > 0 && timedOut > 0, `${ok} answered, ${timedOut} timed out`);
  t.equal(rig.driver.counters['rejected.bad-crc'], timedOut, 'each lost answer is one bad CRC');
});

t.test('clock drift: the camera clock is off, and setting it brings it back', async (t) => {
  const rig = await openRig(t, { faults: ['clock-drift'], faultOptions: { clockOffsetMs: 37_000, driftPpm: 2000 } });
  const off = (await rig.driver.readClock()) - Date.now();
  t.ok(off > 30_000, `camera clock ${off} ms ahead`);
  await rig.driver.setClock(Date.now());
  const after = (await rig.driver.readClock()) - Date.now();
  t.ok(Math.abs(after) < 5_000, `after setting, ${after} ms off`);
});

t.test('GBK names: a GBK camera is read right, and a GBK driver binds in GBK', async (t) => {
  const identity = { ...IDENTITY, officerName: '张三', unitName: '余姚市综合行政执法局' };
  const rig = await openRig(t, { identity, textEncoding: 'gbk' }, { textEncoding: 'gbk' });
  t.same(await rig.driver.identify(), identity);
  const b = { officerNumber: '654321', officerName: '欧阳娜娜', unitNumber: '330281000009', unitName: '城管二中队' };
  await rig.driver.bindOfficer(b);
  t.same(rig.sim.identity, { ...identity, ...b }, 'the camera stored the names right');
  t.equal(await codeOf(rig.driver.bindOfficer({ ...b, officerName: 'Ann 😀' })), 'CAMERA_BAD_ARGUMENT', 'text GBK cannot hold is refused');
});

t.test('a camera given a bad identity is refused at once', async (t) => {
  const rig = await openRig(t);
  const { SimCamera } = await import('../../sim/camera/sim-camera.js');
  t.throws(() => new SimCamera({ deviceId: 'X', identity: { ...IDENTITY, serial: 'TOO-LONG-SERIAL' }, footageDir: rig.footageDir, seed: 1 }), { code: 'CAMERA_BAD_ARGUMENT' });
});

t.test('a clip longer than one read comes in several pipelined reads, byte-exact', async (t) => {
  const { createHash, randomBytes } = await import('node:crypto');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { serializeManifest } = await import('../../drivers/camera/footage-manifest.js');
  const rig = await openRig(t);
  const media = randomBytes(1_000_003);
  const sha256 = createHash('sha256').update(media).digest('hex');
  writeFileSync(join(rig.footageDir, 'BIG_0001.mjpeg'), media);
  writeFileSync(join(rig.footageDir, 'BIG_0001.json'), serializeManifest({ id: 'BIG_0001', startMs: 1, endMs: 2, size: media.length, sha256, officerNumber: '123456', trigger: 'remote', contentType: 'video/x-mjpeg', file: 'BIG_0001.mjpeg' }));
  const [rec] = await rig.driver.listRecordings();
  t.equal(rec!.id, 'BIG_0001');
  const whole = await rig.driver.readClip('BIG_0001', 0, 2_000_000);
  t.equal(whole.length, media.length, 'read to the end, no further');
  t.equal(createHash('sha256').update(whole).digest('hex'), sha256, 'SHA-256 matches');
  const mid = await rig.driver.readClip('BIG_0001', 300_000, 500_000);
  t.ok(mid.equals(media.subarray(300_000, 800_000)), 'a range across read boundaries');
  t.equal(rig.driver.counters.timeouts, 0);
});
