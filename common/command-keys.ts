import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BwcError, describeError } from './errors.js';

export type Role = 'supervisor' | 'technician' | 'platform';

/**
 * A key's id is the first 16 hex digits of the SHA-256 of its public key
 * (SPKI DER): the issuer and the agent derive the same id from the key
 * itself, so a mistyped name can never make the agent trust the wrong key.
 */
export function keyFingerprint(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function readPublicKey(file: string): KeyObject {
  return readEd25519Key(file, 'public', createPublicKey);
}

export function readPrivateKey(file: string): KeyObject {
  return readEd25519Key(file, 'private', createPrivateKey);
}

function readEd25519Key(file: string, kind: string, parse: (pem: Buffer) => KeyObject): KeyObject {
  let key: KeyObject;
  try {
    key = parse(readFileSync(file));
  } catch (err) {
    throw new BwcError('BAD_KEY', `${file}: not a readable PEM ${kind} key (${describeError(err)})`, { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BwcError('BAD_KEY', `${file}: an Ed25519 key is required, this one is ${key.asymmetricKeyType}`);
  return key;
}

export interface TrustedKey {
  id: string;
  role: Role;
  publicKey: KeyObject;
}

/** Trusted issuers, found by their configured id or by their fingerprint. */
export class TrustedKeys {
  private readonly byId = new Map<string, TrustedKey>();

  constructor(keys: TrustedKey[]) {
    for (const k of keys) {
      this.byId.set(k.id, k);
      this.byId.set(keyFingerprint(k.publicKey), k);
    }
  }

  static fromConfig(entries: ReadonlyArray<{ id: string; role: Role; publicKeyFile: string }>): TrustedKeys {
    return new TrustedKeys(entries.map((e) => ({ id: e.id, role: e.role, publicKey: readPublicKey(e.publicKeyFile) })));
  }

  get(id: string): TrustedKey | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return new Set(this.byId.values()).size;
  }
}
