import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LavfiVideoSource } from '../../agent/gb28181/lavfi-video-source.js';
import { decodeErrors } from '../video/ffprobe.js';
import { freeUdpPort, received, startSippPlatform, type LoggedSip } from '../helpers/sipp-platform.js';
import { freePort } from '../helpers/mosquitto.js';
import { captureLog, CHAN_A, DEVICE_ID, DOMAIN, PASSWORD, SERVER_ID, startDevice, TwoCameras } from './gb-rig.js';
import { checkRtp, probePs, RtpReceiver } from './rtp-receiver.js';

const header = (m: LoggedSip, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(m.headers)?.[1]?.trim();
const SSRC1 = '0100000001';
const SSRC2 = '0100000002';

type Mode = 'UDP' | 'TCP, device active' | 'TCP, device passive';

for (const mode of ['UDP', 'TCP, device active', 'TCP, device passive'] as Mode[]) {
  t.test(`live video over ${mode}: two viewers of one channel get H.264 in PS over RTP from a keyframe`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-gb-live-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const cams = new TwoCameras();
    t.teardown(() => cams.close());
    const tcp = mode !== 'UDP';
    const [rtp1, rtp2] = tcp ? [await freePort(), await freePort()] : [await freeUdpPort(), await freeUdpPort()];
    const receivers: RtpReceiver[] = [];
    t.teardown(() => receivers.forEach((r) => r.close()));
    if (mode === 'UDP') receivers.push(await RtpReceiver.udp(rtp1), await RtpReceiver.udp(rtp2));
    if (mode === 'TCP, device active') receivers.push(await RtpReceiver.tcpListen(rtp1), await RtpReceiver.tcpListen(rtp2));
    const sipp = await startSippPlatform(t, {
      scenario: 'play.xml',
      transport: 'UDP',
      keys: {
        server: SERVER_ID, domain: DOMAIN, devid: DEVICE_ID, chan: CHAN_A, password: PASSWORD,
        rtp1: String(rtp1), rtp2: String(rtp2), ssrc1: SSRC1, ssrc2: SSRC2,
        mproto: tcp ? 'TCP/RTP/AVP' : 'RTP/AVP',
        setup: mode === 'TCP, device active' ? 'a=setup:passive' : mode === 'TCP, device passive' ? 'a=setup:active' : 'a=connection:new',
      },
    });
    const { log, lines } = captureLog();
    const video = new LavfiVideoSource({ width: 320, height: 240 });
    const dev = startDevice(t, { port: sipp.port, transport: 'UDP', source: cams, log, videoFor: (id) => (id === 'BWC-0001' ? video : undefined), liveFps: 15, liveKbps: 400 });
    await dev.start();

    if (mode === 'TCP, device passive') {
      // The platform connects to the port of each answer.
      const answers = await sipp.waitFor('two answers', (ms) => received(ms, /^SIP\/2\.0 200/).filter((m) => /INVITE/.test(header(m, 'CSeq') ?? '')).length >= 2);
      for (const a of received(answers, /^SIP\/2\.0 200/).filter((m) => /INVITE/.test(header(m, 'CSeq') ?? ''))) {
        t.match(a.body, /a=setup:passive/);
        receivers.push(await RtpReceiver.tcpConnect(Number(/m=video (\d+) TCP\/RTP\/AVP 96/.exec(a.body)![1])));
      }
    }
    const ms = await sipp.waitFor('both BYEs answered', (m) => received(m, /^SIP\/2\.0 200/).filter((x) => /BYE/.test(header(x, 'CSeq') ?? '')).length >= 2, 60_000);

    const notFound = received(ms, /^SIP\/2\.0 404/)[0];
    t.ok(notFound && /no channel 34020000001319999999/.test(notFound.headers), '404 for a channel that does not exist, with the reason');
    t.ok(lines.some((l) => l.msg === 'INVITE refused' && l.status === 404), 'logged');
    const ok = received(ms, /^SIP\/2\.0 200/).filter((m) => /INVITE/.test(header(m, 'CSeq') ?? ''));
    t.equal(ok.length, 2, 'both viewers answered');
    for (const [i, a] of ok.entries()) {
      t.match(header(a, 'Content-Type'), /^application\/sdp$/i);
      t.match(a.body, tcp ? /m=video \d+ TCP\/RTP\/AVP 96/ : /m=video \d+ RTP\/AVP 96/);
      t.match(a.body, /a=sendonly/);
      t.match(a.body, /a=rtpmap:96 PS\/90000/);
      t.match(a.body, new RegExp(`y=${i === 0 ? SSRC1 : SSRC2}`), 'the SSRC of the offer');
    }
    await new Promise((r) => setTimeout(r, 300));
    t.equal(dev.media!.count, 0, 'BYE ended both sessions');
    t.equal(dev.hub!.streams, 0, 'the camera stream stopped with its last viewer');

    for (const [i, r] of receivers.entries()) {
      const ssrc = Number(i === 0 ? SSRC1 : SSRC2);
      const c = checkRtp(r.packets, ssrc);
      t.same(c.problems, [], `viewer ${i + 1}: ${r.packets.length} packets, PT 96, SSRC ${ssrc}, sizes <= 1400 (max ${c.maxSize}), seq without gaps`);
      t.ok(c.frames >= 10, `viewer ${i + 1}: ${c.frames} frames`);
      t.equal(c.payload.subarray(0, 4).toString('hex'), '000001ba', 'starts with a pack header');
      t.equal(c.payload.subarray(14, 18).toString('hex'), '000001bb', 'of a keyframe (system header and map follow)');
      const file = join(dir, `viewer${i + 1}.ps`);
      writeFileSync(file, c.payload);
      const p = probePs(file);
      t.equal(p.codec, 'h264');
      t.match(p.format, /mpeg/);
      t.ok(p.frames >= c.frames - 1 && p.frames >= 10, `ffprobe counts ${p.frames} frames (${c.frames} sent)`);
      t.equal(decodeErrors(file, 'mpeg'), '', 'decodes without an error');
    }
  });
}

t.test('a viewer that goes away: the device ends the session with a BYE and keeps running', async (t) => {
  const cams = new TwoCameras();
  t.teardown(() => cams.close());
  const dead = await freeUdpPort(); // nothing listens: ICMP port unreachable
  const sipp = await startSippPlatform(t, {
    scenario: 'peer-gone.xml',
    transport: 'UDP',
    keys: { server: SERVER_ID, domain: DOMAIN, devid: DEVICE_ID, chan: CHAN_A, password: PASSWORD, rtp1: String(dead), ssrc1: SSRC1, mproto: 'RTP/AVP', setup: 'a=connection:new' },
  });
  const { log, lines } = captureLog();
  const video = new LavfiVideoSource({ width: 320, height: 240 });
  const dev = startDevice(t, { port: sipp.port, transport: 'UDP', source: cams, log, videoFor: () => video, liveFps: 15, liveKbps: 300 });
  await dev.start();
  const ms = await sipp.waitFor('the BYE of the device', (m) => received(m, /^BYE /).length >= 1, 30_000);
  const bye = received(ms, /^BYE /)[0]!;
  t.match(header(bye, 'From'), /tag=/);
  t.ok(lines.some((l) => l.msg === 'live video session ended' && /unreachable/.test(String(l.why))), 'logged: why it ended');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(dev.media!.count, 0);
  t.equal(dev.hub!.streams, 0, 'camera stream stopped');
  t.equal(dev.registrar.state, 'registered', 'still registered');
});
