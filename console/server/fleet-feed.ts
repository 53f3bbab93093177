import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { MqttClient } from 'mqtt';
import { describeError } from '../../common/errors.js';
import type { Topics } from '../../protocol/topics.js';
import { connectConsole } from '../fleet/broker-connect.js';
import { FleetDecoder } from '../fleet/fleet-decoder.js';
import type { StoredFix, TrackStore } from '../store/track-store.js';
import type { FleetState } from './fleet-state.js';

export interface FleetFeedOptions {
  broker: string;
  topics: Topics;
  store: TrackStore;
  state: FleetState;
  /** Stable client id: the broker keeps the session (and queues QoS 1 messages) while the console is away. */
  clientId: string;
  /** Share the track ingest with other console instances of this group ($share/GROUP/...). */
  group?: string;
  warn?: (msg: string) => void;
}

/** A client id that stays the same across restarts of the same console (host and data folder). */
export function consoleClientId(dataDir: string): string {
  return `bwc-console-${createHash('sha256').update(`${hostname()}\0${dataDir}`).digest('hex').slice(0, 12)}`;
}

/**
 * The subscriber that feeds the track store and the live state: a
 * persistent session (clean start off, a week's expiry) with QoS 1
 * subscriptions, so fixes published while the console was down or
 * disconnected are delivered when it is back. Track topics may be shared
 * between console instances; status, events and agent states are not
 * (every console shows the whole fleet and every alarm).
 */
export class FleetFeed {
  private client: MqttClient | undefined;
  private queue: StoredFix[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failing = false;
  received = 0;
  stored = 0;

  private readonly decoder: FleetDecoder;

  constructor(private readonly o: FleetFeedOptions) {
    this.decoder = new FleetDecoder(o.topics);
  }

  async start(): Promise<void> {
    const t = this.o.topics;
    const client = await connectConsole(this.o.broker, {
      clientId: this.o.clientId, clean: false, reconnectPeriod: 1000, properties: { sessionExpiryInterval: 7 * 24 * 3600 },
    }, 10_000, (c) => c.on('message', (topic, payload) => this.onMessage(topic, payload)));
    this.client = client;
    client.on('error', (err) => this.o.warn?.(`broker: ${describeError(err)}`));
    const share = (f: string) => (this.o.group ? t.shared(this.o.group, f) : f);
    await client.subscribeAsync({
      [share(t.allDevices('live'))]: { qos: 1 },
      [share(t.allDevices('track'))]: { qos: 1 },
      [share(t.allDevices('track/hist'))]: { qos: 1 },
      [t.allDevices('status')]: { qos: 1 },
      [t.allDevices('event')]: { qos: 1 },
      [`${t.prefix}/agent/+/state`]: { qos: 1 },
    });
    this.timer = setInterval(() => void this.flush(), 200);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const now = Date.now();
    for (const r of this.decoder.decode(topic, payload, now)) {
      if (r.type === 'fix') {
        const f: StoredFix = { device: String(r.device), timeMs: Date.parse(String(r.time)), lat: Number(r.lat), lon: Number(r.lon) };
        for (const k of ['seq', 'alt', 'speed', 'course', 'hdop', 'sats'] as const) if (typeof r[k] === 'number') f[k] = r[k] as number;
        if (r.historical === true) f.historical = true;
        this.received++;
        this.queue.push(f);
        this.o.state.fix(f, now);
      } else if (r.type === 'error') {
        this.o.warn?.(`undecodable message on ${topic}: ${String(r.error)}`);
      } else {
        this.o.state.apply(r, now);
      }
    }
    if (this.queue.length >= 5000) void this.flush();
  }

  /** Writes what is queued; a store that fails keeps the fixes queued and is tried again. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.queue.length) return Promise.resolve();
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.o.store.insert(batch).then(
      () => {
        this.stored += batch.length;
        if (this.failing) this.o.warn?.('track store writes again');
        this.failing = false;
      },
      (err) => {
        if (!this.failing) this.o.warn?.(`track store write failed, keeping ${batch.length} fixes to retry: ${describeError(err)}`);
        this.failing = true;
        this.queue = batch.concat(this.queue);
      },
    ).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await this.client?.endAsync().catch(() => undefined);
  }
}
