import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { encodeBody, withHeader } from '../../protocol/codec.js';
import { ChainBuilder, chainNext, chainStart, encodeCheckpoint, fixContent, leafOf, signedBytes, type AuthKind } from '../../protocol/device-auth.js';
import type { Fix } from '../../protocol/fix.js';
import { encodeTrackBatch } from '../../protocol/track-codec.js';

/**
 * The golden vector of the authenticity scheme (protocol/vectors/device-auth/):
 * four messages of one device as published, their contents, leaves, chain
 * links and tags, the signed bytes, and the checkpoint, made with a fixed
 * test key (seed 01 02 … 20: a published key, never a real device's).
 */
export const TEST_SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));

export function testKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), TEST_SEED]), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const header = (seq: number, sentMs: number) => ({ deviceId: 'BWC-0001', seq, session: 7, sentMs, schema: 1 });
const FIX_A: Fix = { timeMs: 1795572750000, lat: 30.0597185, lon: 121.15751, mode: 3, alt: 12.3, speed: 1.35, course: 27.5, hdop: 0.8, sats: 12 };
const FIX_B: Fix = { timeMs: 1795572751000, lat: 30.0597311, lon: 121.1575243, mode: 3, alt: 12.4, speed: 1.4, course: 28, hdop: 0.8, sats: 12 };

export function authVector(): Record<string, unknown> {
  const { privateKey, publicKey } = testKey();
  const status = encodeBody('Status', { recording: 'RECORDING_STATE_RECORDING', batteryPct: 76, hasBattery: true, online: true });
  const event = encodeBody('Event', { type: 'EVENT_TYPE_SOS', timeMs: 1795572751500 });
  const msgs: { seq: number; kind: AuthKind; topic: string; payload: Uint8Array; content: Uint8Array }[] = [
    { seq: 2000, kind: 'fix', topic: 'bwc/v1/dev/BWC-0001/track', payload: encodeTrackBatch({ header: header(2000, 1795572750180), historical: false, fixes: [FIX_A], seqs: [2000] }), content: fixContent(FIX_A, 2000) },
    { seq: 2001, kind: 'status', topic: 'bwc/v1/dev/BWC-0001/status', payload: withHeader(header(2001, 1795572750300), status), content: status },
    { seq: 2002, kind: 'event', topic: 'bwc/v1/dev/BWC-0001/event', payload: withHeader(header(2002, 1795572751510), event), content: event },
    { seq: 2003, kind: 'fix', topic: 'bwc/v1/dev/BWC-0001/track/hist', payload: encodeTrackBatch({ header: header(2003, 1795572790000), historical: true, fixes: [FIX_B], seqs: [2003] }), content: fixContent(FIX_B, 2003) },
  ];
  const chain = new ChainBuilder('BWC-0001');
  let link = chainStart('BWC-0001', 2000);
  const start = hex(link);
  const steps = msgs.map((m) => {
    const leaf = leafOf(m.kind, m.content);
    chain.add(m.seq, leaf);
    link = chainNext(link, leaf);
    return { seq: m.seq, kind: m.kind, topic: m.topic, payload: hex(m.payload), content: hex(m.content), leaf: hex(leaf), link: hex(link), tag: link[0] };
  });
  const c = chain.seal(privateKey, { session: 7, sentMs: 1795572810000, schema: 1 })!;
  return {
    device: 'BWC-0001',
    publicKeySpkiDer: hex(publicKey.export({ type: 'spki', format: 'der' })),
    privateKeySeed: hex(TEST_SEED),
    chainStart: start,
    messages: steps,
    head: hex(link),
    signedBytes: hex(signedBytes('BWC-0001', 2000, msgs.length, link)),
    signature: hex(c.signature),
    checkpoint: { topic: 'bwc/v1/dev/BWC-0001/auth', header: c.header, firstSeq: c.firstSeq, count: c.count, tags: hex(c.tags), hex: hex(encodeCheckpoint(c)) },
  };
}
