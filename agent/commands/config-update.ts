import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import { loadConfigText, type LoadedConfig } from '../../config/load-config.js';
import { BwcError, describeError } from '../../common/errors.js';
import { writeDeclaredVersion } from '../technician/config-version.js';
import type { VerifiedCommand } from './command-verifier.js';

/**
 * What a remote configuration update needs from whoever runs the agent (the
 * supervisor of agent/technician/agent-supervisor.ts): the file in use, the
 * configuration in use, a way to restart the agent on another configuration
 * and to reply through whichever agent is running.
 */
export interface ConfigUpdateTarget {
  readonly file: string;
  current(): LoadedConfig;
  /**
   * Stops the running agent and starts one on `next`. With `requireUp`, it
   * rejects (having stopped the new agent again) when the agent cannot start
   * or does not reach the broker within the supervisor's time limit.
   */
  restart(next: LoadedConfig, requireUp: boolean): Promise<void>;
  /** Writes a Reply body for a device through the agent running now. */
  reply(deviceId: string, body: Record<string, unknown>): void;
}

/** Largest configuration document accepted, bytes. */
export const MAX_CONFIG_BYTES = 256 * 1024;
const VERSION = /^[A-Za-z0-9._-]{1,64}$/;

// By command handler, so that one process may hold several agents (tests) and a
// handler of an agent nobody supervises answers "not supported".
const targets = new WeakMap<object, ConfigUpdateTarget>();
const busy = new WeakSet<ConfigUpdateTarget>();

export function attachConfigUpdates(handler: object, target: ConfigUpdateTarget): void {
  targets.set(handler, target);
}

/**
 * A signed configuration update (technician role, checked by the verifier):
 * validated as the agent would load it (schema, cross-field rules, secret
 * files, environment overrides), refused if it changes the agent id; written
 * atomically; the agent restarted on it and given a time limit to reach the
 * broker; if it cannot, the previous file is put back and the agent restarted
 * on it. The version the update declares is reported in the agent state
 * (birth message) from then on, across restarts. Replies DONE or FAILED
 * (REASON_INVALID_CONFIG with the reason) through the agent running at the end.
 */
export async function applyConfigUpdate(handler: object, c: VerifiedCommand): Promise<void> {
  const target = targets.get(handler);
  if (!target) throw new BwcError('NOT_SUPPORTED', 'remote configuration update needs the agent run under its supervisor (bwc-agent run)');
  const reply = (status: 'DONE' | 'FAILED', reasonCode: string, reason: string) =>
    target.reply(c.deviceId, { commandId: c.commandId, status: `REPLY_STATUS_${status}`, reasonCode, reason });

  const yaml = typeof c.args.yaml === 'string' ? c.args.yaml : '';
  const version = typeof c.args.version === 'string' ? c.args.version : '';
  if (!VERSION.test(version)) return reply('FAILED', 'REASON_BAD_REQUEST', `version must be 1-64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(version)}`);
  if (yaml.trim() === '') return reply('FAILED', 'REASON_BAD_REQUEST', 'the update holds no configuration');
  if (Buffer.byteLength(yaml) > MAX_CONFIG_BYTES) return reply('FAILED', 'REASON_BAD_REQUEST', `the configuration is larger than ${MAX_CONFIG_BYTES} bytes`);
  if (busy.has(target)) return reply('FAILED', 'REASON_BUSY', 'another configuration update is being applied');

  const current = target.current();
  let next: LoadedConfig;
  try {
    next = loadConfigText(yaml, target.file, process.env);
  } catch (err) {
    return reply('FAILED', 'REASON_INVALID_CONFIG', `configuration ${version} refused, nothing changed: ${describeError(err)}`);
  }
  if (next.config.agent.id !== current.config.agent.id) {
    return reply('FAILED', 'REASON_INVALID_CONFIG', `configuration ${version} refused, nothing changed: agent.id cannot change remotely (${current.config.agent.id} → ${next.config.agent.id}); provision the gateway again instead`);
  }
  const before = readFileSync(target.file, 'utf8');
  if (before === yaml && current.version === version) return reply('DONE', 'REASON_NONE', `configuration ${version} is already in use`);

  busy.add(target);
  try {
    const mode = statSync(target.file).mode & 0o777;
    atomicWriteFileSync(target.file, yaml, mode);
    writeDeclaredVersion(next.config.agent.dataDir, version, next.version);
    try {
      await target.restart({ ...next, version }, true);
    } catch (err) {
      // Put back what ran before, exactly, and run it again whatever the broker does now.
      atomicWriteFileSync(target.file, before, mode);
      writeDeclaredVersion(current.config.agent.dataDir, current.version, contentVersion(before));
      await target.restart(current, false);
      return reply('FAILED', 'REASON_INVALID_CONFIG', `the agent could not come up with configuration ${version} (${describeError(err)}): rolled back to ${current.version}`);
    }
    reply('DONE', 'REASON_NONE', `configuration ${version} applied`);
  } finally {
    busy.delete(target);
  }
}

/** The version loadConfig gives a file's content (first 16 hex digits of its SHA-256). */
export function contentVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
