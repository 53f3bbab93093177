import mqtt, { type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { Topics } from '../../protocol/topics.js';
import { FleetDecoder, type FleetRecord } from '../../console/fleet/fleet-decoder.js';
import { waitFor } from './chaos-kit.js';

export type Received = FleetRecord & { receivedMs: number; retainedCopy?: boolean };

/**
 * The platform's subscriber, with a persistent session (MQTT 5, session
 * expiry of an hour, QoS 1): what the broker accepted while this subscriber
 * was cut off from a stopped broker is delivered when both are back, so a
 * loss counted here is the agent's, not the test subscriber's.
 */
export class PersistentRecorder {
  readonly records: Received[] = [];
  private constructor(private readonly client: MqttClient) {}

  static async start(url: string, prefix = 'bwc/v1'): Promise<PersistentRecorder> {
    const topics = new Topics(prefix);
    const client = await mqtt.connectAsync(url, {
      clientId: `chaos-recorder-${randomBytes(4).toString('hex')}`,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 200,
      connectTimeout: 3000,
      resubscribe: true,
    });
    const rec = new PersistentRecorder(client);
    const decoder = new FleetDecoder(topics);
    client.on('error', () => {});
    client.on('message', (topic, payload, packet) => {
      for (const r of decoder.decode(topic, payload)) {
        rec.records.push({ ...r, receivedMs: Date.now(), ...(packet.retain ? { retainedCopy: true } : {}) });
      }
    });
    await client.subscribeAsync(`${prefix}/#`, { qos: 1 });
    return rec;
  }

  fixes(device?: string): Received[] {
    return this.records.filter((r) => r.type === 'fix' && (device === undefined || r.device === device));
  }

  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return waitFor(pred, timeoutMs, what);
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }
}
