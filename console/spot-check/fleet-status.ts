import { randomInt } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { FleetDecoder } from '../fleet/fleet-decoder.js';
import type { Topics } from '../../protocol/topics.js';

export interface DeviceStatus {
  device: string;
  online: boolean;
  /** off, pre_record, recording */
  recording: string;
  officer?: string;
}

/**
 * The fleet as the broker knows it: every device's retained status (online,
 * recording, officer). Waits until the retained messages stop coming (they
 * arrive right after the subscription), at most `maxMs`.
 */
export async function readFleetStatus(client: MqttClient, topics: Topics, opts: { settleMs?: number; maxMs?: number } = {}): Promise<Map<string, DeviceStatus>> {
  const settleMs = opts.settleMs ?? 400;
  const maxMs = opts.maxMs ?? 3000;
  const out = new Map<string, DeviceStatus>();
  const filter = topics.allDevices('status');
  const decoder = new FleetDecoder(topics);
  let lastAt = Date.now();
  const onMessage = (topic: string, payload: Buffer) => {
    if (!topic.endsWith('/status')) return;
    for (const r of decoder.decode(topic, payload)) {
      if (r.type !== 'status' || typeof r.device !== 'string') continue;
      const o = r.officer as { officerNumber?: string; name?: string } | undefined;
      out.set(r.device, {
        device: r.device,
        online: r.online === true,
        recording: String(r.recording ?? 'off'),
        ...(o?.officerNumber ? { officer: o.name ? `${o.officerNumber} ${o.name}` : o.officerNumber } : {}),
      });
      lastAt = Date.now();
    }
  };
  client.on('message', onMessage);
  try {
    const start = Date.now();
    lastAt = start;
    await client.subscribeAsync(filter, { qos: 1 });
    // Retained messages follow the SUBACK at once; a quiet spell means they are all in.
    while (Date.now() - start < maxMs && (out.size === 0 ? Date.now() - start < Math.max(settleMs * 3, 1200) : Date.now() - lastAt < settleMs)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.unsubscribeAsync(filter).catch(() => undefined);
  } finally {
    client.off('message', onMessage);
  }
  return out;
}

/** n distinct items picked uniformly at random (Fisher-Yates on a copy; a cryptographic source, so officers cannot predict who is next). */
export function pickRandom<T>(items: readonly T[], n: number, random: () => number = () => randomInt(0, 2 ** 47) / 2 ** 47): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}
