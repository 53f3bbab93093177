import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { type HeaderData, encodeBody } from '../../protocol/codec.js';
import type { FixJson } from '../../protocol/fix.js';

/**
 * The representative messages whose encodings are frozen in protocol/vectors/.
 * write-vectors.ts writes them once; vectors.test.ts checks the files both
 * ways from then on. Bytes are base64 text (as protobuf's JSON mapping),
 * enums their names.
 */
export interface MessageCase {
  name: string;
  type: string;
  header: HeaderData;
  body: Record<string, unknown>;
}

const H = (seq: number, extra: Partial<HeaderData> = {}): HeaderData => ({ deviceId: 'BWC-0001', seq, session: 7, sentMs: 1795572750200, schema: 1, ...extra });
const SHA = Buffer.from('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', 'hex').toString('base64');
const CMD_ENVELOPED = { commandId: 'cmd-0001', deviceId: 'BWC-0001', issuerKeyId: 'sup-7f3a', role: 'ROLE_SUPERVISOR', issuedAtMs: 1795572750000, expiresAtMs: 1795572810000 };
const POSITION = { timeMs: 1795572750000, latE7: 300597183, lonE7: 1211575100, mode: 3, altDm: 123, hasAlt: true };

/**
 * The audit anchor vector: an AuditHead signed with a fixed Ed25519 key
 * (seed 0x01 × 32), so the signature is as frozen as the rest (Ed25519 is
 * deterministic). A decoder checks it with the public key the anchor carries.
 */
const ANCHOR_KEY = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 1)]), format: 'der', type: 'pkcs8' });
const ANCHOR_PUB = createPublicKey(ANCHOR_KEY).export({ type: 'spki', format: 'der' }).subarray(-32);
export const AUDIT_HEAD = {
  agentId: 'gw-yuyao-01',
  entries: 1042,
  lastHash: Buffer.from('5f0c3a7e2b9d41c68e7f10a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6', 'hex').toString('base64'),
  firstHash: Buffer.from('0e4d7b1c9a2f38e5d6c7b8a9f0e1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d', 'hex').toString('base64'),
  timeMs: 1795572750000,
};
const AUDIT_HEAD_BYTES = encodeBody('AuditHead', AUDIT_HEAD);

export const MESSAGE_CASES: MessageCase[] = [
  {
    name: 'status',
    type: 'Status',
    header: H(1234),
    body: {
      recording: 'RECORDING_STATE_PRE_RECORD',
      batteryPct: 76,
      hasBattery: true,
      charging: false,
      storageTotalBytes: 64_000_000_000,
      storageFreeBytes: 41_234_567_890,
      clocks: { cameraOffsetMs: -1250, systemOffsetMs: 3, gnssTimeValid: true },
      gnss: {
        mode: 3,
        sats: [
          { constellation: 'CONSTELLATION_GPS', used: 8, inView: 11 },
          { constellation: 'CONSTELLATION_BEIDOU', used: 9, inView: 14 },
          { constellation: 'CONSTELLATION_GALILEO', used: 3, inView: 6 },
        ],
        hdopX10: 8,
        lastFixAgeMs: 420,
      },
      officer: { officerNumber: '012345', name: '张伟', unitNumber: '330281000000', unitName: '余姚市综合行政执法局' },
      firmware: 'V2.3.1',
      model: 'DSJ-A8',
      serial: 'A123456',
      counters: { fixesIn: 86400, fixesDroppedInvalid: 12, fixesDroppedHdop: 3, fixesDroppedJump: 1, nmeaRejected: 5, cameraFramesRejected: 0, bufferDropped: 0 },
      online: true,
    },
  },
  {
    // Observation time and holding agent (v1 additions): availability is online AND agent GW-0001's state.
    name: 'status-observed',
    type: 'Status',
    header: H(3_100_000_001),
    body: {
      recording: 'RECORDING_STATE_RECORDING',
      charging: false,
      clocks: { gnssTimeValid: true },
      gnss: { mode: 3, hdopX10: 9, lastFixAgeMs: 300 },
      counters: { fixesIn: 59, fixesDroppedInvalid: 2, nmeaRejected: 1 },
      online: true,
      timeMs: 1795572749980,
      agentId: 'GW-0001',
    },
  },
  {
    // The checkpoint of protocol/vectors/device-auth/chain.json (seq 2000-2003, test key).
    name: 'auth-checkpoint',
    type: 'AuthCheckpoint',
    header: { deviceId: 'BWC-0001', seq: 0, session: 7, sentMs: 1795572810000, schema: 1 },
    body: { firstSeq: 2000, count: 4, tags: 'LIBAtQ==', signature: 'Cvq4Idwk2loip3NXJAzHrMp1ElFVx8L7A4EZJ+09Lf4+2nyeptefiPeNRS3MAmx1d6xcJfaLcBMKgkyc7qDuAA==' },
  },
  {
    name: 'event-sos',
    type: 'Event',
    header: H(1235),
    body: { type: 'EVENT_TYPE_SOS', timeMs: 1795572750000, position: POSITION },
  },
  {
    name: 'event-spot-check-started',
    type: 'Event',
    header: H(1236),
    body: { type: 'EVENT_TYPE_SPOT_CHECK_STARTED', timeMs: 1795572751000, position: POSITION, detail: 'live feed', issuer: 'sup-7f3a' },
  },
  {
    name: 'event-clock-jump',
    type: 'Event',
    header: H(1237),
    body: { type: 'EVENT_TYPE_CLOCK_JUMP', timeMs: 1795572752000, value: -3600000 },
  },
  {
    name: 'event-gnss-discontinuity',
    type: 'Event',
    header: H(1238),
    body: {
      type: 'EVENT_TYPE_GNSS_DISCONTINUITY',
      timeMs: 1795572760000,
      position: POSITION,
      newPosition: { timeMs: 1795572760000, latE7: 399042000, lonE7: 1164074000, mode: 3, altDm: 440, hasAlt: true },
      detail: '1101.3 km in 10.0 s (110127 m/s; foot profile allows 12 m/s)',
      value: 1101269,
    },
  },
  {
    name: 'status-memory-ring-lost',
    type: 'Status',
    header: H(1239),
    body: {
      recording: 'RECORDING_STATE_RECORDING',
      gnss: { mode: 3, hdopX10: 9 },
      counters: { fixesIn: 1800, bufferDropped: 120, fixesLostMemoryRing: 120, fixesImplausibleFields: 4 },
      online: true,
    },
  },
  {
    name: 'agent-state-online',
    type: 'AgentState',
    header: H(88, { deviceId: 'gw-yuyao-01' }),
    body: { online: true, session: 7, agentVersion: '0.1.0', devices: ['BWC-0001', 'BWC-0002'], configVersion: 'c3' },
  },
  {
    name: 'agent-state-offline-will',
    type: 'AgentState',
    header: H(0, { deviceId: 'gw-yuyao-01', sentMs: 1795572700000 }),
    body: { online: false, session: 7, agentVersion: '0.1.0' },
  },
  {
    name: 'reply-accepted',
    type: 'Reply',
    header: H(1238),
    body: { commandId: 'cmd-0001', status: 'REPLY_STATUS_ACCEPTED' },
  },
  {
    name: 'reply-rejected',
    type: 'Reply',
    header: H(1239),
    body: { commandId: 'cmd-0002', status: 'REPLY_STATUS_REJECTED', reasonCode: 'REASON_EXPIRED', reason: 'command expired 12 s ago' },
  },
  {
    name: 'reply-position',
    type: 'Reply',
    header: H(1240),
    body: { commandId: 'cmd-0003', status: 'REPLY_STATUS_DONE', position: Buffer.from(encodeBody('Position', POSITION)).toString('base64') },
  },
  {
    name: 'reply-recordings',
    type: 'Reply',
    header: H(1241),
    body: {
      commandId: 'cmd-0004',
      status: 'REPLY_STATUS_DONE',
      recordings: {
        recordings: [
          { id: '20261125_020000_A123456', startMs: 1795572000000, endMs: 1795572600000, size: 734003200, sha256: SHA, officerNumber: '012345', trigger: 'TRIGGER_MANUAL', contentType: 'video/mp4' },
        ],
      },
    },
  },
  {
    name: 'reply-recordings-open',
    type: 'Reply',
    header: H(1299),
    body: { commandId: 'cmd-0006', status: 'REPLY_STATUS_DONE', recordings: { recordings: [], openSinceMs: 1795572900000 } },
  },
  {
    name: 'reply-media-done',
    type: 'Reply',
    header: H(1242),
    body: { commandId: 'cmd-0005', status: 'REPLY_STATUS_DONE', media: { requestId: 'cmd-0005', bytes: 1048576, chunks: 16, sha256: SHA } },
  },
  {
    name: 'media-chunk-first',
    type: 'MediaChunk',
    header: H(1243),
    body: { requestId: 'cmd-0005', index: 0, offset: 0, contentType: 'video/mp4', data: Buffer.from('....ftypisom').toString('base64'), totalSize: 1048576, objectId: '20261125_020000_A123456' },
  },
  {
    name: 'media-chunk-last',
    type: 'MediaChunk',
    header: H(1244),
    body: { requestId: 'cmd-0005', index: 15, offset: 983040, last: true, contentType: 'video/mp4', data: Buffer.from('moov-tail').toString('base64'), sha256: SHA, totalSize: 1048576, objectId: '20261125_020000_A123456' },
  },
  {
    name: 'media-chunk-live-frame',
    type: 'MediaChunk',
    header: H(1245),
    body: { requestId: 'cmd-0006', index: 3, last: true, contentType: 'image/jpeg', data: Buffer.from([0xff, 0xd8, 0xff, 0xd9]).toString('base64'), frame: 3, timeMs: 1795572753000, objectId: 'live' },
  },
  {
    name: 'audit-anchor',
    type: 'AuditAnchor',
    header: H(17, { deviceId: 'gw-yuyao-01' }),
    body: {
      head: Buffer.from(AUDIT_HEAD_BYTES).toString('base64'),
      signature: sign(null, AUDIT_HEAD_BYTES, ANCHOR_KEY).toString('base64'),
      publicKey: ANCHOR_PUB.toString('base64'),
      keyId: 'fd110d301d2f077d',
    },
  },
  {
    // One H.264 access unit (Annex B: AUD, SPS, PPS, IDR slice, shortened) of a live feed.
    name: 'media-chunk-h264-keyframe',
    type: 'MediaChunk',
    header: H(1246),
    body: {
      requestId: 'cmd-0007', index: 0, last: true, contentType: 'video/h264',
      data: Buffer.from('00000001091000000001674d401fe8802802dd80880000000168ebef20000000016588840037ff', 'hex').toString('base64'),
      totalSize: 39, frame: 250, timeMs: 1795572760040, objectId: 'live',
      keyframe: true, codec: 'avc1.4D401F', width: 1280, height: 720, ptsUs: 10000000, fps: 25, gop: 5,
    },
  },
  {
    name: 'reply-media-live-video',
    type: 'Reply',
    header: H(1247),
    body: {
      commandId: 'cmd-0007', status: 'REPLY_STATUS_DONE', reason: 'duration reached',
      media: { requestId: 'cmd-0007', bytes: 1250000, chunks: 251, frames: 250, codec: 'avc1.4D401F', width: 1280, height: 720, durationMs: 9960, droppedFrames: 25, bitrateKbps: 1004, keyframes: 10 },
    },
  },
];

/** CommandBody (signed) and CommandEnvelope travel without a header: their vectors carry none. */
export interface BodyCase {
  name: string;
  type: string;
  body: Record<string, unknown>;
}

const CMD = { commandId: 'cmd-0001', deviceId: 'BWC-0001', issuerKeyId: 'sup-7f3a', role: 'ROLE_SUPERVISOR', issuedAtMs: 1795572750000, expiresAtMs: 1795572810000 };

export const BODY_CASES: BodyCase[] = [
  {
    // Commands come from an issuer, not a device: the envelope has no header (field 1 is the signed body).
    name: 'command-envelope',
    type: 'CommandEnvelope',
    body: {
      body: Buffer.from(encodeBody('CommandBody', { ...CMD_ENVELOPED, snapshot: { quality: 80 } })).toString('base64'),
      signature: Buffer.alloc(64, 0xab).toString('base64'),
      keyId: 'sup-7f3a',
    },
  },
  { name: 'command-position-query', type: 'CommandBody', body: { ...CMD, positionQuery: {} } },
  { name: 'command-temporary-tracking', type: 'CommandBody', body: { ...CMD, temporaryTracking: { intervalS: 5, durationS: 600 } } },
  { name: 'command-status-query', type: 'CommandBody', body: { ...CMD, statusQuery: {} } },
  { name: 'command-snapshot', type: 'CommandBody', body: { ...CMD, snapshot: { quality: 80 } } },
  { name: 'command-live-feed', type: 'CommandBody', body: { ...CMD, liveFeed: { fps: 5, quality: 60, maxBitrateKbps: 500, durationS: 180 }, replyTo: 'bwc/v1/console/console-1' } },
  { name: 'command-recording-list', type: 'CommandBody', body: { ...CMD, recordingList: { fromMs: 1795564800000 } } },
  { name: 'command-clip-fetch-id', type: 'CommandBody', body: { ...CMD, clipFetch: { recordingId: '20261125_020000_A123456', offset: 983040 } } },
  { name: 'command-clip-fetch-range', type: 'CommandBody', body: { ...CMD, clipFetch: { range: { fromMs: 1795572600000, toMs: 1795572660000 } } } },
  { name: 'command-config-update', type: 'CommandBody', body: { ...CMD, role: 'ROLE_TECHNICIAN', configUpdate: { yaml: 'tracking:\n  interval_s: 5\n', version: 'c4' } } },
  { name: 'command-cancel', type: 'CommandBody', body: { ...CMD, cancel: { commandId: 'cmd-0000' } } },
  { name: 'command-viewer-keepalive', type: 'CommandBody', body: { ...CMD, viewerKeepalive: { commandId: 'cmd-0006' } } },
  { name: 'audit-head', type: 'AuditHead', body: AUDIT_HEAD },
  { name: 'command-live-feed-h264', type: 'CommandBody', body: { ...CMD, liveFeed: { fps: 25, maxBitrateKbps: 1000, durationS: 60, format: 'video/h264' } } },
  { name: 'command-viewer-keepalive-keyframe', type: 'CommandBody', body: { ...CMD, viewerKeepalive: { commandId: 'cmd-0007', keyframe: true } } },
];

/** Track batches, with fixes on the codec's grid so the round trip is exact. */
export interface TrackCase {
  name: string;
  batch: { header: HeaderData; historical: boolean; fixes: FixJson[]; seqs: number[] };
}

function walk(n: number, start: { t: number; lat: number; lon: number }, opts: { optional: boolean; partial?: boolean }): FixJson[] {
  const out: FixJson[] = [];
  for (let i = 0; i < n; i++) {
    const f: FixJson = {
      time: new Date(start.t + i * 1000).toISOString(),
      lat: Number((start.lat + i * 0.0000115 + (i % 3) * 0.0000005).toFixed(7)),
      lon: Number((start.lon + i * 0.000006 - (i % 2) * 0.0000005).toFixed(7)),
      mode: 3,
    };
    if (opts.optional && !(opts.partial && i % 4 === 1)) {
      f.alt = Number((12.3 + (i % 5) * 0.1).toFixed(1));
      f.speed = Number((1.35 + (i % 3) * 0.05).toFixed(2));
      f.course = Number(((27.5 + i * 0.3) % 360).toFixed(1));
      f.hdop = 0.8;
      f.sats = 12 + (i % 7 === 6 ? 1 : 0);
    }
    out.push(f);
  }
  return out;
}

const T0 = 1795572750000;
export const TRACK_CASES: TrackCase[] = [
  {
    name: 'track-live-single',
    batch: { header: H(2000, { sentMs: T0 + 180 }), historical: false, fixes: walk(1, { t: T0, lat: 30.0597185, lon: 121.15751 }, { optional: true }), seqs: [2000] },
  },
  {
    name: 'track-live-minimal',
    batch: { header: H(2001, { sentMs: T0 + 1150 }), historical: false, fixes: [{ time: new Date(T0 + 1000).toISOString(), lat: -33.8688195, lon: 151.2092955, mode: 2 }], seqs: [2001] },
  },
  {
    name: 'track-batch-10',
    batch: { header: H(3000, { sentMs: T0 + 9500 }), historical: false, fixes: walk(10, { t: T0, lat: 30.04, lon: 121.15 }, { optional: true }), seqs: Array.from({ length: 10 }, (_, i) => 3000 + i) },
  },
  {
    name: 'track-historical-gaps-partial',
    batch: {
      header: H(4000, { sentMs: T0 + 3_600_000 }),
      historical: true,
      fixes: walk(12, { t: T0, lat: 30.04, lon: 121.15 }, { optional: true, partial: true }),
      seqs: [4000, 4001, 4002, 4005, 4006, 4007, 4008, 4020, 4021, 4022, 4023, 4024],
    },
  },
];

/** The compact live form: one device's live stream (protocol/vectors/live/live-fixes.json). */
export interface LiveCase { seq: number; full: boolean; anchor: number; fix: FixJson }
const liveWalk = walk(3, { t: T0, lat: 30.0597185, lon: 121.15751 }, { optional: true });
export const LIVE_CASES: LiveCase[] = [
  { seq: 3_001_234_567, full: true, anchor: 7, fix: liveWalk[0]! },
  { seq: 3_001_234_568, full: false, anchor: 7, fix: liveWalk[1]! },
  // A status went out between them: the seq skips one.
  { seq: 3_001_234_570, full: false, anchor: 7, fix: liveWalk[2]! },
  { seq: 3_001_234_571, full: false, anchor: 7, fix: { time: new Date(T0 + 3000).toISOString(), lat: 30.0597, lon: 121.1575, mode: 2 } },
];
