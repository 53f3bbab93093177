import { randomBytes } from 'node:crypto';

/**
 * Identifiers RFC 3261 asks to be globally unique and unguessable: branches
 * start with the magic cookie z9hG4bK (§8.1.1.7), tags carry at least 32
 * bits of randomness (§19.3), Call-IDs are random with the host (§8.1.1.4).
 */
export function newBranch(): string {
  return 'z9hG4bK' + randomBytes(9).toString('hex');
}

export function newTag(): string {
  return randomBytes(6).toString('hex');
}

export function newCallId(host: string): string {
  return `${randomBytes(10).toString('hex')}@${host}`;
}
