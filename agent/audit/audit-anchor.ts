import { sign, verify } from 'node:crypto';
import { decodeMessage, encodeBody, encodeMessage, type HeaderData } from '../../protocol/codec.js';
import { describeError } from '../../common/errors.js';
import { keyFingerprint } from '../../common/command-keys.js';
import { publicKeyFromRaw, type AgentKey } from './agent-key.js';

/** What an anchor vouches for: the audit chain's head at one moment (AuditHead in protocol/bwc/v1/audit.proto). */
export interface AnchorHead {
  agentId: string;
  entries: number;
  /** Hex SHA-256 of the last entry ('' when the chain is empty). */
  lastHash: string;
  /** Hex hash of the first entry: names the chain ('' when empty). */
  firstHash: string;
  timeMs: number;
  /** Set when the chain was restarted because the one found at start was broken. */
  restartedMs?: number;
  previousFirstHash?: string;
  restartReason?: string;
}

/** A received anchor after its signature was checked. */
export interface CheckedAnchor {
  head: AnchorHead;
  keyId: string;
  /** Raw public key, hex. */
  publicKey: string;
  signatureOk: boolean;
  /** Why the anchor could not be read or verified. */
  problem?: string;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function headBody(h: AnchorHead): Record<string, unknown> {
  return {
    agentId: h.agentId,
    entries: h.entries,
    lastHash: Buffer.from(h.lastHash, 'hex'),
    firstHash: Buffer.from(h.firstHash, 'hex'),
    timeMs: h.timeMs,
    ...(h.restartedMs ? { restartedMs: h.restartedMs, previousFirstHash: Buffer.from(h.previousFirstHash ?? '', 'hex'), restartReason: h.restartReason ?? '' } : {}),
  };
}

/** An AuditAnchor message: the encoded head, signed by the agent key, with the key beside it. */
export function encodeAnchor(head: AnchorHead, key: Pick<AgentKey, 'privateKey' | 'raw' | 'keyId'>, header: HeaderData): Uint8Array {
  const headBytes = encodeBody('AuditHead', headBody(head));
  const signature = sign(null, headBytes, key.privateKey);
  return encodeMessage('AuditAnchor', header, { head: headBytes, signature, publicKey: key.raw, keyId: key.keyId });
}

/** Decodes an AuditAnchor and checks its signature against the key it carries. */
export function checkAnchor(bytes: Uint8Array): CheckedAnchor {
  let msg: { head?: Uint8Array; signature?: Uint8Array; publicKey?: Uint8Array; keyId?: string };
  let raw: Record<string, any>;
  try {
    msg = decodeMessage('AuditAnchor', bytes);
    raw = decodeMessage('AuditHead', msg.head ?? new Uint8Array());
  } catch (err) {
    return { head: emptyHead(), keyId: '', publicKey: '', signatureOk: false, problem: `not an audit anchor: ${describeError(err)}` };
  }
  const head: AnchorHead = {
    agentId: String(raw.agentId ?? ''),
    entries: Number(raw.entries ?? 0),
    lastHash: hex(raw.lastHash),
    firstHash: hex(raw.firstHash),
    timeMs: Number(raw.timeMs ?? 0),
    ...(raw.restartedMs ? { restartedMs: Number(raw.restartedMs), previousFirstHash: hex(raw.previousFirstHash), restartReason: String(raw.restartReason ?? '') } : {}),
  };
  const publicKey = hex(msg.publicKey);
  try {
    const k = publicKeyFromRaw(msg.publicKey ?? new Uint8Array());
    const signatureOk = verify(null, msg.head ?? new Uint8Array(), k, msg.signature ?? new Uint8Array());
    const keyId = keyFingerprint(k);
    if (msg.keyId && msg.keyId !== keyId) return { head, keyId, publicKey, signatureOk: false, problem: `key id ${msg.keyId} does not name the key carried (${keyId})` };
    return { head, keyId, publicKey, signatureOk, ...(signatureOk ? {} : { problem: 'the signature does not verify' }) };
  } catch (err) {
    return { head, keyId: msg.keyId ?? '', publicKey, signatureOk: false, problem: describeError(err) };
  }
}

function emptyHead(): AnchorHead {
  return { agentId: '', entries: 0, lastHash: '', firstHash: '', timeMs: 0 };
}
