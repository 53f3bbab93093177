import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { Topics } from '../../protocol/topics.js';
import { FleetDecoder, type FleetRecord } from '../../console/fleet/fleet-decoder.js';
import { SeqTracker } from '../../console/fleet/seq-tracker.js';

/**
 * A subscriber to the whole fleet, as the platform would be: decodes every
 * message, keeps them, and accounts sequence numbers per device (retained
 * copies replayed on resubscribe are not new messages and are left out).
 */
export class FleetRecorder {
  readonly records: Array<FleetRecord & { receivedMs: number }> = [];
  readonly seqs = new SeqTracker();
  private constructor(private readonly client: MqttClient) {}

  /**
   * `persistent`: an MQTT 5 session that outlives a broker restart (with a
   * persistent broker), so nothing published while this subscriber was
   * reconnecting is lost to it.
   */
  static async start(url: string, prefix = 'bwc/v1', opts: { persistent?: boolean } = {}): Promise<FleetRecorder> {
    const topics = new Topics(prefix);
    const client = await mqtt.connectAsync(url, {
      reconnectPeriod: 300,
      resubscribe: true,
      protocolVersion: 5,
      ...(opts.persistent
        ? { clientId: `recorder-${randomBytes(4).toString('hex')}`, clean: false, properties: { sessionExpiryInterval: 3600 } }
        : { clean: true }),
    });
    const rec = new FleetRecorder(client);
    const decoder = new FleetDecoder(topics);
    client.on('error', () => {});
    client.on('message', (topic, payload, packet) => {
      for (const r of decoder.decode(topic, payload)) {
        const retainedCopy = packet.retain;
        if (!retainedCopy && r.device !== undefined && r.seq !== undefined) rec.seqs.add(r.device, r.seq);
        rec.records.push({ ...r, receivedMs: Date.now(), ...(retainedCopy ? { retainedCopy: true } : {}) });
      }
    });
    await client.subscribeAsync(`${prefix}/#`, { qos: 1 });
    return rec;
  }

  fixes(device?: string): Array<FleetRecord & { receivedMs: number }> {
    return this.records.filter((r) => r.type === 'fix' && (device === undefined || r.device === device));
  }

  async waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
