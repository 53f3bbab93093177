import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { encodeBody } from './codec.js';

export type CommandRole = 'supervisor' | 'technician' | 'platform';

const ROLE_VALUE: Record<CommandRole, string> = { supervisor: 'ROLE_SUPERVISOR', technician: 'ROLE_TECHNICIAN', platform: 'ROLE_PLATFORM' };

export interface CommandToSign {
  deviceId: string;
  /** The CommandBody oneof field: snapshot, liveFeed, clipFetch, ... */
  kind: string;
  args?: Record<string, unknown>;
  keyId: string;
  role: CommandRole;
  privateKey: KeyObject;
  commandId?: string;
  issuedAtMs?: number;
  /** Validity from issue, ms (default 60 s). */
  ttlMs?: number;
  replyTo?: string;
}

/** A new command id: time-ordered and unique enough for replay protection. */
export function newCommandId(): string {
  return `c${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/**
 * Serialises the body once and signs those exact bytes with Ed25519: the
 * agent verifies the bytes it received, with no canonical re-encoding.
 */
export function signCommand(c: CommandToSign): { commandId: string; envelope: Uint8Array } {
  const commandId = c.commandId ?? newCommandId();
  const issued = c.issuedAtMs ?? Date.now();
  const body = encodeBody('CommandBody', {
    commandId,
    deviceId: c.deviceId,
    issuerKeyId: c.keyId,
    role: ROLE_VALUE[c.role],
    issuedAtMs: issued,
    expiresAtMs: issued + (c.ttlMs ?? 60_000),
    [c.kind]: c.args ?? {},
    ...(c.replyTo ? { replyTo: c.replyTo } : {}),
  });
  const signature = sign(null, body, c.privateKey);
  const envelope = encodeBody('CommandEnvelope', { body, signature, keyId: c.keyId });
  return { commandId, envelope };
}
