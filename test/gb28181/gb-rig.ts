import { Writable } from 'node:stream';
import type { Fix } from '../../protocol/fix.js';
import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import { createLogger, type Logger } from '../../common/log.js';
import type { ChannelSource, GbChannel } from '../../agent/gb28181/channel-source.js';
import { GbDevice, type GbDeviceOptions } from '../../agent/gb28181/gb-device.js';
import type { TapTest } from '../helpers/tap-test.js';

export const SERVER_ID = '34020000002000000001';
export const DOMAIN = '3402000000';
export const DEVICE_ID = '34020000001180000005';
export const CHAN_A = '34020000001310000001';
export const CHAN_B = '34020000001310000002';
export const PASSWORD = 'Bwc#28181';

/** Log lines as objects, to check what the device said. */
export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: sink }), lines };
}

/**
 * Two cameras as the agent knows them: A connected and moving (a new fix
 * every 250 ms along a street in Shangyu), B unplugged and without a fix.
 */
export class TwoCameras implements ChannelSource {
  private readonly sos = new Set<(id: string) => void>();
  fixA: Fix | undefined;
  private timer: NodeJS.Timeout;
  readonly recordingList: RecordingInfo[];
  readonly recordings = (deviceId: string, r: { fromMs: number; toMs: number }) => this.recordingsOf(deviceId, r);

  constructor(now = Date.now()) {
    let n = 0;
    const step = () => {
      n++;
      this.fixA = { timeMs: Date.now(), lat: 30.0597183 + n * 1e-5, lon: 121.15751 + n * 1e-5, mode: 3, alt: 12.3, speed: 1.39, course: 45 };
    };
    step();
    this.timer = setInterval(step, 250);
    const rec = (id: string, startMs: number, trigger: RecordingInfo['trigger']): RecordingInfo => ({
      id, startMs, endMs: startMs + 600_000, size: 50_000_000 + startMs % 1000, sha256: '00'.repeat(32), officerNumber: '010001', trigger, contentType: 'video/mp4',
    });
    this.recordingList = [rec('REC-1', now - 3 * 3_600_000, 'manual'), rec('REC-2', now - 2 * 3_600_000, 'sos'), rec('REC-3', now - 30 * 3_600_000, 'manual')];
  }

  channels(): GbChannel[] {
    return [
      { deviceId: 'BWC-0001', channelId: CHAN_A, officerNumber: '010001', officerName: '张三', online: true, recording: true, fix: this.fixA, model: 'BWC-R1' },
      { deviceId: 'BWC-0002', channelId: CHAN_B, officerNumber: '010002', officerName: '李四', online: false },
    ];
  }

  async recordingsOf(deviceId: string, r: { fromMs: number; toMs: number }): Promise<RecordingInfo[]> {
    return deviceId === 'BWC-0001' ? this.recordingList.filter((x) => x.endMs >= r.fromMs && x.startMs <= r.toMs) : [];
  }

  onSos(cb: (id: string) => void): () => void {
    this.sos.add(cb);
    return () => this.sos.delete(cb);
  }

  pressSos(id: string): void {
    for (const cb of this.sos) cb(id);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

export function startDevice(t: TapTest, o: Partial<GbDeviceOptions> & { port: number; transport: 'UDP' | 'TCP'; source: ChannelSource; log: Logger }): GbDevice {
  const dev = new GbDevice({
    server: { id: SERVER_ID, domain: DOMAIN, host: '127.0.0.1', port: o.port, transport: o.transport },
    deviceId: DEVICE_ID,
    password: PASSWORD,
    localHost: '127.0.0.1',
    localPort: 0,
    registerExpiresS: 3600,
    keepaliveS: 1,
    keepaliveRetries: 3,
    manufacturer: 'bwc-agent',
    name: 'gw-test',
    retryMs: 1000,
    ...o,
  });
  t.teardown(() => dev.stop());
  return dev;
}
