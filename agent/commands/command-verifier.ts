import { verify as verifySignature } from 'node:crypto';
import { decodeMessage } from '../../protocol/codec.js';
import { describeError } from '../../common/errors.js';
import type { Role, TrustedKey, TrustedKeys } from '../../common/command-keys.js';
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

/** Kinds that start no work and take nothing from the issuer's rate budget. */
const FREE_KINDS: ReadonlySet<CommandKind> = new Set<CommandKind>(['viewerKeepalive', 'cancel']);

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
  | { ok: false; reason: RejectReason; message: string; commandId?: string; issuer?: string; kind?: string; authenticated?: boolean };

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

  /** Verifies a batch; the replay store records the accepted ids in one commit. */
  verifyAll(items: ReadonlyArray<{ deviceId: string; bytes: Uint8Array }>): Verdict[] {
    return this.o.replays.batch(() => items.map((i) => this.verify(i.bytes, i.deviceId)));
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
    // Before the signature is checked the body is only a claim: its command id
    // is echoed in a refusal so the sender can match it, and trusted for nothing else.
    let body: Record<string, any> | undefined;
    try {
      body = decodeMessage('CommandBody', env.body);
    } catch {
      body = undefined;
    }
    const claimedCommandId = String(body?.commandId ?? '');
    const claimed = { ...(/^[A-Za-z0-9._-]{1,64}$/.test(claimedCommandId) ? { commandId: claimedCommandId } : {}), issuer: env.keyId ? env.keyId.slice(0, 80) : undefined };
    if (!env.signature || env.signature.length === 0) return { ...reject('REASON_UNSIGNED', 'command is not signed'), ...claimed };
    const keyId = env.keyId ?? '';
    const key = this.o.keys.get(keyId);
    if (!key) return { ...reject('REASON_UNKNOWN_KEY', `key ${JSON.stringify(keyId.slice(0, 80))} is not trusted by this agent`), ...claimed };
    // Cheap before costly: while the named key has used up its budget, a
    // command that would take from it is refused before its signature is
    // checked (a signed flood costs two decodes, not an Ed25519 verification
    // and a disk write each). It never ran, so its id is not recorded.
    const claimedKind = body ? COMMAND_KINDS.find((k) => body![k] !== undefined && body![k] !== null) : undefined;
    const now = this.now();
    if (claimedKind && !FREE_KINDS.has(claimedKind) && !this.o.rateLimiter.peek(key.id, now)) {
      return { ...reject('REASON_RATE_LIMITED', `too many commands from ${key.id}`), ...claimed };
    }
    let signatureOk = false;
    try {
      signatureOk = verifySignature(null, env.body, key.publicKey, env.signature);
    } catch {
      signatureOk = false;
    }
    if (!signatureOk) return { ...reject('REASON_BAD_SIGNATURE', `signature does not verify with key ${keyId}`), ...claimed };
    const verdict = this.checkSigned(body, env.body, key, keyId, topicDeviceId, now);
    // Refusals from here on are of commands a trusted key signed: worth an audit line each (up to a point).
    return verdict.ok ? verdict : { ...verdict, authenticated: true };
  }

  private checkSigned(decoded: Record<string, any> | undefined, bodyBytes: Uint8Array, key: TrustedKey, keyId: string, topicDeviceId: string, now: number): Verdict {
    let body = decoded;
    // The same bytes, now verified: their decoding stands.
    if (!body) {
      try {
        body = decodeMessage('CommandBody', bodyBytes);
      } catch (err) {
        return reject('REASON_MALFORMED', `signed body is not a command: ${describeError(err)}`);
      }
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
    if (!FREE_KINDS.has(kind) && !this.o.rateLimiter.take(key.id, now)) return { ...reject('REASON_RATE_LIMITED', `too many commands from ${key.id}`), ...meta, kind };
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
