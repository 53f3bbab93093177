import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import { BwcError } from '../../common/errors.js';
import { keyFingerprint } from '../../common/command-keys.js';

export interface AgentKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Raw 32-byte Ed25519 public key. */
  raw: Buffer;
  /** First 16 hex digits of SHA-256 over the SPKI DER (as command key ids). */
  keyId: string;
  file: string;
  created: boolean;
}

/**
 * The agent's own Ed25519 key, which signs what the agent vouches for itself
 * (the audit anchors). Kept in the data folder as agent.key (PKCS#8 PEM,
 * mode 0600) and agent.pub (SPKI PEM); created at the first start. A key
 * readable by others is refused, as device keys are.
 */
export function loadOrCreateAgentKey(dataDir: string): AgentKey {
  const file = join(dataDir, 'agent.key');
  const pubFile = join(dataDir, 'agent.pub');
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    atomicWriteFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
    atomicWriteFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
    created = true;
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new BwcError('AGENT_KEY', `${file} is readable by others (mode ${mode.toString(8)}): chmod 600 it`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BwcError('AGENT_KEY', `${file} holds no usable private key: ${(err as Error).message}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new BwcError('AGENT_KEY', `${file} is a ${privateKey.asymmetricKeyType} key, not Ed25519`);
  const publicKey = createPublicKey(privateKey);
  if (!existsSync(pubFile)) atomicWriteFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  return { privateKey, publicKey, raw: rawPublicKey(publicKey), keyId: keyFingerprint(publicKey), file, created };
}

/** The 32 key bytes of an Ed25519 public key (the tail of its SPKI DER). */
export function rawPublicKey(k: KeyObject): Buffer {
  return k.export({ type: 'spki', format: 'der' }).subarray(-32);
}

/** An Ed25519 public KeyObject from its 32 raw bytes. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new BwcError('BAD_KEY', `an Ed25519 public key has 32 bytes, got ${raw.length}`);
  const prefix = Buffer.from('302a300506032b6570032100', 'hex');
  return createPublicKey({ key: Buffer.concat([prefix, Buffer.from(raw)]), format: 'der', type: 'spki' });
}
