import { createSocket } from 'node:dgram';
import { createLogger } from '../common/log.js';
import { GbDevice } from '../agent/gb28181/gb-device.js';
import type { ChannelSource } from '../agent/gb28181/channel-source.js';
import { LavfiVideoSource } from '../agent/gb28181/lavfi-video-source.js';
import { runIfMain, type BenchRow } from './bench-kit.js';
import { freeUdpPort, GB_DEVICE, GB_SERVER, startSipp } from './sipp-rig.js';

/**
 * GB/T 28181 figures against SIPp as the platform (test/gb28181/sipp/bench-platform.xml):
 * - registration to answered Catalog: from the first REGISTER to the 200 OK
 *   of the Catalog answer, the platform asking right after registering (goal 1 s);
 * - INVITE to first RTP packet: from the INVITE's arrival to the first packet
 *   sent, the ACK and a cold video source (an ffmpeg started for the session) included (goal 300 ms).
 */
const ROUNDS = 5;
const SERVER = GB_SERVER;
const DEVICE = GB_DEVICE;
const CHAN = '34020000001310000001';

async function round(): Promise<{ catalogMs: number; firstRtpMs: number }> {
  const rtpPort = await freeUdpPort();
  const rtp = createSocket('udp4');
  await new Promise<void>((r) => rtp.bind(rtpPort, '127.0.0.1', () => r()));
  rtp.on('message', () => {});
  const keys = { server: SERVER, domain: SERVER.slice(0, 10), devid: DEVICE, chan: CHAN, password: 'bench', rtp1: String(rtpPort), ssrc1: '0100000001', mproto: 'RTP/AVP', setup: 'a=connection:new' };
  const sipp = await startSipp({ scenario: 'bench-platform.xml', keys });
  const sipPort = sipp.port;
  const now = () => performance.now();
  const fix = { timeMs: Date.now(), lat: 30.06, lon: 121.15, mode: 3 as const };
  const source: ChannelSource = {
    channels: () => [{ deviceId: 'BWC-0001', channelId: CHAN, officerNumber: '010001', officerName: '张三', online: true, fix }],
    recordings: async () => [],
    onSos: () => () => {},
  };
  const video = new LavfiVideoSource({ width: 640, height: 360 });
  const dev = new GbDevice({
    server: { id: SERVER, domain: SERVER.slice(0, 10), host: '127.0.0.1', port: sipPort, transport: 'UDP' },
    deviceId: DEVICE, password: 'bench', localHost: '127.0.0.1', localPort: 0, registerExpiresS: 3600, keepaliveS: 60, keepaliveRetries: 3,
    manufacturer: 'bwc-agent', name: 'bench', source, videoFor: () => video, liveFps: 25, liveKbps: 1000,
    log: createLogger({ level: 'silent' }),
  });
  try {
    const catalog = new Promise<number>((r) => dev.on('answered', (cmd: string) => cmd === 'Catalog' && r(now())));
    const first = new Promise<number>((r) => dev.on('first-rtp', (_ch: string, ms: number) => r(ms)));
    const t0 = now();
    await dev.start();
    const catalogMs = (await catalog) - t0;
    const firstRtpMs = await Promise.race([first, new Promise<undefined>((r) => setTimeout(r, 10_000))]);
    if (firstRtpMs === undefined) throw new Error('no RTP packet within 10 s of the start');
    return { catalogMs, firstRtpMs };
  } finally {
    await dev.stop();
    await sipp.stop();
    rtp.close();
  }
}

export async function run(): Promise<BenchRow[]> {
  const rounds: Array<{ catalogMs: number; firstRtpMs: number }> = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round());
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const max = (xs: number[]) => Math.max(...xs);
  const c = rounds.map((r) => r.catalogMs);
  const f = rounds.map((r) => r.firstRtpMs);
  return [
    { bench: 'gb28181', metric: `registration to answered Catalog, median of ${ROUNDS}`, value: Math.round(med(c)), unit: 'ms', goal: '<= 1000', met: med(c) <= 1000 },
    { bench: 'gb28181', metric: `registration to answered Catalog, worst of ${ROUNDS}`, value: Math.round(max(c)), unit: 'ms', goal: '<= 1000', met: max(c) <= 1000 },
    { bench: 'gb28181', metric: `INVITE to first RTP packet (encoder started by the INVITE), median of ${ROUNDS}`, value: Math.round(med(f)), unit: 'ms', goal: '<= 300', met: med(f) <= 300 },
    { bench: 'gb28181', metric: `INVITE to first RTP packet (encoder started by the INVITE), worst of ${ROUNDS}`, value: Math.round(max(f)), unit: 'ms', goal: '<= 300', met: max(f) <= 300 },
  ];
}

await runIfMain(import.meta.url, run);
