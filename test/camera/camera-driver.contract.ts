import { createHash } from 'node:crypto';
import t from 'tap';
import jpeg from 'jpeg-js';
import type { CameraDriver, CameraIdentity, CameraNotification, LiveFrame, RecordingState, SettingValue } from '../../drivers/camera/camera-driver.js';
import { isBwcError } from '../../common/errors.js';
import { loadScaled } from '../helpers/deadline.js';

/**
 * The contract every CameraDriver must keep, as one suite run against each
 * implementation (after MQTT.js test/node/abstract_store.ts). A harness
 * gives the driver under test plus the hands of a person holding the camera
 * (press SOS, start recording) and what the camera itself saw (alerts,
 * settings), so the suite checks both ends.
 */
export interface CameraHarness {
  driver: CameraDriver;
  /** What the camera holds before the test touches it. */
  identity: CameraIdentity;
  setRecording(s: RecordingState): void;
  pressSos(): void;
  tamper(): void;
  /** Officer alerts the camera received. */
  alerts(): { kind: string; durationMs?: number }[];
  /** Settings the camera received. */
  settings(): Record<string, SettingValue>;
}

type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + loadScaled(timeoutMs);
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function rejectsWith(t: Tap, p: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: expected ${code}, but it succeeded`);
  } catch (err) {
    t.ok(isBwcError(err, code), `${what}: ${code} (got ${(err as { code?: string }).code}: ${(err as Error).message})`);
  }
}

export function cameraDriverContract(name: string, make: (t: Tap) => Promise<CameraHarness>): void {
  t.test(`${name}: identity as the camera holds it`, async (t) => {
    const h = await make(t);
    t.same(await h.driver.identify(), h.identity);
  });

  t.test(`${name}: status follows the camera`, async (t) => {
    const h = await make(t);
    h.setRecording('off');
    const s0 = await h.driver.status();
    t.equal(s0.recording, 'off');
    t.ok(s0.batteryPct !== undefined && s0.batteryPct >= 0 && s0.batteryPct <= 100, `battery ${s0.batteryPct}% in 0..100`);
    t.ok(s0.storageTotal !== undefined && s0.storageFree !== undefined && s0.storageFree <= s0.storageTotal, 'storage free <= total');
    h.setRecording('pre-record');
    t.equal((await h.driver.status()).recording, 'pre-record');
    h.setRecording('recording');
    t.equal((await h.driver.status()).recording, 'recording');
    h.setRecording('off');
  });

  t.test(`${name}: clock read and set`, async (t) => {
    const h = await make(t);
    const target = Date.UTC(2027, 0, 2, 3, 4, 5, 678);
    const before = Date.now();
    await h.driver.setClock(target);
    const read = await h.driver.readClock();
    const elapsed = Date.now() - before;
    t.ok(read >= target - 50 && read <= target + elapsed + 1000, `clock ${read - target} ms after the set time (host elapsed ${elapsed} ms)`);
    await rejectsWith(t, h.driver.setClock(Number.NaN), 'CAMERA_BAD_ARGUMENT', 'NaN clock');
  });

  t.test(`${name}: bind an officer, names in Chinese`, async (t) => {
    const h = await make(t);
    const b = { officerNumber: '310125', officerName: '王建国', unitNumber: '330281000000', unitName: '余姚市综合行政执法局' };
    await h.driver.bindOfficer(b);
    t.same(await h.driver.identify(), { ...h.identity, ...b });
    await rejectsWith(t, h.driver.bindOfficer({ ...b, officerNumber: '31012' }), 'CAMERA_BAD_ARGUMENT', '5-digit officer number');
    await rejectsWith(t, h.driver.bindOfficer({ ...b, unitNumber: '33028100000' }), 'CAMERA_BAD_ARGUMENT', '11-character unit number');
    await rejectsWith(t, h.driver.bindOfficer({ ...b, officerName: '' }), 'CAMERA_BAD_ARGUMENT', 'empty name');
    t.same(await h.driver.identify(), { ...h.identity, ...b }, 'refused bindings changed nothing');
  });

  t.test(`${name}: notifications for recording, SOS and tamper`, async (t) => {
    const h = await make(t);
    h.setRecording('off');
    await h.driver.status(); // the camera is settled before we listen
    const seen: CameraNotification[] = [];
    h.driver.onNotification((n) => seen.push(n));
    h.setRecording('recording');
    await waitFor('recording notification', () => seen.some((n) => n.type === 'recording' && n.state === 'recording'));
    h.setRecording('off');
    await waitFor('recording off notification', () => seen.some((n) => n.type === 'recording' && n.state === 'off'));
    h.pressSos();
    await waitFor('sos notification', () => seen.some((n) => n.type === 'sos'));
    h.tamper();
    await waitFor('tamper notification', () => seen.some((n) => n.type === 'tamper'));
    t.pass('recording, SOS and tamper notifications arrived');
    h.setRecording('off');
  });

  t.test(`${name}: snapshot is a JPEG`, async (t) => {
    const h = await make(t);
    const img = await h.driver.snapshot({ quality: 50 });
    const decoded = jpeg.decode(img);
    t.ok(decoded.width >= 160 && decoded.height >= 120, `decodes as ${decoded.width}x${decoded.height}`);
    await rejectsWith(t, h.driver.snapshot({ quality: 0 }), 'CAMERA_BAD_ARGUMENT', 'quality 0');
  });

  t.test(`${name}: live frames start and stop`, async (t) => {
    const h = await make(t);
    const frames: LiveFrame[] = [];
    await h.driver.startLive({ fps: 10, quality: 30 }, (f) => frames.push(f));
    await waitFor('5 live frames', () => frames.length >= 5);
    await h.driver.stopLive();
    const n = frames.length;
    await h.driver.status(); // answered after the stop was handled
    await h.driver.status();
    t.equal(frames.length, n, 'no frame delivered after stopLive resolved');
    for (let i = 1; i < frames.length; i++) t.ok(frames[i]!.index > frames[i - 1]!.index, `frame ${i} index increases`);
    const d = jpeg.decode(frames[0]!.jpeg);
    t.ok(d.width > 0 && d.height > 0, 'a live frame decodes');
    t.ok(frames.every((f) => Number.isFinite(f.timeMs)), 'frames carry a time');
    await rejectsWith(t, h.driver.startLive({ fps: 0, quality: 30 }, () => {}), 'CAMERA_BAD_ARGUMENT', 'fps 0');
  });

  t.test(`${name}: recordings listed and read by range`, async (t) => {
    const h = await make(t);
    const identity = await h.driver.identify();
    const before = await h.driver.listRecordings();
    h.setRecording('recording');
    await new Promise((r) => setTimeout(r, 1500)); // let the camera record a few frames
    h.setRecording('off');
    const list = await waitFor('a new recording', async () => {
      const l = await h.driver.listRecordings();
      return l.length > before.length ? l : undefined;
    });
    const rec = list.find((r) => !before.some((b) => b.id === r.id))!;
    t.equal(rec.officerNumber, identity.officerNumber, 'recording carries the officer number');
    t.equal(rec.trigger, 'manual');
    t.ok(rec.size > 0 && rec.endMs >= rec.startMs, `size ${rec.size}, ${rec.endMs - rec.startMs} ms long`);
    t.match(rec.sha256, /^[0-9a-f]{64}$/);
    const whole = await h.driver.readClip(rec.id, 0, rec.size);
    t.equal(whole.length, rec.size, 'whole clip read');
    t.equal(createHash('sha256').update(whole).digest('hex'), rec.sha256, 'SHA-256 matches the manifest');
    t.same([whole[0], whole[1]], [0xff, 0xd8], 'clip starts with a JPEG frame');
    const part = await h.driver.readClip(rec.id, 10, 100);
    t.same(part, whole.subarray(10, 110), 'a range is the same bytes');
    const tail = await h.driver.readClip(rec.id, rec.size - 5, 100);
    t.same(tail, whole.subarray(rec.size - 5), 'a read past the end is cut at the end');
    t.equal((await h.driver.readClip(rec.id, rec.size + 10, 100)).length, 0, 'a read starting past the end is empty');
    t.equal((await h.driver.listRecordings({ fromMs: rec.endMs + 1 })).some((r) => r.id === rec.id), false, 'fromMs after the end excludes it');
    t.equal((await h.driver.listRecordings({ toMs: rec.startMs - 1 })).some((r) => r.id === rec.id), false, 'toMs before the start excludes it');
    t.equal((await h.driver.listRecordings({ fromMs: rec.startMs, toMs: rec.endMs })).some((r) => r.id === rec.id), true, 'its own span includes it');
    await rejectsWith(t, h.driver.readClip('NOPE_20270101000000_0001', 0, 10), 'CAMERA_NOT_FOUND', 'unknown recording');
    await rejectsWith(t, h.driver.readClip('../../../etc/passwd', 0, 10), 'CAMERA_BAD_ARGUMENT', 'path traversal');
    await rejectsWith(t, h.driver.readClip('/etc/passwd', 0, 10), 'CAMERA_BAD_ARGUMENT', 'absolute path');
    await rejectsWith(t, h.driver.readClip(rec.id, -1, 10), 'CAMERA_BAD_ARGUMENT', 'negative offset');
  });

  t.test(`${name}: notify the officer`, async (t) => {
    const h = await make(t);
    await h.driver.notify('beep', 300);
    await h.driver.notify('vibrate');
    await h.driver.notify('led', 1000);
    t.same(h.alerts().map((a) => a.kind), ['beep', 'vibrate', 'led']);
    t.equal(h.alerts()[0]!.durationMs, 300);
    await rejectsWith(t, h.driver.notify('siren' as 'beep'), 'CAMERA_BAD_ARGUMENT', 'unknown alert');
  });

  t.test(`${name}: write settings`, async (t) => {
    const h = await make(t);
    const s = { 'video.resolution': '1920x1080', pre_record_s: 10, gps: true, ratio: 0.5, 'unit.label': '执法一中队' };
    await h.driver.writeSettings(s);
    t.same(h.settings(), s);
    await rejectsWith(t, h.driver.writeSettings({}), 'CAMERA_BAD_ARGUMENT', 'no settings');
    await rejectsWith(t, h.driver.writeSettings({ 'bad key!': 1 }), 'CAMERA_BAD_ARGUMENT', 'bad key');
  });

  t.test(`${name}: close ends the driver`, async (t) => {
    const h = await make(t);
    const reasons: string[] = [];
    h.driver.onClose((r) => reasons.push(r));
    await h.driver.identify();
    await h.driver.close();
    t.equal(reasons.length, 1, 'onClose called once');
    await rejectsWith(t, h.driver.status(), 'CAMERA_CLOSED', 'request after close');
    t.type(h.driver.counters.timeouts, 'number', 'counters report timeouts');
  });
}
