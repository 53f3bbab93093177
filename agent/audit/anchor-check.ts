import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BwcError } from '../../common/errors.js';
import { rawPublicKey } from './agent-key.js';
import { checkAnchor, type CheckedAnchor } from './audit-anchor.js';
import type { ChainedEntry } from './audit-log.js';

/**
 * Checks an audit log against anchors the platform kept (signed heads the
 * agent published, collected by `bwc-console audit-anchors`). An attacker on
 * the device can rebuild the chain and its head file after deleting,
 * rewriting or cutting entries, and the chain then verifies on its own; it
 * cannot change the anchors already received, so every anchor of this chain
 * must still match: the log holds at least its entry count, and the entry at
 * that index has the anchored hash.
 */

/** One line of an anchors file (JSON Lines): only `anchor` is trusted, after its signature is checked. */
export interface AnchorLine {
  /** The AuditAnchor message as received, base64. */
  anchor: string;
  topic?: string;
  receivedMs?: number;
  agentId?: string;
  entries?: number;
  lastHash?: string;
  timeMs?: number;
  keyId?: string;
}

export interface AnchorVerdict {
  ok: boolean;
  /** Anchors of this log's chain checked against it. */
  checked: number;
  /** The newest anchor checked: entries and time. */
  newest?: { entries: number; timeMs: number };
  problems: string[];
  /** Anchors set aside (other key, other agent, superseded chain, unreadable), with why. */
  notes: string[];
}

export function readAnchorsFile(file: string): CheckedAnchor[] {
  if (!existsSync(file)) throw new BwcError('NO_ANCHORS', `no anchors file at ${file}`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      try {
        const line = JSON.parse(l) as AnchorLine;
        if (typeof line.anchor !== 'string') throw new Error('no "anchor" field');
        return checkAnchor(Buffer.from(line.anchor, 'base64'));
      } catch (err) {
        return { head: { agentId: '', entries: 0, lastHash: '', firstHash: '', timeMs: 0 }, keyId: '', publicKey: '', signatureOk: false, problem: `line ${i + 1}: ${(err as Error).message}` };
      }
    });
}

/** The raw public key (hex) of a PEM public key file, e.g. the agent's agent.pub. */
export function publicKeyHexOf(file: string): string {
  try {
    return rawPublicKey(createPublicKey(readFileSync(file, 'utf8'))).toString('hex');
  } catch (err) {
    throw new BwcError('BAD_KEY', `${file} is not a readable PEM public key: ${(err as Error).message}`, { cause: err });
  }
}

export function checkAgainstAnchors(entries: readonly ChainedEntry[], anchors: readonly CheckedAnchor[], opts: { agentId?: string; publicKeyHex?: string } = {}): AnchorVerdict {
  const problems: string[] = [];
  const notes: string[] = [];
  const when = (ms: number) => new Date(ms).toISOString();
  let valid = anchors.filter((a) => {
    if (!a.signatureOk) notes.push(`ignored an anchor: ${a.problem ?? 'bad signature'}`);
    return a.signatureOk;
  });
  const agents = new Set(valid.map((a) => a.head.agentId));
  const agentId = opts.agentId ?? (agents.size === 1 ? [...agents][0] : undefined);
  if (agentId === undefined) {
    if (agents.size > 1) problems.push(`the anchors are of ${agents.size} agents (${[...agents].slice(0, 5).join(', ')}): name one with --agent`);
  } else {
    valid = valid.filter((a) => {
      if (a.head.agentId !== agentId) notes.push(`ignored an anchor of agent ${a.head.agentId}`);
      return a.head.agentId === agentId;
    });
  }
  valid.sort((a, b) => a.head.timeMs - b.head.timeMs);
  // The key: the one given, else the one of the earliest anchor (pinned on first sight).
  const key = opts.publicKeyHex ?? valid[0]?.publicKey;
  valid = valid.filter((a) => {
    if (a.publicKey !== key) notes.push(`ignored an anchor of ${when(a.head.timeMs)} signed by another key (${a.keyId})`);
    return a.publicKey === key;
  });
  if (valid.length === 0) {
    problems.push(anchors.length === 0 ? 'the anchors file holds no anchor' : 'no anchor in the file is valid for this log (see notes)');
    return { ok: false, checked: 0, problems, notes };
  }
  // Chains the agent itself declared superseded (found broken at a start and set aside).
  const superseded = new Map<string, CheckedAnchor>();
  for (const a of valid) if (a.head.restartedMs && a.head.previousFirstHash) superseded.set(a.head.previousFirstHash, a);
  const first = entries[0]?.hash ?? '';
  let checked = 0;
  let newest: AnchorVerdict['newest'];
  for (const a of valid) {
    const h = a.head;
    if (h.entries === 0) continue;
    const at = `the anchor of ${when(h.timeMs)} (${h.entries} entries)`;
    if (h.firstHash !== first) {
      const by = superseded.get(h.firstHash);
      if (by && by.head.timeMs >= h.timeMs) {
        notes.push(`${at} is of a chain the agent set aside at ${when(by.head.restartedMs!)} (${by.head.restartReason ?? 'broken at start'}): verify that copy with these anchors`);
        continue;
      }
      problems.push(`${at} names a chain whose first entry has hash ${h.firstHash.slice(0, 16)}…, this log's first entry has ${first ? first.slice(0, 16) + '…' : 'none'}: rewritten from its start, or not the anchored log`);
      continue;
    }
    checked++;
    if (!newest || h.timeMs >= newest.timeMs) newest = { entries: h.entries, timeMs: h.timeMs };
    if (entries.length < h.entries) {
      problems.push(`${at}: the log holds only ${entries.length} entries (entries were deleted or cut off the end)`);
      continue;
    }
    const e = entries[h.entries - 1]!;
    if (e.hash !== h.lastHash) problems.push(`${at}: entry ${h.entries - 1} has hash ${e.hash.slice(0, 16)}…, the anchor records ${h.lastHash.slice(0, 16)}… (entries up to it were deleted, inserted or rewritten)`);
  }
  if (checked === 0 && problems.length === 0) notes.push('no anchor of this chain holds an entry yet');
  return { ok: problems.length === 0, checked, ...(newest ? { newest } : {}), problems, notes };
}
