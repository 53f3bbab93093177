import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import { decodeErrors } from '../video/ffprobe.js';
import { freeUdpPort, received, startSippPlatform, type LoggedSip } from '../helpers/sipp-platform.js';
import { captureLog, CHAN_A, DEVICE_ID, DOMAIN, PASSWORD, SERVER_ID, startDevice, TwoCameras } from './gb-rig.js';
import { checkRtp, probePs, RtpReceiver } from './rtp-receiver.js';

const header = (m: LoggedSip, name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(m.headers)?.[1]?.trim();
const cseqOf = (m: LoggedSip) => header(m, 'CSeq') ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SSRC = ['1100000001', '1100000002', '1100000003'];
const FPS = 15;

type Footage = RecordingInfo & { file: string };

/**
 * The first camera's recordings, real MP4 made by ffmpeg: a fragmented one
 * as the cameras write them (6 s, a keyframe every second) and, 10 s after
 * its start, a plain one with B-frames (4 s); and MJPEG footage later on,
 * which cannot play back. Starts on a whole second, so t= ranges are exact.
 */
function makeFootage(dir: string): { t0: number; footage: Footage[] } {
  const t0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
  const encode = (file: string, seconds: number, args: string[]) => {
    const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}`, '-t', String(seconds),
      '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-g', String(FPS), '-keyint_min', String(FPS), '-sc_threshold', '0', ...args, join(dir, file)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
    return statSync(join(dir, file)).size;
  };
  const rec = (id: string, file: string, startMs: number, seconds: number, size: number, contentType = 'video/mp4'): Footage => ({
    id, file: join(dir, file), startMs, endMs: startMs + seconds * 1000, size, sha256: '00'.repeat(32), officerNumber: '010001', trigger: 'manual', contentType,
  });
  const fragSize = encode('frag.mp4', 6, ['-preset', 'ultrafast', '-crf', '30', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4']);
  const plainSize = encode('plain.mp4', 4, ['-preset', 'medium', '-bf', '2', '-crf', '30']);
  writeFileSync(join(dir, 'old.mjpeg'), Buffer.alloc(1000));
  return {
    t0,
    footage: [
      rec('REC-F', 'frag.mp4', t0, 6, fragSize),
      rec('REC-P', 'plain.mp4', t0 + 10_000, 4, plainSize),
      rec('REC-M', 'old.mjpeg', t0 + 100_000, 10, 1000, 'video/x-mjpeg'),
    ],
  };
}

/** The two cameras, the first with real recordings that can be read. */
class CamerasWithFootage extends TwoCameras {
  reads = 0;
  private readonly data = new Map<string, Buffer>();

  constructor(private readonly footage: Footage[]) {
    super();
  }

  override async recordingsOf(deviceId: string, r: { fromMs: number; toMs: number }): Promise<RecordingInfo[]> {
    if (deviceId !== 'BWC-0001') return [];
    return this.footage.filter((x) => x.endMs >= r.fromMs && x.startMs <= r.toMs).map(({ file: _f, ...rec }) => rec);
  }

  async readRecording(deviceId: string, id: string, offset: number, length: number): Promise<Buffer> {
    const f = this.footage.find((x) => x.id === id);
    if (deviceId !== 'BWC-0001' || !f) throw new Error(`no recording ${id}`);
    this.reads++;
    let b = this.data.get(id);
    if (!b) this.data.set(id, (b = readFileSync(f.file)));
    return Buffer.from(b.subarray(offset, offset + length));
  }
}

type Mode = 'UDP' | 'TCP, device passive';

for (const mode of ['UDP', 'TCP, device passive'] as Mode[]) {
  t.test(`playback and download over ${mode}: the recordings of a range as PS over RTP, MediaStatus 121 at the end, bad ranges refused, BYE mid-playback`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-gb-playback-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const { t0, footage } = makeFootage(dir);
    const cams = new CamerasWithFootage(footage);
    t.teardown(() => cams.close());
    const tcp = mode !== 'UDP';
    const s0 = t0 / 1000;
    const ports = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    // Receivers by the CSeq of their INVITE.
    const receivers = new Map<number, RtpReceiver>();
    t.teardown(() => [...receivers.values()].forEach((r) => r.close()));
    if (!tcp) for (const [i, cseq] of [60, 70, 80].entries()) receivers.set(cseq, await RtpReceiver.udp(ports[i]!));
    const sipp = await startSippPlatform(t, {
      scenario: 'playback.xml',
      transport: 'UDP',
      keys: {
        server: SERVER_ID, domain: DOMAIN, devid: DEVICE_ID, chan: CHAN_A, password: PASSWORD,
        rtp1: String(ports[0]), rtp2: String(ports[1]), rtp3: String(ports[2]), ssrc1: SSRC[0]!, ssrc2: SSRC[1]!, ssrc3: SSRC[2]!,
        tnone: `${s0 - 1000} ${s0 - 900}`, tmjpeg: `${s0 + 100} ${s0 + 105}`, tplay: `${s0 + 2} ${s0 + 4}`, tall: `${s0} ${s0 + 20}`,
        mproto: tcp ? 'TCP/RTP/AVP' : 'RTP/AVP', setup: tcp ? 'a=setup:active' : 'a=connection:new',
      },
    });
    const { log, lines } = captureLog();
    const dev = startDevice(t, { port: sipp.port, transport: 'UDP', source: cams, log, keepaliveS: 3600, videoFor: () => undefined });
    await dev.start();

    let finished = false;
    const connector = (async () => {
      // TCP with the device passive: the platform connects to the port of each answer as it comes.
      while (tcp && !finished) {
        for (const a of received(sipp.messages(), /^SIP\/2\.0 200/).filter((m) => / INVITE$/.test(cseqOf(m)))) {
          const cseq = Number(/^(\d+)/.exec(cseqOf(a))![1]);
          if (receivers.has(cseq)) continue;
          receivers.set(cseq, await RtpReceiver.tcpConnect(Number(/m=video (\d+) TCP\/RTP\/AVP 96/.exec(a.body)![1])));
        }
        await sleep(50);
      }
    })();
    let ms: LoggedSip[];
    try {
      ms = await sipp.waitFor('the BYE of the interrupted playback answered', (m) => received(m, /^SIP\/2\.0 200/).some((x) => /^81 BYE$/.test(cseqOf(x))), 90_000);
    } finally {
      finished = true;
      await connector;
    }
    await sleep(300);
    t.equal(sipp.errors().trim(), '', 'SIPp saw every message it expected (a MESSAGE other than MediaStatus 121 in the dialog would fail it)');

    // Refusals, each with the reason in a Warning and a log line.
    const final = (cseq: string) => received(ms, /^SIP\/2\.0 [2-6]\d\d/).find((m) => cseqOf(m) === cseq);
    t.match(final('50 INVITE')?.startLine, /^SIP\/2\.0 404/, 'a range without recordings: 404');
    t.match(header(final('50 INVITE')!, 'Warning'), /no recording of channel 34020000001310000001 between \d{4}-\d\d-\d\dT[\d:]+ and /);
    t.match(final('51 INVITE')?.startLine, /^SIP\/2\.0 488/, 'only MJPEG footage in the range: 488');
    t.match(header(final('51 INVITE')!, 'Warning'), /video\/x-mjpeg: only MP4 \(H\.264\) recordings play back/);
    t.match(final('52 INVITE')?.startLine, /^SIP\/2\.0 488/, 't=0 0: 488');
    t.match(header(final('52 INVITE')!, 'Warning'), /needs its time range/);
    t.equal(lines.filter((l) => l.msg === 'INVITE refused').length, 3, 'each refusal logged');

    // The answers.
    const answer = (cseq: string) => received(ms, /^SIP\/2\.0 200/).find((m) => cseqOf(m) === cseq)!;
    for (const [cseq, session, range, ssrc] of [['60 INVITE', 'Playback', `${s0 + 2} ${s0 + 4}`, SSRC[0]], ['70 INVITE', 'Download', `${s0} ${s0 + 20}`, SSRC[1]], ['80 INVITE', 'Playback', `${s0} ${s0 + 20}`, SSRC[2]]] as const) {
      const a = answer(cseq);
      t.match(a.body, new RegExp(`s=${session}\\r?\\n`), `${cseq}: s=${session}`);
      t.match(a.body, new RegExp(`t=${range}\\r?\\n`), 'the range of the offer');
      t.match(a.body, tcp ? /m=video \d+ TCP\/RTP\/AVP 96/ : /m=video \d+ RTP\/AVP 96/);
      t.match(a.body, /a=sendonly/);
      t.match(a.body, /a=rtpmap:96 PS\/90000/);
      t.match(a.body, new RegExp(`y=${ssrc}`));
    }
    const filesize = footage[0]!.size + footage[1]!.size;
    t.match(answer('70 INVITE').body, new RegExp(`a=filesize:${filesize}`), 'Download: the size of the recordings in a=filesize');

    // MediaStatus 121, in the dialog of each session played to its end, and only those.
    const statuses = received(ms, /^MESSAGE /, /<CmdType>MediaStatus<\/CmdType>/);
    t.equal(statuses.length, 2, 'MediaStatus for the playback and the download, none for the playback ended by BYE');
    for (const [i, cseq] of ['60 INVITE', '70 INVITE'].entries()) {
      const m = statuses[i]!;
      const a = answer(cseq);
      t.equal(header(m, 'Call-ID'), header(a, 'Call-ID'), `${cseq}: the Call-ID of the session`);
      t.equal(/tag=([^;> ]+)/.exec(header(m, 'From')!)?.[1], /tag=([^;> ]+)/.exec(header(a, 'To')!)?.[1], 'From tag: the device side of the dialog');
      t.equal(/tag=([^;> ]+)/.exec(header(m, 'To')!)?.[1], /tag=([^;> ]+)/.exec(header(a, 'From')!)?.[1], 'To tag: the platform side of the dialog');
      t.match(m.body, /<Notify>/);
      t.match(m.body, /<NotifyType>121<\/NotifyType>/);
      t.match(m.body, new RegExp(`<DeviceID>${CHAN_A}</DeviceID>`));
      t.match(m.body, /<SN>\d+<\/SN>/);
    }

    // What each viewer received, as a player reads it.
    const expect = [
      { cseq: 60, what: 'playback of 2 s of the fragmented recording', frames: 2 * FPS },
      { cseq: 70, what: 'download of both recordings (fragmented, then plain with B-frames)', frames: 6 * FPS + 4 * FPS },
    ];
    for (const [i, e] of expect.entries()) {
      const r = receivers.get(e.cseq)!;
      const c = checkRtp(r.packets, Number(SSRC[i]));
      t.same(c.problems, [], `${e.what}: ${r.packets.length} packets, PT 96, SSRC, <= 1400 bytes, seq without gaps`);
      t.equal(c.frames, e.frames, `${e.what}: ${e.frames} frames sent`);
      t.equal(c.payload.subarray(0, 4).toString('hex'), '000001ba', 'starts with a pack header');
      t.equal(c.payload.subarray(14, 18).toString('hex'), '000001bb', 'of a keyframe');
      const file = join(dir, `received-${e.cseq}.ps`);
      writeFileSync(file, c.payload);
      const p = probePs(file);
      t.equal(p.codec, 'h264');
      t.equal(`${p.width}x${p.height}`, '320x240');
      t.equal(p.frames, e.frames, `ffprobe counts ${p.frames} frames`);
      t.equal(decodeErrors(file, 'mpeg'), '', 'decodes without an error');
    }
    // The download's RTP timestamps run over the media's own time (10 s), however fast it went out.
    const dl = receivers.get(70)!.packets;
    const span = (dl[dl.length - 1]!.readUInt32BE(4) - dl[0]!.readUInt32BE(4)) >>> 0;
    t.ok(Math.abs(span - (149 * 90_000) / FPS) <= 2, `download: RTP timestamps span ${span} (149 frames at ${FPS} fps)`);
    t.ok(lines.some((l) => l.msg === 'download session answered' && l.speed === 4), 'download at a=downloadspeed:4');

    // The playback the platform ended.
    const cut = checkRtp(receivers.get(80)?.packets ?? [], Number(SSRC[2]));
    t.same(cut.problems, []);
    t.ok(cut.frames > 0 && cut.frames < 10 * FPS, `BYE mid-playback: ${cut.frames} of ${10 * FPS} frames went out`);
    t.ok(lines.some((l) => l.msg === 'playback session ended' && l.why === 'BYE from the platform' && l.complete === false), 'logged: ended by the platform before its end');
    t.equal(lines.filter((l) => l.msg === 'recording sent to its end: MediaStatus 121').length, 2);
    const packets = receivers.get(80)?.packets.length ?? 0;
    await sleep(500);
    t.equal(receivers.get(80)?.packets.length ?? 0, packets, 'nothing more after the BYE');
    t.equal(dev.media!.count, 0, 'no session left');
    t.equal(dev.registrar.state, 'registered', 'still registered');
  });
}
