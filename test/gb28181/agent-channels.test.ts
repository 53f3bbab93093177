import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AgentChannels } from '../../agent/gb28181/agent-channels.js';
import { planPlayback } from '../../agent/gb28181/recording-playback.js';
import { FootageAccess } from '../../agent/media/footage-access.js';
import type { DeviceConfig } from '../../config/schema.js';
import type { DeviceRuntime } from '../../agent/device-runtime.js';
import { serializeManifest } from '../../drivers/camera/footage-manifest.js';
import { captureLog, DEVICE_ID } from './gb-rig.js';

/**
 * The agent's cameras as the GB/T 28181 side reads their recordings: from a
 * mounted footage folder when the camera has one (a docked camera, its
 * control channel down, still plays back), as clip fetches read them.
 */
t.test('recordings of a docked camera are listed and read from its mounted footage folder, and plan a playback', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-gb-channels-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const footage = join(dir, 'BWC-0001');
  mkdirSync(footage);
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast',
    '-pix_fmt', 'yuv420p', '-g', '15', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', join(footage, 'REC-1.mp4')], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const bytes = readFileSync(join(footage, 'REC-1.mp4'));
  const startMs = Math.floor(Date.now() / 1000) * 1000 - 600_000;
  writeFileSync(join(footage, 'REC-1.json'), serializeManifest({
    id: 'REC-1', startMs, endMs: startMs + 3000, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'),
    officerNumber: '010001', trigger: 'manual', contentType: 'video/mp4', file: 'REC-1.mp4',
  }));
  const { log } = captureLog();
  const configured = [{ id: 'BWC-0001', footageDir: footage }, { id: 'BWC-0002' }] as unknown as DeviceConfig[];
  // Neither camera's control channel is up: BWC-0001 is docked, BWC-0002 is gone.
  const runtime = (id: string) => ({ settings: { id }, camera: undefined, gnssConnected: false, controlConnected: false }) as unknown as DeviceRuntime;
  const channels = new AgentChannels({
    gbDeviceId: DEVICE_ID,
    configured,
    devices: () => new Map([['BWC-0001', runtime('BWC-0001')], ['BWC-0002', runtime('BWC-0002')]]),
    footage: new FootageAccess((id) => configured.find((d) => d.id === id)?.footageDir, log),
  });
  const listed = await channels.recordings('BWC-0001', { fromMs: startMs - 1000, toMs: startMs + 10_000 });
  t.same(listed.map((x) => [x.id, x.size, x.contentType]), [['REC-1', bytes.length, 'video/mp4']], 'listed from the footage folder');
  t.same(await channels.readRecording('BWC-0001', 'REC-1', 100, 50), bytes.subarray(100, 150), 'read from the footage folder');
  t.same(await channels.recordings('BWC-0002', { fromMs: 0, toMs: Date.now() }), [], 'no folder, no control channel: nothing listed');
  await t.rejects(channels.readRecording('BWC-0002', 'REC-1', 0, 10), /not connected and no footage folder/);

  const channelId = channels.channelId('BWC-0001');
  const segments = await planPlayback({ source: channels, deviceId: 'BWC-0001', channelId, fromMs: startMs + 1500, toMs: startMs + 3000, log });
  t.equal(segments.length, 1);
  t.equal(segments[0]!.rec.id, 'REC-1');
  t.equal(segments[0]!.first, 15, 'from the keyframe at 1 s (the range starts at 1.5 s)');
  t.equal(segments[0]!.last, 44, 'to the last frame');
});

t.test('a playback whose recordings cannot be read is refused with 503, one that is no H.264 MP4 with 488', async (t) => {
  const { log } = captureLog();
  const rec = { id: 'REC-9', startMs: 1_000_000, endMs: 1_010_000, size: 5000, sha256: '00'.repeat(32), officerNumber: '010001', trigger: 'manual' as const, contentType: 'video/mp4' };
  const source = (read: () => Promise<Buffer>) => ({ channels: () => [], recordings: async () => [rec], onSos: () => () => {}, readRecording: read });
  const plan = (read: () => Promise<Buffer>) => planPlayback({ source: source(read), deviceId: 'BWC-0001', channelId: '34020000001310000001', fromMs: 1_000_000, toMs: 1_005_000, log });
  await t.rejects(plan(async () => Promise.reject(new Error('the control channel of BWC-0001 closed'))), { status: 503, message: /REC-9: the control channel of BWC-0001 closed/ });
  await t.rejects(plan(async () => Buffer.from('<html>not a recording</html>')), { status: 488, message: /REC-9: not an MP4 file/ });
});
