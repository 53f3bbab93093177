import { verify as verifySignature } from 'node:crypto';
import { decodeMessage } from '../../protocol/codec.js';
import { describeError } from '../../common/errors.js';
import type { Role, TrustedKeys } from '../../common/command-keys.js';
import type { ReplayStore } from './replay-store.js';
import type { RateLimiter } from './rate-limiter.js';
import { checkCommandArgs } from './command-args.js';

export const COMMAND_KINDS = [
  'positionQuery', 'temporaryTracking', 'statusQuery', 'snapshot', 'liveFeed',
  'recordingList', 'clipFetch', 'configUpdate', 'cancel', 'viewerKeepalive',
] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

/** What each role may ask. A platform key may ask everything. */
const ALLOWED: Record<Role, ReadonlySet<CommandKind>> = {
  supervisor: new Set<CommandKind>(['positionQuery', 'statusQuery', 'temporaryTracking', 'snapshot', 'liveFeed', 'recordingList', 'clipFetch', 'cancel', 'viewerKeepalive']),
  technician: new Set<CommandKind>(['configUpdate']),
  platform: new Set<CommandKind>(COMMAND_KINDS),
};

const ROLE_NAMES: Record<string, Role> = { ROLE_SUPERVISOR: 'supervisor', ROLE_TECHNICIAN: 'technician', ROLE_PLATFORM: 'platform', '1': 'supervisor', '2': 'technician', '3': 'platform' };

export type RejectReason =
  | 'REASON_MALFORMED' | 'REASON_UNSIGNED' | 'REASON_BAD_SIGNATURE' | 'REASON_UNKNOWN_KEY' | 'REASON_WRONG_ROLE'
  | 'REASON_EXPIRED' | 'REASON_NOT_YET_VALID' | 'REASON_REPLAYED' | 'REASON_OVERSIZED' | 'REASON_RATE_LIMITED'
  | 'REASON_UNKNOWN_DEVICE' | 'REASON_BAD_REQUEST';

export interface VerifiedCommand {
  commandId: string;
  deviceId: string;
  issuer: string;
  role: Role;
  issuedAtMs: number;
  expiresAtMs: number;
  kind: CommandKind;
  args: Record<string, any>;
  replyTo?: string;
}

export type Verdict =
  | { ok: true; command: VerifiedCommand }
  | { ok: false; reason: RejectReason; message: string; commandId?: string; issuer?: string; kind?: string };

export interface VerifierOptions {
  keys: TrustedKeys;
  replays: ReplayStore;
  rateLimiter: RateLimiter;
  maxBytes: number;
  maxClockSkewMs: number;
  /** Longest validity window accepted (expires − issued). */
  maxValidityMs: number;
  now?: () => number;
}

/**
 * Checks a command envelope, cheapest and most telling checks first; nothing
 * runs unless every check passes. The signature covers the exact body bytes
 * the issuer serialised, so no canonical re-encoding is involved.
 */
export class CommandVerifier {
  private readonly now: () => number;

  constructor(private readonly o: VerifierOptions) {
    this.now = o.now ?? Date.now;
  }

  verify(bytes: Uint8Array, topicDeviceId: string): Verdict {
    if (bytes.length > this.o.maxBytes) return reject('REASON_OVERSIZED', `command of ${bytes.length} bytes exceeds the limit of ${this.o.maxBytes}`);
    let env: { body?: Uint8Array; signature?: Uint8Array; keyId?: string };
    try {
      env = decodeMessage('CommandEnvelope', bytes);
    } catch (err) {
      return reject('REASON_MALFORMED', `not a command envelope: ${describeError(err)}`);
    }
    if (!env.body || env.body.length === 0) return reject('REASON_MALFORMED', 'envelope has no body');
    // Before the signature is checked the command id is only a claim; it is
    // echoed in the refusal so the sender can match it, and trusted for nothing else.
    const claimed = { ...claimedId(env.body), issuer: env.keyId ? env.keyId.slice(0, 80) : undefined };
    if (!env.signature || env.signature.length === 0) return { ...reject('REASON_UNSIGNED', 'command is not signed'), ...claimed };
    const keyId = env.keyId ?? '';
    const key = this.o.keys.get(keyId);
    if (!key) return { ...reject('REASON_UNKNOWN_KEY', `key ${JSON.stringify(keyId.slice(0, 80))} is not trusted by this agent`), ...claimed };
    let signatureOk = false;
    try {
      signatureOk = verifySignature(null, env.body, key.publicKey, env.signature);
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return { ...reject('REASON_BAD_SIGNATURE', `signature does not verify with key ${keyId}`), ...claimed };

    let body: Record<string, any>;
    try {
      body = decodeMessage('CommandBody', env.body);
    } catch (err) {
      return reject('REASON_MALFORMED', `signed body is not a command: ${describeError(err)}`);
    }
    const commandId = String(body.commandId ?? '');
    const meta = { commandId: commandId || undefined, issuer: key.id };
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(commandId)) return { ...reject('REASON_MALFORMED', 'command id must be 1-64 of A-Z a-z 0-9 . _ -'), ...meta };
    if (body.issuerKeyId !== keyId) return { ...reject('REASON_BAD_SIGNATURE', 'the body names another issuer key than the envelope'), ...meta };
    const kind = COMMAND_KINDS.find((k) => body[k] !== undefined && body[k] !== null);
    if (!kind) return { ...reject('REASON_MALFORMED', 'command names no action'), ...meta };
    const claimedRole = ROLE_NAMES[String(body.role)];
    if (claimedRole !== key.role) return { ...reject('REASON_WRONG_ROLE', `key ${key.id} has role ${key.role}, the command claims ${claimedRole ?? 'none'}`), ...meta, kind };
    if (!ALLOWED[key.role].has(kind)) return { ...reject('REASON_WRONG_ROLE', `role ${key.role} may not ask for ${kind}`), ...meta, kind };
    if (body.deviceId !== topicDeviceId) return { ...reject('REASON_UNKNOWN_DEVICE', `command is for ${JSON.stringify(body.deviceId)}, sent to ${topicDeviceId}`), ...meta, kind };
    const badArgs = checkCommandArgs(kind, body[kind] ?? {});
    if (badArgs) return { ...reject('REASON_BAD_REQUEST', `${kind}: ${badArgs}`), ...meta, kind };

    const now = this.now();
    const issued = Number(body.issuedAtMs ?? 0);
    const expires = Number(body.expiresAtMs ?? 0);
    if (!(expires > issued)) return { ...reject('REASON_BAD_REQUEST', 'expires-at must be after issued-at'), ...meta, kind };
    if (expires - issued > this.o.maxValidityMs) return { ...reject('REASON_BAD_REQUEST', `validity window of ${expires - issued} ms exceeds ${this.o.maxValidityMs} ms`), ...meta, kind };
    if (issued > now + this.o.maxClockSkewMs) return { ...reject('REASON_NOT_YET_VALID', `issued ${issued - now} ms in the future`), ...meta, kind };
    if (expires <= now) return { ...reject('REASON_EXPIRED', `expired ${now - expires} ms ago`), ...meta, kind };
    if (!this.o.replays.remember(`${key.id}:${commandId}`, key.id, expires + this.o.maxClockSkewMs, now)) {
      return { ...reject('REASON_REPLAYED', `command ${commandId} was already received`), ...meta, kind };
    }
    // Keepalives and cancels start no work: a long live feed must not exhaust its viewer's budget.
    if (kind !== 'viewerKeepalive' && kind !== 'cancel' && !this.o.rateLimiter.take(key.id, now)) return { ...reject('REASON_RATE_LIMITED', `too many commands from ${key.id}`), ...meta, kind };
    return {
      ok: true,
      command: {
        commandId, deviceId: topicDeviceId, issuer: key.id, role: key.role, issuedAtMs: issued, expiresAtMs: expires,
        kind, args: body[kind] ?? {}, ...(body.replyTo ? { replyTo: String(body.replyTo) } : {}),
      },
    };
  }
}

function reject(reason: RejectReason, message: string): { ok: false; reason: RejectReason; message: string } {
  return { ok: false, reason, message };
}

/** The command id an unverified body claims, when it is well-formed; nothing else is read from it. */
function claimedId(body: Uint8Array): { commandId?: string } {
  try {
    const id = String(decodeMessage<{ commandId?: string }>('CommandBody', body).commandId ?? '');
    return /^[A-Za-z0-9._-]{1,64}$/.test(id) ? { commandId: id } : {};
  } catch {
    return {};
  }
}
