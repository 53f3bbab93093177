import { Type, type Static } from '@sinclair/typebox';
import { Bool, FilePath, GbId, Int, Num, SecretFile, Section, Strict, TopicId } from './schema-kit.js';

/**
 * The configuration of bwc-agent: the one source of the TypeScript types
 * (`BwcConfig`), the defaults (`Value.Default`), the environment overrides
 * (config/env-overrides.ts walks it) and the documentation (config/README.md
 * is rendered from the descriptions; a test keeps it current).
 */

const PORT_PATTERN = '^(/\\S+|(tcp|gpsd)://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:]+\\]):[0-9]{1,5})$';
const PORT_EXPECT = 'a device path (/dev/ttyUSB0, /dev/serial/by-id/...), tcp://host:port or gpsd://host:port';

function PortSpec(description: string) {
  return Type.String({ pattern: PORT_PATTERN, expect: PORT_EXPECT, description });
}

const Reconnect = (what: string, minMs: number, maxMs: number) =>
  Section(`Reconnect backoff of ${what}: the ceiling grows exponentially from minMs to maxMs and each delay is drawn at random under it (full jitter), so a fleet does not reconnect in step.`, {
    minMs: Int('First delay ceiling after a failure, and the shortest delay, milliseconds.', 10, 3_600_000, minMs),
    maxMs: Int('Longest delay between attempts, milliseconds.', 100, 3_600_000, maxMs),
    factor: Num('Each failed attempt multiplies the ceiling by this.', 1, 10, 2),
  });

export const AgentSection = Section('Who this agent is and where it keeps its state.', {
  id: TopicId('Agent id: names this gateway or handheld in topics (`<prefix>/agent/<id>/state`) and derives the MQTT client id.'),
  dataDir: FilePath('Folder for the buffer, the session counter, the audit log and other state; created when missing.', {
    default: '/var/lib/bwc-agent',
  }),
});

export const LogSection = Section('Logging (pino JSON on stdout; secrets are redacted).', {
  level: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], {
    default: 'info',
    expect: 'one of fatal, error, warn, info, debug, trace, silent',
    description: 'Least severe level written.',
  }),
});

export const HttpSection = Section('Optional HTTP endpoint with /healthz and /metrics (Prometheus text). Off by default.', {
  enabled: Bool('Serve /healthz and /metrics.', false),
  host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Listen address; 0.0.0.0 exposes it on every interface.' }),
  port: Int('Listen port (0 picks a free one).', 0, 65535, 9464),
});

export const TlsSection = Strict('TLS for mqtts:// and wss:// brokers: a CA, and a client certificate and key for mutual TLS.', {
  caFile: Type.Optional(FilePath('PEM file of the CA(s) that signed the broker certificate; the system CAs when left out.')),
  certFile: Type.Optional(FilePath('PEM client certificate for mutual TLS.')),
  keyFile: Type.Optional(SecretFile('PEM private key of the client certificate (a secret: the file must not be readable by every user).')),
  rejectUnauthorized: Bool('Verify the broker certificate. Turning this off must be written explicitly, and is logged as a warning.', true),
});

export const MqttSection = Section('The MQTT session: brokers, identity, credentials, TLS, keepalive and reconnects.', {
  brokers: Type.Array(
    Type.String({
      pattern: '^(mqtts?|wss?)://[^\\s/]+',
      expect: 'a broker URL: mqtt://, mqtts://, ws:// or wss:// followed by host[:port]',
      description: 'A broker URL.',
    }),
    { minItems: 1, description: 'Broker URLs, tried in turn on every reconnect (mqtt://, mqtts://, ws://, wss://).' },
  ),
  clientId: Type.Optional(TopicId('MQTT client id; `bwc-agent-<agent.id>` when left out. Must be unique on the broker.')),
  topicPrefix: Type.String({
    pattern: '^[^#+\\s]+[^/#+\\s]$',
    default: 'bwc/v1',
    expect: 'a topic prefix without wildcards or a trailing /',
    description: 'First levels of every topic (see protocol/README.md).',
  }),
  protocolVersion: Type.Union([Type.Literal(5), Type.Literal(4)], {
    default: 5,
    expect: '5 (MQTT 5) or 4 (MQTT 3.1.1)',
    description: 'MQTT version tried first; a broker that refuses MQTT 5 is retried with 3.1.1 (4).',
  }),
  keepaliveS: Int('Keepalive, seconds: the broker publishes the last will about 1.5 × this after the agent dies.', 5, 3600, 30),
  topicAliases: Bool(
    'MQTT 5 topic aliases for the live-fix topics: after the first publish of a connection each is sent as a 3-byte alias instead of its name, for as many cameras as the broker allows (mosquitto: `max_topic_alias`, 10 by default; raise it to the number of cameras of the gateway). No effect on MQTT 3.1.1.',
    true,
  ),
  connectTimeoutMs: Int('Give up a connection attempt (TCP, TLS and CONNACK) after this long, milliseconds.', 1000, 300_000, 15_000),
  username: Type.Optional(Type.String({ minLength: 1, description: 'User name for broker authentication.' })),
  passwordFile: Type.Optional(SecretFile('File holding the broker password (one line; a secret: the file must not be readable by every user).')),
  tls: Type.Optional(TlsSection),
  reconnect: Reconnect('the broker connection', 1000, 60_000),
});

export const BufferSection = Section(
  'The store-and-forward buffer (SQLite, WAL): every message is written here before it is published and deleted after the PUBACK. When a bound is reached the oldest fixes go first, never an event or reply before them.',
  {
    path: Type.Optional(FilePath('SQLite file; `<agent.dataDir>/buffer.db` when left out.')),
    maxRows: Int('Most messages held.', 1000, 100_000_000, 2_000_000),
    maxBytes: Int('Most payload bytes held (the file is larger by the per-row overhead; see agent/buffer/README.md).', 1_000_000, 1_000_000_000_000, 268_435_456),
    maxAgeHours: Num('Fixes and status older than this (by their own time) are dropped; events and replies are kept until space runs out.', 1, 8760, 168),
    memoryMinutes: Num(
      'While the disk is full, each device\'s newest fixes wait in memory (published from there, written to disk when space returns): room for this many minutes at the fastest reporting rate (one a second, plus immediate reports). What falls off is counted as lost (`memory_full` in metrics, `fixes_lost_memory_ring` in status).',
      0,
      1440,
      10,
    ),
    syncIntervalMs: Int(
      'How often the write-ahead log is forced to disk: a power cut loses at most this much of the newest messages; a crash of the agent alone loses nothing.',
      50,
      10_000,
      1000,
    ),
  },
);

export const PublishSection = Section('How the buffer drains to the broker after an outage: newest fix first, then the backlog oldest-first as historical batches.', {
  historicalBatchSize: Int('Fixes per historical track batch (60 at 1 Hz: a minute per message).', 1, 1000, 60),
  historicalWindow: Int('Historical messages awaiting PUBACK at once: small, so a live fix never queues behind the backlog.', 1, 1000, 8),
  historicalMaxPerS: Int('Most historical messages sent per second while the backlog drains (0: no cap beyond the window).', 0, 100_000, 500),
  liveForm: Type.Union([Type.Literal('compact'), Type.Literal('track')], {
    default: 'compact',
    expect: 'compact or track',
    description:
      'How a live fix goes out: `compact` on `dev/{id}/live` (about 20 bytes, protocol/README.md "The live path"), or `track`, a one-fix TrackBatch with its header on `dev/{id}/track` (about 53 bytes), for a platform that does not read the compact form yet. Backlog always goes as TrackBatch on `track/hist`.',
  }),
  liveFullEveryS: Int('With `liveForm: compact`: a live fix carries its seq, time and position whole at least this often, so a subscriber that joins or lost its place waits at most this long.', 1, 3600, 60),
  mediaMaxKbps: Int('Cap on snapshot, live-feed and clip bandwidth, kilobits per second (0: no cap). Tracks and events always go first.', 0, 10_000_000, 0),
});

export const DeviceSection = Strict('A camera (or GNSS receiver) attached to this agent.', {
  id: TopicId('Device id: its topics are `<prefix>/dev/<id>/...`; keep it when the camera moves to another gateway.'),
  gnss: Type.Optional(PortSpec('Port the NMEA 0183 fixes come from: a device path, tcp://host:port or gpsd://host:port.')),
  baud: Type.Union([Type.Integer({ minimum: 1200, maximum: 4_000_000 }), Type.Literal('auto')], {
    default: 'auto',
    expect: 'a baud rate (1200-4000000) or "auto"',
    description: 'Serial speed; `auto` tries 4800, 9600, 38400 and 115200 until NMEA checksums verify.',
  }),
  control: Type.Optional(PortSpec('Port of the camera control channel (status, snapshots, clips), when it is not the GNSS port.')),
  driver: Type.Union([Type.Literal('reference')], {
    default: 'reference',
    expect: '"reference"',
    description: 'Control protocol driver (drivers/camera/README.md describes the reference protocol).',
  }),
  footageDir: Type.Optional(FilePath('Mounted mass-storage folder of the camera, read when the control channel cannot list or read recordings.')),
  video: Type.Optional(Type.String({
    pattern: '^(camera|v4l2:/dev/\\S+|rtsps?://\\S+)$',
    expect: '"camera", v4l2:/dev/videoN or rtsp://host/path',
    description: 'Where live H.264 comes from: `camera` (its control channel, the default), a V4L2/UVC device `v4l2:/dev/videoN`, or an RTSP URL (`rtsp://user:pass@host/path`). V4L2 and RTSP are read through ffmpeg.',
  })),
  videoInput: Type.Optional(Type.Union([Type.Literal('h264'), Type.Literal('mjpeg')], {
    expect: '"h264" or "mjpeg"',
    description: 'V4L2 only (left out: h264): `h264` passes the camera\'s H.264 through; `mjpeg` transcodes its MJPEG to H.264 under the feed\'s bitrate cap (liveFeed.transcodeMaxKbps when the command gives none).',
  })),
  profile: Type.Union([Type.Literal('foot'), Type.Literal('vehicle')], {
    default: 'foot',
    expect: '"foot" or "vehicle"',
    description: 'Who carries it: sets the speed limit of the jump filter (pipeline.maxSpeedMps).',
  }),
  channelId: Type.Optional(GbId('GB/T 28181 channel id of this camera (20 digits); derived from gb28181.deviceId when left out (its first 10 digits, type 131, then the position in this list).')),
});

export const DevicesList = Type.Array(DeviceSection, {
  default: [],
  description: 'Cameras configured by port. Cameras found by discovery are added to these.',
});

export const DiscoverySection = Section('USB discovery of cameras from /sys/class/tty (never udevadm).', {
  enabled: Bool('Watch for cameras plugged in and run them without configuration.', false),
  usb: Type.Array(
    Strict('A USB vendor/product id that identifies a camera model.', {
      vendorId: Type.String({ pattern: '^[0-9a-fA-F]{4}$', expect: '4 hex digits', description: 'USB vendor id, 4 hex digits.' }),
      productId: Type.String({ pattern: '^[0-9a-fA-F]{4}$', expect: '4 hex digits', description: 'USB product id, 4 hex digits.' }),
      driver: Type.Union([Type.Literal('reference')], { default: 'reference', expect: '"reference"', description: 'Driver for this model.' }),
      profile: Type.Union([Type.Literal('foot'), Type.Literal('vehicle')], { default: 'foot', expect: '"foot" or "vehicle"', description: 'Profile of the cameras found.' }),
    }),
    { default: [], description: 'Camera models to match.' },
  ),
  pollMs: Int('How often /sys/class/tty is scanned, milliseconds.', 100, 60_000, 1000),
});

export const DevicePortsSection = Section('How the agent looks after each device port.', {
  reconnect: Reconnect('a device port that failed or was unplugged', 500, 30_000),
  statusIntervalS: Int('How often camera status (battery, storage, recording) is read and published when unchanged, seconds.', 5, 3600, 60),
  lowBatteryPct: Int('Battery percentage under which a low-battery event is published.', 1, 99, 15),
  controlTimeoutMs: Int('How long the camera has to answer a request on its control channel (status, snapshot, clip read) before it counts as failed, ms.', 500, 60_000, 3000),
});

const Bounds = (who: string, maxSpeedMps: number) =>
  Section(`Plausible fields of a fix for ${who}: a value outside is dropped from the fix (the position is kept) and counted; it is never published.`, {
    maxSpeedMps: Num('Fastest reported speed over ground, m/s.', 1, 500, maxSpeedMps),
    minAltM: Num('Lowest altitude, metres above mean sea level.', -12_000, 0, -500),
    maxAltM: Num('Highest altitude, metres above mean sea level.', 0, 100_000, 9000),
    maxSats: Int('Most satellites used in a solution.', 4, 200, 64),
    minHdop: Num('Smallest HDOP: below it (0 is how receivers say "unknown") the HDOP is dropped.', 0, 2, 0.3),
  });

export const PipelineSection = Section('Filter of invalid fixes (each drop is counted by reason).', {
  minMode: Type.Union([Type.Literal(2), Type.Literal(3)], { default: 2, expect: '2 or 3', description: 'Least fix mode accepted: 2 (2D) or 3 (3D).' }),
  maxHdop: Num('Fixes with a larger HDOP are dropped.', 0.5, 99.99, 10),
  maxSpeedMps: Section('Speed above which a jump between fixes is impossible, per profile, m/s.', {
    foot: Num('A person on foot (running included).', 1, 100, 12),
    vehicle: Num('A vehicle.', 5, 200, 70),
  }),
  bounds: Section('Plausible speed, altitude, satellite count and HDOP, per profile.', {
    foot: Bounds('a person on foot', 15),
    vehicle: Bounds('a vehicle', 90),
  }),
});

export const ReportingSection = Section('When a fix is reported: adaptive interval, distance and heading change; immediately on SOS and on recording start/stop.', {
  recordingIntervalS: Int('Interval while the camera records, seconds.', 1, 3600, 1),
  movingIntervalS: Int('Interval while moving, seconds.', 1, 3600, 5),
  stationaryIntervalS: Int('Interval while stationary, seconds (the last position is still reported).', 1, 86_400, 60),
  distanceM: Num('Report early after moving this far, metres (0: off).', 0, 10_000, 25),
  headingChangeDeg: Num('Report early after turning this much, degrees (wraps at 0/360; 0: off).', 0, 180, 30),
  stationarySpeedMps: Num('Below this speed the device counts as stationary, m/s.', 0, 10, 0.5),
});

export const SecuritySection = Section('Who may command this agent: signed commands (Ed25519) from trusted keys.', {
  trustedKeys: Type.Array(
    Strict('A public key the agent accepts commands from.', {
      id: TopicId('Key id, as the issuer puts it in the command envelope.'),
      role: Type.Union([Type.Literal('supervisor'), Type.Literal('technician'), Type.Literal('platform')], {
        expect: 'supervisor, technician or platform',
        description: 'supervisor: queries, tracking, snapshot, live feed, recordings, clips, cancel; technician: configuration update; platform: all.',
      }),
      publicKeyFile: FilePath('PEM (SPKI) Ed25519 public key file.'),
    }),
    { default: [], description: 'Trusted command issuers; none: every command is refused.' },
  ),
  commandMaxBytes: Int('Commands larger than this are refused, bytes.', 256, 1_048_576, 16_384),
  maxClockSkewS: Int('Tolerated difference between the issued-at time and the agent clock, seconds.', 0, 3600, 120),
  rateLimitPerIssuerPerMin: Int('Commands accepted per issuer key per minute.', 1, 10_000, 30),
  commandQueue: Int('Commands received and waiting to be verified; beyond this they are dropped unread and counted (a flood never delays fixes).', 16, 100_000, 256),
  refusalSummaryS: Int('Refused commands are audited in aggregate: one audit entry per reason per this many seconds, with the count (unsigned, malformed and unknown-key commands are never audited singly).', 1, 3600, 60),
  checkpointIntervalS: Int(
    'How often each device\'s data is sealed into a checkpoint signed with its device key (protocol/README.md, "Authentic device data"), seconds: about 250 bytes each, 1.9 B per fix at 1 Hz with 150.',
    1,
    3600,
    150,
  ),
});

export const LiveFeedSection = Section('Live feed of a spot check.', {
  onlyWhileRecording: Bool('Refuse a live feed while the camera is not recording (as Axon Respond does).', true),
  viewerKeepaliveS: Int('Stop the feed when the viewer has not confirmed it is watching for this long, seconds.', 5, 600, 20),
  transcodeMaxKbps: Int('Bitrate of H.264 made from a V4L2 camera\'s MJPEG when the command gives no cap, kbit/s.', 100, 100_000, 2000),
  ffmpeg: Type.String({ minLength: 1, default: 'ffmpeg', description: 'The ffmpeg program that reads V4L2 and RTSP video (Debian: apt-get install ffmpeg; `bwc-agent doctor` checks it).' }),
});

export const AuditSection = Section('The local hash-chained audit log of every command, accepted or not.', {
  path: Type.Optional(FilePath('Audit log file; `<agent.dataDir>/audit.log` when left out.')),
  anchorIntervalS: Int('The head of the audit log is signed with the agent key (`<agent.dataDir>/agent.key`) and published retained on `agent/{id}/audit` at every connect and then every this many seconds, so the platform keeps anchors.', 5, 86_400, 60),
});

export const Gb28181Section = Strict(
  'GB/T 28181 device mode: the agent also registers on a GB/T 28181 video platform (WVP, LiveGBS, a vendor NVR platform) as a device whose channels are its cameras. Left out: off. docs/GB28181.md describes what is supported.',
  {
    server: Strict('The platform\'s SIP server, as its administration page shows it.', {
      id: GbId('SIP server id (20 digits), e.g. 34020000002000000001.'),
      domain: Type.String({ pattern: '^[0-9]{10}$|^[0-9]{20}$', expect: '10 or 20 digits', description: 'SIP domain (realm): usually the first 10 digits of the server id.' }),
      host: Type.String({ minLength: 1, description: 'Host name or address of the SIP server.' }),
      port: Int('SIP port of the server.', 1, 65535, 5060),
      transport: Type.Union([Type.Literal('UDP'), Type.Literal('TCP')], { default: 'UDP', expect: '"UDP" or "TCP"', description: 'SIP transport.' }),
    }),
    deviceId: GbId('Id of this gateway as a GB/T 28181 device (20 digits; type 118 NVR or 200 is usual), as registered on the platform.'),
    passwordFile: Type.Optional(SecretFile('File holding the device\'s SIP password (one line; a secret). Left out: registration without credentials.')),
    localHost: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Local address the SIP and RTP sockets bind to.' }),
    localPort: Int('Local SIP port (0 picks a free one).', 0, 65535, 5060),
    advertisedHost: Type.Optional(Type.String({ minLength: 1, description: 'Address put in Via, Contact and SDP; the address of the route towards the server when left out.' })),
    registerExpiresS: Int('Registration expiry asked for, seconds; re-registered at half of what the server grants.', 60, 86_400, 3600),
    keepaliveS: Int('Keepalive MESSAGE interval, seconds.', 1, 3600, 60),
    keepaliveRetries: Int('Keepalives missed in a row before the platform counts as lost and the device registers again.', 1, 100, 3),
    manufacturer: Type.String({ minLength: 1, default: 'bwc-agent', description: 'Manufacturer reported in DeviceInfo and Catalog.' }),
    civilCode: Type.Optional(Type.String({ pattern: '^[0-9]{6,8}$', expect: '6-8 digits', description: 'Administrative division code in Catalog; the first 6 digits of deviceId when left out.' })),
  },
);

export const ConfigSchema = Type.Object(
  {
    agent: AgentSection,
    log: LogSection,
    http: HttpSection,
    mqtt: MqttSection,
    buffer: BufferSection,
    publish: PublishSection,
    devices: DevicesList,
    discovery: DiscoverySection,
    devicePorts: DevicePortsSection,
    pipeline: PipelineSection,
    reporting: ReportingSection,
    security: SecuritySection,
    liveFeed: LiveFeedSection,
    audit: AuditSection,
    gb28181: Type.Optional(Gb28181Section),
  },
  { additionalProperties: false, description: 'bwc-agent configuration.' },
);

export type BwcConfig = Static<typeof ConfigSchema>;
export type DeviceConfig = Static<typeof DeviceSection>;
export type Gb28181Config = Static<typeof Gb28181Section>;
export type TrustedKeyConfig = BwcConfig['security']['trustedKeys'][number];
