import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Backoff } from '../../drivers/transport/backoff.js';
import { describeError } from '../../common/errors.js';

export interface WillMessage {
  topic: string;
  payload: Buffer;
}

export interface MqttSessionOptions {
  /** Tried in turn, one per connection attempt. */
  brokers: string[];
  clientId: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  /** 5 first; falls back to 4 (3.1.1) when a broker refuses 5, and remembers it per broker. */
  protocolVersion: 4 | 5;
  username?: string;
  password?: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  reconnect: { minMs: number; maxMs: number; factor: number };
  /**
   * Called before every connection attempt for the number the session will
   * have if this attempt succeeds (Sparkplug bdSeq): the last will and the
   * birth both carry it. Failed attempts do not use a number up.
   */
  nextSession: () => number;
  /** Called on CONNACK, before 'up': the number now counts (persist it). */
  sessionEstablished?: (session: number) => void;
  will: (session: number) => WillMessage;
  log: Logger;
  /**
   * MQTT 5 topic aliases for the topics published with `{ alias: true }` (the
   * live fixes): each gets an alias of its own on its first publish of a
   * connection, while the broker's CONNACK maximum allows (mosquitto:
   * `max_topic_alias`, 10 by default), and is then sent as an empty name plus
   * the 3-byte alias property (MQTT.js autoUseTopicAlias). Aliases are never
   * reassigned: MQTT.js's least-recently-used reassignment (autoAssignTopicAlias)
   * lost live fixes through mosquitto 2.0.11 with more topics than the maximum.
   * Topics past the maximum, and every topic on MQTT 3.1.1, go out whole.
   */
  topicAliases?: boolean;
  /** Called each time an established connection is lost (metrics). */
  onReconnect?: () => void;
}

export interface SessionUp {
  session: number;
  broker: string;
  protocolVersion: 4 | 5;
}

/**
 * One logical MQTT session over many connections. Each connection attempt
 * uses a fresh MQTT.js client (single-use, as a transport), because the last
 * will must carry the session number of that very connection; MQTT.js's own
 * fixed-period reconnect is off and replaced by exponential backoff with
 * jitter over a list of brokers.
 *
 * Events: 'up' (SessionUp) after CONNACK, 'down' (reason) when the link is
 * lost, 'message' (topic, payload).
 */
export class MqttSession extends EventEmitter {
  private client: MqttClient | undefined;
  private readonly backoff: Backoff;
  private brokerIndex = 0;
  private readonly versionFor = new Map<string, 4 | 5>();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private subscriptions: string[] = [];
  private current: SessionUp | undefined;
  /** Topic aliases given out on the current connection, and the broker's maximum for it. */
  private aliases = new Map<string, number>();
  private aliasMax = 0;
  reconnects = 0;

  constructor(private readonly opts: MqttSessionOptions) {
    super();
    this.backoff = new Backoff({ minMs: opts.reconnect.minMs, maxMs: opts.reconnect.maxMs, factor: opts.reconnect.factor });
  }

  get connected(): boolean {
    return this.current !== undefined && this.client?.connected === true;
  }

  get up(): SessionUp | undefined {
    return this.connected ? this.current : undefined;
  }

  start(): void {
    this.stopped = false;
    this.attempt();
  }

  /** Topic filters subscribed at QoS 1 on every connection. */
  subscribe(filters: string[]): void {
    this.subscriptions = [...new Set([...this.subscriptions, ...filters])];
    if (this.connected) this.client!.subscribe(filters, { qos: 1 });
  }

  /**
   * Resolves on PUBACK (QoS 1) or when written (QoS 0); rejects when the link
   * drops first. `alias`: a hot topic worth a topic alias (see topicAliases).
   */
  publish(topic: string, payload: Uint8Array, opts: { qos: 0 | 1; retain?: boolean; alias?: boolean }): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('not connected'));
    const properties = opts.alias ? this.aliasToRegister(topic) : undefined;
    return new Promise((resolve, reject) => {
      client.publish(
        topic,
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        { qos: opts.qos, retain: opts.retain ?? false, ...(properties ? { properties } : {}) },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** The alias property for a topic's first aliased publish on this connection; MQTT.js uses it by itself afterwards. */
  private aliasToRegister(topic: string): { topicAlias: number } | undefined {
    if (this.aliases.has(topic) || this.aliases.size >= this.aliasMax) return undefined;
    const alias = this.aliases.size + 1;
    this.aliases.set(topic, alias);
    return { topicAlias: alias };
  }

  /** Topics sent by alias on this connection (for metrics and tests). */
  get aliasedTopics(): number {
    return this.aliases.size;
  }

  /** Bytes queued in the socket but not yet sent: the publisher throttles on it. */
  get pendingWrites(): number {
    const stream = (this.client as unknown as { stream?: { writableLength?: number } } | undefined)?.stream;
    return stream?.writableLength ?? 0;
  }

  /**
   * Clean stop: publishes `final` (the retained "offline" state) when given
   * and connected, then disconnects. A clean DISCONNECT suppresses the will,
   * which is why the offline state is published by hand first.
   */
  async stop(final?: WillMessage): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (final && client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        client.publish(final.topic, final.payload, { qos: 1, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }

  /** Drops the connection as if the link broke (for tests of the will). */
  forceDisconnect(): void {
    this.client?.stream?.destroy();
  }

  private attempt(): void {
    if (this.stopped) return;
    const broker = this.opts.brokers[this.brokerIndex % this.opts.brokers.length]!;
    const version = this.versionFor.get(broker) ?? this.opts.protocolVersion;
    const session = this.opts.nextSession();
    const will = this.opts.will(session);
    const options: IClientOptions = {
      clientId: this.opts.clientId,
      protocolVersion: version,
      keepalive: this.opts.keepaliveS,
      connectTimeout: this.opts.connectTimeoutMs,
      reconnectPeriod: 0,
      clean: true,
      resubscribe: false,
      // MQTT.js otherwise pre-builds a 2-byte Buffer for each of the 65,536
      // packet ids on the first write: 6 MB of heap, kept for the process's life
      // (a tenth of a handheld's budget), to save one tiny allocation a publish.
      writeCache: false,
      ...(version === 5 && this.opts.topicAliases ? { autoUseTopicAlias: true } : {}),
      will: { topic: will.topic, payload: will.payload, qos: 1, retain: true },
      username: this.opts.username,
      password: this.opts.password,
      ...(this.opts.tls
        ? { ca: this.opts.tls.ca, cert: this.opts.tls.cert, key: this.opts.tls.key, rejectUnauthorized: this.opts.tls.rejectUnauthorized }
        : {}),
    };
    const log = this.opts.log.child({ broker, protocolVersion: version, session });
    log.debug('connecting');
    const client = mqtt.connect(broker, options);
    this.client = client;
    let connected = false;
    let failed = false;

    const fail = (reason: string, refusedVersion: boolean) => {
      if (failed || this.client !== client) return;
      failed = true;
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      this.client = undefined;
      const wasUp = connected;
      this.current = undefined;
      if (wasUp) {
        this.reconnects++;
        this.opts.onReconnect?.();
        log.warn({ reason }, 'broker connection lost');
        this.emit('down', reason);
      } else if (!(refusedVersion && version === 5)) {
        log.warn({ reason }, 'cannot connect to broker');
      }
      if (this.stopped) return;
      if (refusedVersion && version === 5) {
        // The broker speaks 3.1.1 only (aedes, old brokers): retry at once.
        log.info('broker refused MQTT 5, falling back to 3.1.1');
        this.versionFor.set(broker, 4);
        this.timer = setTimeout(() => this.attempt(), 0);
        return;
      }
      if (!wasUp) this.brokerIndex++;
      const delay = this.backoff.next();
      log.info({ delayMs: delay }, 'reconnecting');
      this.timer = setTimeout(() => this.attempt(), delay);
    };

    client.on('connect', (connack) => {
      this.aliases = new Map();
      this.aliasMax = version === 5 && this.opts.topicAliases ? Math.min(0xffff, connack.properties?.topicAliasMaximum ?? 0) : 0;
      // MQTT packets are small and each is awaited (PUBACK): Nagle would
      // hold a publish behind the previous one's ACK. TLS sockets have it too.
      (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      connected = true;
      this.opts.sessionEstablished?.(session);
      this.backoff.reset();
      this.current = { session, broker, protocolVersion: version };
      log.info('connected to broker');
      if (this.subscriptions.length > 0) client.subscribe(this.subscriptions, { qos: 1 });
      this.emit('up', this.current);
    });
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
    client.on('error', (err: Error & { code?: number }) => {
      const refused = /protocol version/i.test(err.message) || err.code === 1 || err.code === 132;
      fail(describeError(err), !connected && refused);
    });
    client.on('close', () => {
      fail('connection closed', false);
    });
    client.on('offline', () => fail('offline', false));
  }
}
