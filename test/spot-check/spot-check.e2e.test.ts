import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MANIFEST_SUFFIX } from '../../drivers/camera/footage-manifest.js';
import jpeg from 'jpeg-js';
import { SpotRig } from './spot-rig.js';
import { loadScaled } from '../helpers/deadline.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JsonResult {
  device: string;
  kind: string;
  result: string;
  reason: string;
  files: string[];
  bytes: number;
  sha256_ok: boolean;
  officer: string | null;
  seconds: number;
  frames?: number;
  resumes?: number;
  resumed_from?: number[];
  recording?: string;
  open_recording_since?: string;
}

function parse(stdout: string): JsonResult[] {
  return JSON.parse(stdout) as JsonResult[];
}

/**
 * Spot checks end to end with real parts: 8 simulated cameras on
 * pseudo-terminals, mosquitto, the agent and the console as separate
 * processes. A media cap of 8 Mbit/s on the agent makes a 6 MB clip take a
 * few seconds, so a broker restart lands in the middle of its transfer.
 */
t.test('spot checks: random snapshots, a live feed, a clip resumed across a broker restart', { timeout: 1_200_000 }, async (t) => {
  const rig = await SpotRig.start(t, { cameras: 8, mediaMaxKbps: 8000, clipBytes: 6_000_000 });
  const out = `${rig.dir}/out`;

  await t.test('a random spot check of 3 of 8 cameras gets viewable JPEGs', async (t) => {
    const run = await rig.spotCheck(['--random', '3', '--only-recording', '--kind', 'snapshot', '--out', out, '--json']);
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.slice(-500)})`);
    const results = parse(run.stdout);
    t.equal(results.length, 3, 'three results');
    t.equal(new Set(results.map((r) => r.device)).size, 3, 'three different cameras');
    for (const r of results) {
      t.ok(rig.devices.includes(r.device), `${r.device} is one of the fleet`);
      t.equal(r.result, 'ok', `${r.device}: ok ${r.reason}`);
      t.equal(r.sha256_ok, true, `${r.device}: SHA-256 verified`);
      t.match(r.officer, /^81000\d /, `${r.device}: the officer is named (${r.officer})`);
      t.equal(r.files.length, 1, `${r.device}: one file`);
      const bytes = readFileSync(r.files[0]!);
      t.equal(bytes.length, r.bytes, `${r.device}: the file holds the bytes reported`);
      const img = jpeg.decode(bytes, { useTArray: true });
      t.equal(img.width, 320, `${r.device}: decodes as a 320-pixel-wide JPEG`);
      t.equal(img.height, 240);
    }
    // Another draw picks cameras again at random: over a few draws more than 3 distinct cameras come up.
    const seen = new Set(results.map((r) => r.device));
    for (let i = 0; i < 3 && seen.size <= 3; i++) {
      const again = await rig.spotCheck(['--random', '3', '--kind', 'snapshot', '--out', out, '--json', '--quiet']);
      for (const r of parse(again.stdout)) seen.add(r.device);
    }
    t.ok(seen.size > 3, `random picks vary between runs (${seen.size} cameras seen)`);
  });

  await t.test('a 10 s live feed at the requested rate, with the officer notified and the events published', async (t) => {
    const device = rig.devices[1]!;
    const alertsBefore = rig.camera(device).alerts.length;
    const sentAt = Date.now();
    const run = await rig.spotCheck(['--device', device, '--kind', 'live', '--duration', '10', '--fps', '4', '--keepalive', '3', '--out', out, '--json']);
    const elapsed = Date.now() - sentAt;
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.slice(-500)})`);
    const [r] = parse(run.stdout);
    t.equal(r?.result, 'ok', `live ok ${r?.reason}`);
    t.comment(/live feed ended: .*/.exec(run.stderr)?.[0] ?? 'no closing reason printed');
    t.equal(r?.sha256_ok, true);
    // 4 fps for 10 s is 40 frames; a loaded machine's camera paints fewer, never many more.
    t.ok(r!.frames! >= 10 && r!.frames! <= 46, `up to 40 frames (${r!.frames})`);
    t.equal(r!.files.length, r!.frames);
    t.ok(elapsed >= 10_000, `the feed lasted its duration (${elapsed} ms from sending to the end)`);
    const numbers = r!.files.map((f) => Number(/frame-(\d+)\.jpg$/.exec(f)![1]));
    t.same(numbers, [...numbers].sort((a, b) => a - b), 'frames arrive in order');
    for (const f of [r!.files[0]!, r!.files[r!.files.length - 1]!]) t.equal(jpeg.decode(readFileSync(f), { useTArray: true }).width, 320, `${f} decodes`);
    const alerts = rig.camera(device).alerts.slice(alertsBefore).map((a) => a.kind);
    t.ok(alerts.includes('vibrate') && alerts.includes('beep'), `the officer's camera vibrated and beeped (${alerts.join(', ')})`);
    await rig.recorder.waitFor(() => rig.recorder.records.some((e) => e.type === 'event' && e.device === device && e.event === 'spot_check_ended'), loadScaled(20_000), 'spot_check_ended');
    const events = rig.recorder.records.filter((e) => e.type === 'event' && e.device === device && String(e.event).startsWith('spot_check'));
    t.same(events.map((e) => e.event), ['spot_check_started', 'spot_check_ended'], 'started then ended');
    t.ok(events.every((e) => e.issuer === rig.keyId), 'both events name who asked (the key id)');
    t.match(String(events[1]!.detail), /duration reached/, 'the feed ended at its duration');
    t.ok(rig.auditEntries().filter((e) => e.kind === 'viewerKeepalive' && e.outcome === 'accepted').length >= 2, 'viewer keepalives reached the agent');
  });

  await t.test('a clip whose SHA-256 matches the manifest, resumed after the broker is restarted mid-transfer', async (t) => {
    const device = rig.devices[4]!;
    const clip = rig.clips.get(device)!;
    let restarted = false;
    let restart: Promise<void> | undefined;
    const run = await rig.spotCheck(['--device', device, '--kind', 'clip', '--out', out, '--json'], (line) => {
      const m = /clip \S+ ([\d.]+) (MB|kB|B) of .* \((\d+)%\)/.exec(line);
      if (!restarted && m && Number(m[3]) >= 15 && Number(m[3]) <= 70) {
        restarted = true;
        // The broker goes away mid-transfer and comes back on the same port.
        restart = (async () => {
          await rig.broker.stop();
          await sleep(1500);
          await rig.broker.restart();
        })();
      }
    });
    await restart;
    t.ok(restarted, 'the broker was restarted while the clip was on its way');
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.slice(-1500)})`);
    const [r] = parse(run.stdout);
    t.equal(r?.result, 'ok', `clip ok ${r?.reason}`);
    t.equal(r?.recording, clip.id, 'the newest recording was fetched');
    t.equal(r?.sha256_ok, true, 'the console verified the SHA-256');
    const got = readFileSync(r!.files[0]!);
    t.equal(got.length, clip.size, 'the whole clip');
    t.equal(createHash('sha256').update(got).digest('hex'), clip.sha256, 'its SHA-256 is the manifest\'s');
    t.ok(r!.resumes! >= 1, `the transfer was resumed (${r!.resumes} times, from ${r!.resumed_from?.join(', ')})`);
    // The camera records all along: the open recording is not in the clip, and the console says so.
    t.match(r?.open_recording_since, /^\d{4}-\d\d-\d\dT/, 'the open recording is named by its start');
    t.match(run.stderr, /recording now \(since [^)]+\): that recording is offered once the officer stops it/);
    t.match(run.stderr, /resuming at offset [1-9]\d*/, 'the console said where it resumed');
    const fetches = rig.auditEntries().filter((e) => e.kind === 'clipFetch' && e.outcome === 'accepted' && e.device === device);
    const offsets = fetches.map((e) => Number(/offset=(\d+)/.exec(String(e.detail))?.[1] ?? 0));
    t.ok(offsets.some((o) => o > 0), `the agent received a clip fetch with an offset above 0 (audit: ${offsets.join(', ')})`);
    const resumed = offsets.filter((o) => o > 0);
    t.ok(resumed.every((o) => r!.resumed_from!.includes(o)) && r!.resumed_from!.every((o) => resumed.includes(o)), 'the agent resumed exactly where the console said it did');
  });

  await t.test('a stalled clip transfer (the agent frozen) is resumed from the bytes received', async (t) => {
    const device = rig.devices[5]!;
    const clip = rig.clips.get(device)!;
    const pid = (rig.agent as unknown as { child?: { pid?: number } }).child?.pid;
    t.ok(pid, 'the agent process id');
    // Whatever happens, the agent is not left frozen (it could not be stopped).
    t.teardown(() => {
      try {
        process.kill(pid!, 'SIGCONT');
      } catch {
        /* gone already */
      }
    });
    let frozen = false;
    let thaw: Promise<void> | undefined;
    const run = await rig.spotCheck(['--device', device, '--kind', 'clip', '--stall-timeout', '3', '--out', out, '--json'], (line) => {
      const m = /clip \S+ [\d.]+ (MB|kB|B) of .* \((\d+)%\)/.exec(line);
      if (!frozen && m && Number(m[2]) >= 15 && Number(m[2]) <= 70) {
        frozen = true;
        // SIGSTOP: the agent keeps its connection but sends nothing, as a hung uplink would.
        process.kill(pid!, 'SIGSTOP');
        thaw = sleep(4500).then(() => void process.kill(pid!, 'SIGCONT'));
      }
    });
    await thaw;
    t.ok(frozen, 'the agent was frozen mid-transfer');
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.slice(-1500)})`);
    const [r] = parse(run.stdout);
    t.equal(r?.result, 'ok', `clip ok ${r?.reason}`);
    t.equal(r?.sha256_ok, true);
    t.equal(createHash('sha256').update(readFileSync(r!.files[0]!)).digest('hex'), clip.sha256, 'the SHA-256 of the manifest');
    t.match(run.stderr, /no chunk for 3 s; resuming at offset [1-9]\d*/, 'the stall was noticed and the transfer resumed');
    t.ok(r!.resumes! >= 1);
  });

  await t.test('a clip from a camera that records and holds no finished recording: the open recording is named, nothing is fetched', async (t) => {
    const device = rig.devices[7]!;
    const clip = rig.clips.get(device)!;
    // Its only finished recording goes away: what is left is the one it is recording.
    rmSync(join(dirname(clip.file), `${clip.id}${MANIFEST_SUFFIX}`));
    const run = await rig.spotCheck(['--device', device, '--kind', 'clip', '--out', out, '--json']);
    t.equal(run.code, 1, 'the check fails');
    const [r] = parse(run.stdout);
    t.equal(r?.result, 'failed');
    t.match(r?.reason, /recording now \(since \d{4}-[^)]+\) and holds no finished recording: a recording is offered once the officer stops it/);
    t.same(r?.files, []);
  });
});
