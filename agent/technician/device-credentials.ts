import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import { BwcError } from '../../common/errors.js';

export type CredentialKind = 'keypair' | 'password';

export interface DeviceCredentials {
  kind: CredentialKind;
  dir: string;
  /** Files holding secrets (mode 0600) and public ones. */
  secretFile: string;
  publicFile?: string;
  username?: string;
}

/** Where a device's credentials live: `<dataDir>/devices/<id>/`, beside the agent's other state. */
export function credentialDir(dataDir: string, deviceId: string): string {
  return join(dataDir, 'devices', deviceId);
}

export function credentialPaths(dataDir: string, deviceId: string, kind: CredentialKind): DeviceCredentials {
  const dir = credentialDir(dataDir, deviceId);
  return kind === 'keypair'
    ? { kind, dir, secretFile: join(dir, 'device.key'), publicFile: join(dir, 'device.pub') }
    : { kind, dir, secretFile: join(dir, 'device.password'), username: deviceId };
}

/**
 * Checks existing credentials: the secret file is readable only by its owner
 * and holds what it should. Returns a reason when they are not usable, so a
 * second provisioning keeps good credentials and replaces broken ones.
 */
export function credentialProblem(c: DeviceCredentials): string | undefined {
  if (!existsSync(c.secretFile)) return 'missing';
  const mode = statSync(c.secretFile).mode & 0o777;
  if ((mode & 0o077) !== 0) return `${c.secretFile} is readable by others (mode ${mode.toString(8)})`;
  const text = readFileSync(c.secretFile, 'utf8');
  if (c.kind === 'keypair') {
    try {
      const priv = createPrivateKey(text);
      if (!c.publicFile || !existsSync(c.publicFile)) return `${c.publicFile} is missing`;
      const pub = createPublicKey(readFileSync(c.publicFile, 'utf8')).export({ type: 'spki', format: 'der' });
      if (!createPublicKey(priv).export({ type: 'spki', format: 'der' }).equals(pub)) return `${c.publicFile} does not match ${c.secretFile}`;
    } catch (err) {
      return `${c.secretFile} holds no usable private key: ${(err as Error).message}`;
    }
  } else if (text.trim().length < 16) {
    return `${c.secretFile} holds no usable password`;
  }
  return undefined;
}

/**
 * Creates the credentials: an Ed25519 key pair (device.key 0600, device.pub
 * 0644) or a random password (device.password 0600, the username is the
 * device id). Files are written atomically; when run as root they are given
 * to the owner of the data folder (the agent's user), so only the agent reads them.
 * Returns the files created (for undo).
 */
export function createCredentials(dataDir: string, c: DeviceCredentials): string[] {
  mkdirSync(c.dir, { recursive: true, mode: 0o700 });
  const owner = ownerOf(dataDir);
  const created: string[] = [];
  const write = (file: string, text: string, mode: number) => {
    atomicWriteFileSync(file, text, mode);
    created.push(file);
    if (owner) chownSync(file, owner.uid, owner.gid);
  };
  try {
    if (owner) chownSync(c.dir, owner.uid, owner.gid);
    if (c.kind === 'keypair') {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      write(c.secretFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
      write(c.publicFile!, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
    } else {
      write(c.secretFile, randomBytes(24).toString('base64url') + '\n', 0o600);
    }
  } catch (err) {
    for (const f of created) rmSync(f, { force: true });
    throw new BwcError('CREDENTIALS_WRITE', `cannot write the device credentials in ${c.dir}: ${(err as Error).message}`, { cause: err });
  }
  return created;
}

/** The data folder's owner when we run as root and it belongs to someone else (the agent user). */
export function ownerOf(dir: string): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const st = statSync(dir);
    return st.uid === 0 ? undefined : { uid: st.uid, gid: st.gid };
  } catch {
    return undefined;
  }
}
