import { generateKeyPairSync } from 'node:crypto';
import { AuthVerifier, messageLeaves } from '../protocol/auth-verifier.js';
import { encodeBody, withHeader } from '../protocol/codec.js';
import { ChainBuilder, encodeCheckpoint, fixContent, leafOf } from '../protocol/device-auth.js';
import type { Fix } from '../protocol/fix.js';
import { Topics } from '../protocol/topics.js';
import { encodeTrackBatch } from '../protocol/track-codec.js';
import { Patrol } from '../sim/gnss/patrol.js';
import { type BenchRow, runIfMain } from './bench-kit.js';

/**
 * What authenticity costs on the wire: one hour of one camera at 1 Hz, with a
 * status every 60 s (the default devicePorts.statusIntervalS), chained and
 * sealed into signed checkpoints every checkpointIntervalS. Bytes are counted
 * as the AuthCheckpoint payload and as the whole MQTT 5 PUBLISH packet
 * (fixed header, topic, packet id, properties length), divided by the fixes.
 * Also: signing and verifying speed.
 */
const DEVICE = 'BWC-0001';
const HOUR = 3600;

interface Msg { seq: number; kind: 'fix' | 'status'; fix?: Fix; body?: Uint8Array }

function hourOfMessages(): Msg[] {
  const p = new Patrol({ seed: 3, vehicle: false, speedMps: 1.4 });
  const status = encodeBody('Status', { recording: 'RECORDING_STATE_RECORDING', batteryPct: 76, hasBattery: true, online: true, storageFreeBytes: 41_234_567_890, storageTotalBytes: 64_000_000_000 });
  const out: Msg[] = [];
  let seq = 1_000_000;
  for (let s = 0; s < HOUR; s++) {
    out.push({ seq: seq++, kind: 'fix', fix: p.next() });
    if (s % 60 === 59) out.push({ seq: seq++, kind: 'status', body: status });
  }
  return out;
}

function checkpointsFor(msgs: Msg[], intervalS: number, key: ReturnType<typeof generateKeyPairSync>['privateKey']): Uint8Array[] {
  const chain = new ChainBuilder(DEVICE);
  const out: Uint8Array[] = [];
  let fixes = 0;
  const seal = () => {
    const c = chain.seal(key, { session: 17, sentMs: Date.now() });
    if (c) out.push(encodeCheckpoint(c));
  };
  for (const m of msgs) {
    chain.add(m.seq, m.kind === 'fix' ? leafOf('fix', fixContent(m.fix!, m.seq)) : leafOf('status', m.body!));
    if (m.kind === 'fix' && ++fixes % intervalS === 0) seal();
  }
  seal();
  return out;
}

/** A QoS 1 MQTT 5 PUBLISH without properties: fixed header byte, remaining length, topic, packet id, properties length 0, payload. */
function publishBytes(topic: string, payload: Uint8Array): number {
  const remaining = 2 + Buffer.byteLength(topic) + 2 + 1 + payload.length;
  let lenBytes = 1;
  while (remaining >= 128 ** lenBytes) lenBytes++;
  return 1 + lenBytes + remaining;
}

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (metric: string, value: number, unit: string, goal?: string, met?: boolean) => rows.push({ bench: 'device-auth', metric, value, unit, goal, met });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const msgs = hourOfMessages();
  const topic = new Topics().device(DEVICE, 'auth');
  for (const intervalS of [60, 150, 300]) {
    const cps = checkpointsFor(msgs, intervalS, privateKey);
    const payload = cps.reduce((a, c) => a + c.length, 0);
    const packets = cps.reduce((a, c) => a + publishBytes(topic, c), 0);
    const goal = intervalS === 150 ? '≤ 2 (default interval)' : undefined;
    row(`checkpoint every ${intervalS} s: payload / whole PUBLISH per fix at 1 Hz`, Number((payload / HOUR).toFixed(2)), `B (${(packets / HOUR).toFixed(2)} B with the packet)`, goal, goal ? packets / HOUR <= 2 : undefined);
  }

  // Signing: the agent's cost per checkpoint.
  let t0 = process.hrtime.bigint();
  const cps = checkpointsFor(msgs, 150, privateKey);
  const chainMs = Number(process.hrtime.bigint() - t0) / 1e6;
  row('agent: chain and sign an hour of one camera (3,660 messages, 24 checkpoints)', Number(chainMs.toFixed(1)), 'ms');

  // Verifying: the platform's cost per message, from the published payloads.
  const payloads = msgs.map((m) =>
    m.kind === 'fix'
      ? { channel: 'track', bytes: encodeTrackBatch({ header: { deviceId: DEVICE, seq: m.seq, session: 17, sentMs: m.fix!.timeMs + 200 }, historical: false, fixes: [m.fix!], seqs: [m.seq] }) }
      : { channel: 'status', bytes: withHeader({ deviceId: DEVICE, seq: m.seq, session: 17, sentMs: Date.now() }, m.body!) },
  );
  const v = new AuthVerifier(() => publicKey);
  t0 = process.hrtime.bigint();
  for (const p of payloads) for (const l of messageLeaves(p.channel, p.bytes)) v.message(DEVICE, l.seq, l.leaf);
  const verified = cps.map((c) => v.checkpoint(c)).filter((r) => r.outcome === 'verified').length;
  const verifyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (verified !== cps.length) throw new Error(`only ${verified} of ${cps.length} checkpoints verified`);
  row('platform: verify an hour of one camera from the payloads', Number(verifyMs.toFixed(1)), `ms (${Math.round((msgs.length / verifyMs) * 1000)} messages/s)`);
  return rows;
}

void runIfMain(import.meta.url, run);
