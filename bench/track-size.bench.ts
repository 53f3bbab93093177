import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { captureDate } from '../drivers/nmea/capture-file.js';
import { decodeNmea } from '../drivers/nmea/nmea-decoder.js';
import { frameDelimited } from '../protocol/delimited-codec.js';
import type { Fix } from '../protocol/fix.js';
import { decodeTrackBatch, encodeTrackBatch } from '../protocol/track-codec.js';
import { LiveFormChooser } from '../protocol/live-codec.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { capturesDir } from '../test/helpers/paths.js';
import { type BenchRow, runIfMain } from './bench-kit.js';
import { encode0200, encode0704 } from './peers/jt808.js';
import { owntracksLocation } from './peers/owntracks.js';

/**
 * Bytes per fix of a TrackBatch against what peers send for the same fixes,
 * and encode/decode speed. Every figure counts the whole message: our header
 * (device id, seq, session, sent time, schema) and every length prefix,
 * including the varint that frames the message in a stream; JT/T 808 with its
 * 0x7E framing, header and check code; OwnTracks the JSON payload.
 */
const BATCH = 60;
const DEVICE = 'BWC-0001';

function ourBytes(fixes: Fix[], opts: { historical: boolean; firstSeq: number }): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < fixes.length; i += BATCH) {
    const part = fixes.slice(i, i + BATCH);
    const seqs = part.map((_, k) => opts.firstSeq + i + k);
    const sentMs = part[part.length - 1]!.timeMs + 250;
    const msg = encodeTrackBatch({ header: { deviceId: DEVICE, seq: seqs[0]!, session: 17, sentMs }, historical: opts.historical, fixes: part, seqs });
    sizes.push(frameDelimited([msg]).length);
  }
  return sizes;
}

function patrol(vehicle: boolean, n: number, seed: number): Fix[] {
  const p = new Patrol({ seed, vehicle, speedMps: vehicle ? 9 : 1.4 });
  return Array.from({ length: n }, () => p.next());
}

/** The receiver captures in which the receiver moves, decoded with the product's NMEA decoder. */
function movingCaptures(): { name: string; fixes: Fix[] }[] {
  const out: { name: string; fixes: Fix[] }[] = [];
  for (const f of readdirSync(capturesDir).filter((n) => n.endsWith('.log')).sort()) {
    const bytes = readFileSync(join(capturesDir, f));
    const fixes = decodeNmea(bytes, { date: captureDate(bytes) })
      .map((e) => e.fix)
      .filter((x): x is Fix => x !== undefined);
    if (fixes.some((x) => (x.speed ?? 0) > 0.5)) out.push({ name: f.replace(/\.log$/, ''), fixes });
  }
  return out;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (metric: string, value: number, unit: string, goal?: string, met?: boolean) => rows.push({ bench: 'track-size', metric, value, unit, goal, met });

  const walking = patrol(false, 3600, 1);
  const driving = patrol(true, 3600, 2);
  const perFix = (fixes: Fix[], historical = true) => sum(ourBytes(fixes, { historical, firstSeq: 1_000_000 })) / fixes.length;

  const walk = perFix(walking);
  const drive = perFix(driving);
  row('ours, batch of 60 at 1 Hz, walking patrol (1 h)', walk, 'B/fix', '<= 6', walk <= 6);
  row('ours, batch of 60 at 1 Hz, patrol car (1 h)', drive, 'B/fix', '<= 6', drive <= 6);

  const caps = movingCaptures();
  const capFixes = caps.flatMap((c) => c.fixes);
  const capBytes = sum(caps.map((c) => sum(ourBytes(c.fixes, { historical: true, firstSeq: 1 }))));
  row(`ours, real captures (${caps.map((c) => `${c.name} ${c.fixes.length}`).join(', ')}), batches <= 60`, capBytes / capFixes.length, 'B/fix');
  const rtk = caps.find((c) => c.name === 'nmea-rtk');
  if (rtk && rtk.fixes.length >= BATCH) {
    const v = perFix(rtk.fixes.slice(0, BATCH));
    row('ours, real capture nmea-rtk, one full batch of 60 (10 Hz)', v, 'B/fix', '<= 6', v <= 6);
  }

  // A live report: one fix, one message.
  const liveSizes = walking.slice(0, 600).map((f, i) => {
    const msg = encodeTrackBatch({ header: { deviceId: DEVICE, seq: 2_000_000 + i, session: 17, sentMs: f.timeMs + 180 }, historical: false, fixes: [f], seqs: [2_000_000 + i] });
    const headerField = 2 + msg[1]!; // tag, length, Header
    return { whole: msg.length, payload: msg.length - headerField };
  });
  const livePayload = Math.max(...liveSizes.map((s) => s.payload));
  const liveWhole = Math.max(...liveSizes.map((s) => s.whole));
  row('ours, one-fix TrackBatch: payload (message minus its Header field), largest of 600', livePayload, 'B', '<= 32', livePayload <= 32);
  row('ours, one-fix TrackBatch: whole MQTT payload incl. its 27 B Header field (the older live form)', liveWhole, 'B');
  // The live path's own form (protocol/README.md "The live path"), as the agent chooses it at 1 Hz.
  const chooser = new LiveFormChooser(60_000);
  const compact = walking.slice(0, 600).map((f, i) => chooser.encode(DEVICE, 2_000_000_000 + i, f, f.timeMs).length);
  const compactMax = Math.max(...compact);
  row('ours, compact live form: whole MQTT payload, largest of 600 (full forms included)', compactMax, 'B', '<= 32 (stretch)', compactMax <= 32);
  row('ours, compact live form: whole MQTT payload, mean of 600', sum(compact) / compact.length, 'B');

  // Peers, same fixes.
  const jt0200 = sum(walking.map((f, i) => encode0200(f, '013800138000', i).length)) / walking.length;
  let jt0704 = 0;
  for (let i = 0; i < walking.length; i += BATCH) jt0704 += sum(encode0704(walking.slice(i, i + BATCH), '013800138000', i, true).map((m) => m.length));
  const owntracks = sum(walking.map((f) => Buffer.byteLength(owntracksLocation(f, { tid: '01', topic: `owntracks/officer/${DEVICE}` })))) / walking.length;
  row('JT/T 808-2013 0x0200 location report, one fix a message', jt0200, 'B/fix');
  row('JT/T 808-2013 0x0704 batch upload, 60 fixes (2 messages: 1023 B body limit)', jt0704 / walking.length, 'B/fix');
  row('OwnTracks JSON location (Android fields)', owntracks, 'B/fix');
  row('JT/T 808 0x0704 / ours (walking)', jt0704 / walking.length / walk, 'x');

  // Speed: encode and decode whole batches of 60.
  const batches: Fix[][] = [];
  for (let i = 0; i + BATCH <= walking.length; i += BATCH) batches.push(walking.slice(i, i + BATCH));
  const encoded = batches.map((b, k) => encodeTrackBatch({ header: { deviceId: DEVICE, seq: k * BATCH, session: 1, sentMs: b[BATCH - 1]!.timeMs }, historical: true, fixes: b, seqs: b.map((_, i) => k * BATCH + i) }));
  const rounds = 40;
  let t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) {
    batches.forEach((b, k) => encodeTrackBatch({ header: { deviceId: DEVICE, seq: k * BATCH, session: 1, sentMs: b[BATCH - 1]!.timeMs }, historical: true, fixes: b, seqs: b.map((_, i) => k * BATCH + i) }));
  }
  const encS = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  let decoded = 0;
  for (let r = 0; r < rounds; r++) for (const m of encoded) decoded += decodeTrackBatch(m).fixes.length;
  const decS = Number(process.hrtime.bigint() - t0) / 1e9;
  row('encode throughput (batches of 60)', Math.round((rounds * batches.length * BATCH) / encS), 'fixes/s');
  row('decode throughput (batches of 60)', Math.round(decoded / decS), 'fixes/s');
  return rows;
}

void runIfMain(import.meta.url, run);
