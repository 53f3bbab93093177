import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestMosquitto } from '../helpers/mosquitto.js';
import { FleetRecorder } from '../helpers/fleet-recorder.js';
import { agentCli } from '../helpers/paths.js';
import { freeUdpPort, received, startSippPlatform, type LoggedSip } from '../helpers/sipp-platform.js';
import { decodeErrors } from '../video/ffprobe.js';
import { CHAN_A, CHAN_B, DEVICE_ID, DOMAIN, PASSWORD, SERVER_ID } from './gb-rig.js';
import { checkRtp, probePs, RtpReceiver } from './rtp-receiver.js';

const header = (m: LoggedSip, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(m.headers)?.[1]?.trim();

/**
 * The whole agent in GB/T 28181 device mode, as a user starts it
 * (`bwc-agent demo --gb28181 …`): simulated cameras on pseudo-terminals, the
 * MQTT side publishing to a real broker, SIPp as the platform asking for the
 * catalog and playing the first camera's own H.264.
 */
t.test('bwc-agent demo --gb28181: registers, answers Catalog with the cameras, plays a camera; MQTT unaffected', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-gb-demo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await TestMosquitto.start();
  t.teardown(() => broker.stop());
  const recorder = await FleetRecorder.start(broker.url);
  t.teardown(() => recorder.stop());
  const rtp = await freeUdpPort();
  const viewer = await RtpReceiver.udp(rtp);
  t.teardown(() => viewer.close());
  const sipp = await startSippPlatform(t, {
    scenario: 'demo-platform.xml',
    transport: 'UDP',
    keys: { server: SERVER_ID, domain: DOMAIN, devid: DEVICE_ID, chan: CHAN_A, password: PASSWORD, rtp1: String(rtp), ssrc1: '0100000001', mproto: 'RTP/AVP', setup: 'a=connection:new' },
  });
  const pw = join(dir, 'gb-password');
  writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
  const child = spawn(process.execPath, [agentCli, 'demo', '--broker', broker.url, '--cameras', '2', '--duration', '40', '--data-dir', join(dir, 'data'),
    '--gb28181', `sip://${SERVER_ID}@127.0.0.1:${sipp.port}`, '--gb-device-id', DEVICE_ID, '--gb-password-file', pw], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  t.teardown(() => child.kill('SIGKILL'));

  const ms = await sipp.waitFor('the BYE answered', (m) => received(m, /^SIP\/2\.0 200/).some((x) => /BYE/.test(header(x, 'CSeq') ?? '')), 60_000);
  t.match(out, new RegExp(`GB/T 28181: device ${DEVICE_ID} registering`));
  const catalog = received(ms, /^MESSAGE /, /<CmdType>Catalog<\/CmdType>/)[0]!.body;
  t.match(catalog, /<SumNum>2<\/SumNum>/, 'both simulated cameras');
  for (const ch of [CHAN_A, CHAN_B]) {
    t.match(catalog, new RegExp(`<DeviceID>${ch}</DeviceID>\\s*<Name>\\d{6} [^<]+</Name>`), `${ch}: officer number and name from the camera`);
  }
  t.equal((catalog.match(/<Status>ON<\/Status>/g) ?? []).length, 2, 'both online');
  const c = checkRtp(viewer.packets, 100000001);
  t.same(c.problems, [], `${viewer.packets.length} RTP packets as GB/T 28181 asks`);
  t.ok(c.frames >= 10, `${c.frames} frames of the camera's video`);
  const file = join(dir, 'live.ps');
  writeFileSync(file, c.payload);
  const probe = probePs(file);
  t.equal(probe.codec, 'h264');
  t.ok(probe.frames >= c.frames - 1, `ffprobe counts ${probe.frames} frames`);
  t.equal(decodeErrors(file, 'mpeg'), '', 'decodes without an error');

  const t0 = Date.now();
  child.kill('SIGTERM');
  t.equal(await exited, 0, out.slice(-2000));
  t.comment(`stopped in ${Date.now() - t0} ms`);
  const end = await sipp.waitFor('the unregister', (m) => received(m, /^REGISTER /).some((x) => header(x, 'Expires') === '0'), 10_000);
  t.ok(end.length > 0, 'unregistered on stop');
  for (const dev of ['BWC-0001', 'BWC-0002']) t.ok(recorder.fixes(dev).length >= 1, `${dev}: fixes reached the broker meanwhile (${recorder.fixes(dev).length})`);
});
