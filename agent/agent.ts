import { readFileSync } from 'node:fs';
import { openVideoSource } from '../drivers/video/open-video-source.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load-config.js';
import { Topics } from '../protocol/topics.js';
import { encodeMessage } from '../protocol/codec.js';
import { describeError } from '../common/errors.js';
import { AGENT_VERSION } from '../common/version.js';
import { SqliteMessageBuffer } from './buffer/sqlite-message-buffer.js';
import type { MessageBuffer, NewMessage } from './buffer/message-buffer.js';
import { MqttSession, type WillMessage } from './mqtt/mqtt-session.js';
import { Publisher } from './publisher.js';
import { DeviceRuntime, type DeviceSettings } from './device-runtime.js';
import { SessionCounter } from './session-counter.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { startHttpServer } from './metrics/http-server.js';
import { encodeBody } from '../protocol/codec.js';
import { CommandHandler } from './commands/command-handler.js';
import { CommandVerifier } from './commands/command-verifier.js';
import { TrustedKeys } from '../common/command-keys.js';
import { ReplayStore } from './commands/replay-store.js';
import { RateLimiter } from './commands/rate-limiter.js';
import { AuditLog } from './audit/audit-log.js';
import { CommandIntake } from './commands/command-intake.js';
import { AnchorPublisher } from './audit/anchor-publisher.js';
import { loadOrCreateAgentKey } from './audit/agent-key.js';
import { RefusalTally } from './commands/refusal-tally.js';
import { MediaSender } from './media/media-sender.js';
import { FootageAccess } from './media/footage-access.js';
import { UsbWatcher, type UsbTty } from '../drivers/discovery/index.js';
import { checkTopicId } from '../protocol/topics.js';
import { GbDevice } from './gb28181/gb-device.js';
import { AgentChannels } from './gb28181/agent-channels.js';
import { Checkpointer, deviceKeyLoader } from './device-auth/checkpointer.js';
import { credentialPaths } from './technician/device-credentials.js';

type Config = LoadedConfig['config'];

/**
 * The composition root: configuration in, devices → pipeline → buffer →
 * MQTT out. Nothing else knows all the parts.
 */
export class Agent {
  readonly devices = new Map<string, DeviceRuntime>();
  readonly metrics: AgentMetrics;
  readonly topics: Topics;
  readonly buffer: MessageBuffer;
  readonly session: MqttSession;
  readonly publisher: Publisher;
  readonly auth: Checkpointer;
  private readonly sessions: SessionCounter;
  readonly commands: CommandHandler;
  /** Where recordings are read from (a mounted footage folder, else the control channel): clip fetches and GB/T 28181 playback. */
  private readonly footage: FootageAccess;
  private readonly intake: CommandIntake;
  private readonly refusals: RefusalTally;
  private readonly anchors: AnchorPublisher;
  private readonly replays: ReplayStore;
  private readonly audit: AuditLog;
  private http: { port: number; close(): Promise<void> } | undefined;
  private usb: UsbWatcher | undefined;
  private readonly droppedByDevice = new Map<string, number>();
  /** Fixes lost off the in-memory ring while the disk was full, per device (also in droppedByDevice). */
  private readonly ringLostByDevice = new Map<string, number>();
  /** Discovered devices by USB serial (or port path), with the ports they use. */
  private readonly discovered = new Map<string, { deviceId: string; ports: Set<string> }>();
  private stopped = false;
  /** The GB/T 28181 device, when gb28181 is configured. */
  gb: GbDevice | undefined;
  private gbChannels: AgentChannels | undefined;

  private constructor(
    readonly loaded: LoadedConfig,
    readonly log: Logger,
  ) {
    const cfg = loaded.config;
    this.topics = new Topics(cfg.mqtt.topicPrefix);
    this.metrics = new AgentMetrics({ bufferedRows: () => this.buffer.stats().rows });
    this.sessions = new SessionCounter(join(cfg.agent.dataDir, 'session'));
    const opened = SqliteMessageBuffer.open({
      path: cfg.buffer.path ?? join(cfg.agent.dataDir, 'buffer.db'),
      maxRows: cfg.buffer.maxRows,
      maxBytes: cfg.buffer.maxBytes,
      maxAgeMs: cfg.buffer.maxAgeHours * 3_600_000,
      syncIntervalMs: cfg.buffer.syncIntervalMs,
      memoryFixesPerDevice: memoryRingSize(cfg.buffer.memoryMinutes),
      log: log.child({ component: 'buffer' }),
    });
    this.buffer = opened;
    if (opened.recovered) {
      log.error(opened.recovered, 'buffer database was unreadable: moved aside and started a fresh one; its unsent messages are lost');
    }
    this.buffer.onDrop((d) => {
      this.metrics.bufferDropped.inc({ reason: d.reason }, d.count);
      this.droppedByDevice.set(d.deviceId, (this.droppedByDevice.get(d.deviceId) ?? 0) + d.count);
      if (d.reason === 'memory_full') this.ringLostByDevice.set(d.deviceId, (this.ringLostByDevice.get(d.deviceId) ?? 0) + d.count);
      log.warn(d, 'buffer full: dropped messages');
    });
    this.session = new MqttSession({
      brokers: cfg.mqtt.brokers,
      clientId: cfg.mqtt.clientId ?? `bwc-agent-${cfg.agent.id}`,
      keepaliveS: cfg.mqtt.keepaliveS,
      connectTimeoutMs: cfg.mqtt.connectTimeoutMs,
      protocolVersion: cfg.mqtt.protocolVersion,
      topicAliases: cfg.mqtt.topicAliases,
      username: cfg.mqtt.username,
      password: loaded.secrets.mqttPassword,
      tls: cfg.mqtt.tls
        ? {
            ca: cfg.mqtt.tls.caFile ? readFileSync(cfg.mqtt.tls.caFile) : undefined,
            cert: cfg.mqtt.tls.certFile ? readFileSync(cfg.mqtt.tls.certFile) : undefined,
            key: loaded.secrets.tlsKey,
            rejectUnauthorized: cfg.mqtt.tls.rejectUnauthorized,
          }
        : undefined,
      reconnect: cfg.mqtt.reconnect,
      nextSession: () => this.sessions.upcoming,
      sessionEstablished: (session) => this.sessions.established(session),
      will: (session) => this.stateMessage(session, false, 'connection lost'),
      log: log.child({ component: 'mqtt' }),
      onReconnect: () => this.metrics.reconnects.inc(),
    });
    this.publisher = new Publisher({
      buffer: this.buffer,
      session: this.session,
      topics: this.topics,
      log: log.child({ component: 'publisher' }),
      metrics: this.metrics,
      historicalBatchSize: cfg.publish.historicalBatchSize,
      historicalWindow: cfg.publish.historicalWindow,
      historicalMaxPerS: cfg.publish.historicalMaxPerS,
      liveForm: cfg.publish.liveForm,
      liveFullEveryMs: cfg.publish.liveFullEveryS * 1000,
      devices: () => this.devices.keys(),
    });
    this.auth = new Checkpointer({
      session: this.session,
      topics: this.topics,
      log: log.child({ component: 'device-auth' }),
      intervalMs: cfg.security.checkpointIntervalS * 1000,
      keyOf: deviceKeyLoader((id) => credentialPaths(cfg.agent.dataDir, id, 'keypair').secretFile, log.child({ component: 'device-auth' })),
      stateFile: join(cfg.agent.dataDir, 'auth-chain.json'),
    });
    this.replays = new ReplayStore(join(cfg.agent.dataDir, 'commands.db'));
    this.audit = new AuditLog(cfg.audit.path ?? join(cfg.agent.dataDir, 'audit.log'));
    if (this.audit.brokenAtStart) log.error(this.audit.brokenAtStart, 'audit log chain was broken at start: set aside as evidence, a new chain started');
    const agentKey = loadOrCreateAgentKey(cfg.agent.dataDir);
    if (agentKey.created) log.info({ file: agentKey.file, keyId: agentKey.keyId }, 'agent key created: it signs the audit anchors');
    this.anchors = new AnchorPublisher({
      agentId: cfg.agent.id,
      audit: this.audit,
      key: agentKey,
      session: this.session,
      topic: this.topics.agent(cfg.agent.id, 'audit'),
      intervalMs: cfg.audit.anchorIntervalS * 1000,
      log: log.child({ component: 'audit' }),
    });
    this.refusals = new RefusalTally({
      audit: this.audit,
      log: log.child({ component: 'commands' }),
      intervalMs: cfg.security.refusalSummaryS * 1000,
      singlyPerInterval: 5,
      replyBurst: 20,
      repliesPerS: 5,
    });
    const media = new MediaSender({
      session: this.session,
      topics: this.topics,
      log: log.child({ component: 'media' }),
      maxKbps: cfg.publish.mediaMaxKbps,
      tracksWaiting: () => this.publisher.tracksWaiting,
    });
    this.footage = new FootageAccess((id) => cfg.devices.find((d) => d.id === id)?.footageDir, log.child({ component: 'footage' }));
    this.commands = new CommandHandler({
      verifier: new CommandVerifier({
        keys: TrustedKeys.fromConfig(cfg.security.trustedKeys),
        replays: this.replays,
        rateLimiter: new RateLimiter(cfg.security.rateLimitPerIssuerPerMin),
        maxBytes: cfg.security.commandMaxBytes,
        maxClockSkewMs: cfg.security.maxClockSkewS * 1000,
        maxValidityMs: 3_600_000,
      }),
      audit: this.audit,
      tally: this.refusals,
      media,
      device: (id) => this.devices.get(id),
      ffmpegPath: cfg.liveFeed.ffmpeg,
      videoSource: (id, camera) => openVideoSource(id, cfg.devices.find((x) => x.id === id) ?? {}, camera, cfg.liveFeed.ffmpeg, cfg.liveFeed.transcodeMaxKbps),
      writeReply: (deviceId, body) => this.write([{ deviceId, kind: 'reply', timeMs: Date.now(), payload: encodeBody('Reply', body) }]),
      liveFeed: cfg.liveFeed,
      footage: this.footage,
      log: log.child({ component: 'commands' }),
    });
    this.intake = new CommandIntake({ handler: this.commands, tally: this.refusals, capacity: cfg.security.commandQueue, registry: this.metrics.registry, log: log.child({ component: 'commands' }) });
    // Commands only enter a bounded queue here: reading and publishing fixes come first.
    this.session.on('message', (topic: string, payload: Buffer) => {
      const where = this.topics.parse(topic);
      if (where?.kind === 'device' && where.channel === 'cmd' && this.devices.has(where.deviceId)) this.intake.offer(where.deviceId, payload);
    });
    this.refusals.start();
    this.session.on('up', ({ session }: { session: number }) => {
      const birth = this.stateMessage(session, true);
      this.session.publish(birth.topic, birth.payload, { qos: 1, retain: true }).catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'birth message not acknowledged');
      });
      for (const d of this.devices.values()) d.writeStatus();
      void this.anchors.publish();
    });
    this.anchors.start();
  }

  static async start(loaded: LoadedConfig, log: Logger): Promise<Agent> {
    const agent = new Agent(loaded, log);
    const cfg = loaded.config;
    for (const d of cfg.devices) agent.addDevice({ id: d.id, gnss: d.gnss, baud: d.baud, control: d.control, profile: d.profile });
    agent.auth.recover(agent.buffer, cfg.devices.map((d) => d.id));
    agent.auth.start();
    agent.session.start();
    if (cfg.discovery.enabled) agent.startDiscovery();
    if (cfg.gb28181) void agent.startGb();
    if (cfg.http?.enabled) {
      agent.http = await startHttpServer({
        host: cfg.http.host,
        port: cfg.http.port,
        metrics: agent.metrics,
        health: () => agent.health(),
      });
      log.info({ port: agent.http.port }, 'health and metrics endpoint listening');
    }
    return agent;
  }

  /**
   * GB/T 28181 device mode: a failure to start (the SIP port taken) is logged
   * and leaves the MQTT side running; the device retries registration itself.
   */
  private async startGb(): Promise<void> {
    const cfg = this.loaded.config;
    const gb = cfg.gb28181!;
    const log = this.log.child({ component: 'gb28181' });
    this.gbChannels = new AgentChannels({ gbDeviceId: gb.deviceId, configured: cfg.devices, devices: () => this.devices, footage: this.footage });
    const channels = this.gbChannels;
    this.gb = new GbDevice({
      server: gb.server,
      deviceId: gb.deviceId,
      password: this.loaded.secrets.gbPassword,
      localHost: gb.localHost,
      localPort: gb.localPort,
      advertisedHost: gb.advertisedHost,
      registerExpiresS: gb.registerExpiresS,
      keepaliveS: gb.keepaliveS,
      keepaliveRetries: gb.keepaliveRetries,
      manufacturer: gb.manufacturer,
      civilCode: gb.civilCode,
      name: cfg.agent.id,
      source: channels,
      videoFor: (id) => channels.videoFor(id),
      log,
    });
    // The platform asks for the catalog right after registration: give the cameras a moment to say who carries them.
    const until = Date.now() + 5000;
    while (!this.stopped && Date.now() < until && [...this.devices.values()].some((d) => d.settings.control && !d.identity)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (this.stopped) return;
    try {
      await this.gb.start();
    } catch (err) {
      log.error({ err: describeError(err) }, 'GB/T 28181 device could not start; the MQTT side runs on');
      this.gb = undefined;
    }
  }

  get httpPort(): number | undefined {
    return this.http?.port;
  }

  addDevice(settings: DeviceSettings): DeviceRuntime {
    const cfg = this.loaded.config;
    const runtime = new DeviceRuntime(settings, {
      log: this.log.child({ component: 'device' }),
      metrics: this.metrics,
      write: (msgs) => this.write(msgs),
      filter: {
        minMode: cfg.pipeline.minMode,
        maxHdop: cfg.pipeline.maxHdop,
        maxSpeedMps: settings.profile === 'vehicle' ? cfg.pipeline.maxSpeedMps.vehicle : cfg.pipeline.maxSpeedMps.foot,
        bounds: settings.profile === 'vehicle' ? cfg.pipeline.bounds.vehicle : cfg.pipeline.bounds.foot,
      },
      profile: settings.profile,
      reporting: cfg.reporting,
      reconnect: cfg.devicePorts.reconnect,
      statusIntervalMs: cfg.devicePorts.statusIntervalS * 1000,
      lowBatteryPct: cfg.devicePorts.lowBatteryPct,
      controlTimeoutMs: cfg.devicePorts.controlTimeoutMs,
      bufferDropped: () => this.droppedByDevice.get(settings.id) ?? 0,
      onEvent: (deviceId, name) => {
        if (name === 'sos') this.gbChannels?.sosRaised(deviceId);
      },
      agentId: cfg.agent.id,
      ringLost: () => this.ringLostByDevice.get(settings.id) ?? 0,
    });
    this.devices.set(settings.id, runtime);
    this.session.subscribe([this.topics.device(settings.id, 'cmd')]);
    runtime.start();
    return runtime;
  }

  /**
   * USB discovery: a matching camera plugged in later runs within about a
   * poll period. Its ports are grouped by USB serial number: interface 00
   * carries NMEA, another interface of the same device the control channel.
   * Configured devices keep their ports; discovery never takes those.
   */
  startDiscovery(sysRoot?: string, devRoot?: string): void {
    const cfg = this.loaded.config;
    const configuredPorts = new Set(cfg.devices.flatMap((d) => [d.gnss, d.control].filter((p): p is string => !!p)));
    this.usb = new UsbWatcher({ sysRoot, devRoot, intervalMs: cfg.discovery.pollMs, match: cfg.discovery.usb });
    this.usb.on('added', (tty) => {
      if (configuredPorts.has(tty.path) || (tty.byId && configuredPorts.has(tty.byId))) return;
      void this.onUsbAdded(tty);
    });
    this.usb.on('removed', (tty) => void this.onUsbRemoved(tty));
    this.usb.start();
  }

  private usbKey(tty: UsbTty): string {
    return tty.serial ? `${tty.vendorId}:${tty.productId}:${tty.serial}` : tty.path;
  }

  private async onUsbAdded(tty: UsbTty): Promise<void> {
    const key = this.usbKey(tty);
    const model = this.loaded.config.discovery.usb.find((m) => m.vendorId.toLowerCase() === tty.vendorId && (!m.productId || m.productId.toLowerCase() === tty.productId));
    const entry = this.discovered.get(key) ?? { deviceId: discoveredId(tty), ports: new Set<string>() };
    entry.ports.add(tty.path);
    this.discovered.set(key, entry);
    const port = tty.byId ?? tty.path;
    const existing = this.devices.get(entry.deviceId);
    const isGnss = tty.interface === undefined || tty.interface === '00';
    const settings: DeviceSettings = {
      id: entry.deviceId,
      gnss: isGnss ? port : existing?.settings.gnss,
      control: isGnss ? existing?.settings.control : port,
      baud: 'auto',
      profile: model?.profile ?? 'foot',
    };
    if (existing) {
      await existing.stop();
      this.devices.delete(entry.deviceId);
    }
    this.log.info({ device: entry.deviceId, port, vendorId: tty.vendorId, productId: tty.productId, serial: tty.serial }, 'camera discovered on USB');
    this.addDevice(settings);
  }

  private async onUsbRemoved(tty: UsbTty): Promise<void> {
    const key = this.usbKey(tty);
    const entry = this.discovered.get(key);
    if (!entry) return;
    entry.ports.delete(tty.path);
    if (entry.ports.size > 0) return;
    this.discovered.delete(key);
    const runtime = this.devices.get(entry.deviceId);
    if (!runtime) return;
    this.log.info({ device: entry.deviceId, port: tty.path }, 'camera removed from USB');
    runtime.event('camera_disconnected', tty.path);
    await runtime.stop();
    this.devices.delete(entry.deviceId);
    this.metrics.removeDevice(entry.deviceId);
  }

  /** Buffer first, then publish: nothing reaches the broker that is not on disk. */
  write(msgs: NewMessage[]): void {
    const stored = this.buffer.append(msgs);
    this.auth.observe(stored);
    if (stored.length > 0) this.publisher.kick();
  }

  health(): { ok: boolean; detail: Record<string, unknown> } {
    const stats = this.buffer.stats();
    const devices: Record<string, unknown> = {};
    for (const [id, d] of this.devices) {
      devices[id] = { gnss: d.gnssConnected, control: d.controlConnected, lastFixAgeMs: d.lastFixSystemMs ? Date.now() - d.lastFixSystemMs : null };
    }
    const audit = { ...this.audit.head, ...(this.audit.brokenAtStart ? { brokenAtStart: this.audit.brokenAtStart } : {}) };
    return { ok: this.session.connected, detail: { broker: this.session.up ?? null, buffer: stats, devices, commands: this.intake.status(), audit } };
  }

  private stateMessage(session: number, online: boolean, reason?: string): WillMessage {
    const cfg = this.loaded.config;
    const payload = encodeMessage(
      'AgentState',
      { deviceId: cfg.agent.id, seq: session, session, sentMs: Date.now() },
      {
        online,
        session,
        agentVersion: AGENT_VERSION,
        devices: [...this.devices.keys()],
        configVersion: this.loaded.version,
        ...(reason ? { reason } : {}),
      },
    );
    return { topic: this.topics.agent(cfg.agent.id, 'state'), payload: Buffer.from(payload) };
  }

  /** Stops everything; resolves with the number of messages left in the buffer for the next start. */
  async stop(reason = 'shutdown'): Promise<number> {
    if (this.stopped) return 0;
    this.stopped = true;
    this.commands.stopAll();
    this.refusals.stop();
    this.anchors.stop();
    this.usb?.stop();
    await this.gb?.stop().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'GB/T 28181 device did not stop cleanly'));
    await Promise.all([...this.devices.values()].map((d) => d.stop()));
    // What is still buffered stays on disk for the next start; a short wait
    // lets the last few messages out first when the broker is there.
    const drainUntil = Date.now() + 3000;
    while (this.session.connected && this.buffer.stats().rows > 0 && Date.now() < drainUntil) {
      this.publisher.kick();
      await new Promise((r) => setTimeout(r, 20));
    }
    // Sign what is open, and let the checkpoint out while the link is up.
    this.auth.stop();
    const authUntil = Date.now() + 1000;
    while (this.session.connected && this.auth.unacknowledged > 0 && Date.now() < authUntil) await new Promise((r) => setTimeout(r, 20));
    const up = this.session.up;
    // A last anchor, so the platform holds the head as the agent left it.
    if (up) await this.anchors.publish();
    await this.session.stop(up ? this.stateMessage(up.session, false, reason) : undefined);
    await this.http?.close();
    const left = this.buffer.stats().rows;
    this.buffer.close();
    this.replays.close();
    this.audit.close();
    return left;
  }
}

/**
 * Fixes per device the buffer holds in memory while the disk is full: the
 * reporting policy sends at most one a second (minIntervalS), plus immediate
 * reports (SOS, recording changes, queries): 10 % on top covers those.
 */
export function memoryRingSize(minutes: number): number {
  return Math.ceil(minutes * 60 * 1.1);
}

/** A topic-safe device id for a discovered camera: its USB serial number when it has one. */
function discoveredId(tty: UsbTty): string {
  const raw = tty.serial ? `USB-${tty.serial}` : `USB-${tty.vendorId}-${tty.productId}-${tty.path.split('/').pop()}`;
  return checkTopicId('device', raw.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64));
}
