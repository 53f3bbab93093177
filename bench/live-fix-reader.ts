import type { Fix } from '../protocol/fix.js';
import { LiveReferences } from '../protocol/live-codec.js';
import { decodeTrackBatch } from '../protocol/track-codec.js';
import { Topics } from '../protocol/topics.js';

/**
 * The live fixes in what a benchmark's subscriber receives, whichever live
 * form the agent uses: `live` (compact, placed against the device's previous
 * live fix) or a one-fix `track` batch. Historical batches are not live.
 */
export class LiveFixReader {
  static readonly filters = (topics: Topics) => [topics.allDevices('live'), topics.allDevices('track')];
  private readonly refs = new LiveReferences();

  constructor(private readonly topics = new Topics()) {}

  read(topic: string, payload: Buffer): { deviceId: string; fixes: Fix[] } | undefined {
    const where = this.topics.parse(topic);
    if (where?.kind !== 'device') return undefined;
    if (where.channel === 'live') return { deviceId: where.deviceId, fixes: this.refs.decode(where.deviceId, payload).map((l) => l.fix) };
    if (where.channel !== 'track') return undefined;
    const b = decodeTrackBatch(payload);
    return b.historical ? undefined : { deviceId: where.deviceId, fixes: b.fixes };
  }
}
