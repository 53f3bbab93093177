import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { parseDocument } from 'yaml';
import { BwcError } from '../common/errors.js';
import { applyEnvOverrides, type EnvApplied } from './env-overrides.js';
import { ConfigSchema, type BwcConfig } from './schema.js';
import { formatPath, mapValues } from './schema-walk.js';
import { readPasswordFile, readPrivateKeyFile } from './secret-files.js';
import { configProblems, type ConfigProblem } from './validate-config.js';

/** Secrets read from their files, kept apart from the configuration (which only names the files). */
export interface ConfigSecrets {
  /** From mqtt.passwordFile. */
  mqttPassword?: string;
  /** PEM, from mqtt.tls.keyFile. */
  tlsKey?: Buffer;
  /** From gb28181.passwordFile. */
  gbPassword?: string;
}

export interface LoadedConfig {
  /** Validated, defaults filled, paths absolute, frozen. */
  config: BwcConfig;
  secrets: Readonly<ConfigSecrets>;
  /** Hash of the file content (first 16 hex digits of SHA-256): the config version in the agent state. */
  version: string;
  /** Absolute path of the file read. */
  file: string;
  /** Environment variables that overrode the file. */
  envOverrides: readonly string[];
}

/** Refusal of a configuration: every problem with its path. */
export class ConfigError extends BwcError {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super('BAD_CONFIG', `${file}: ${problems.map((p) => `${p.path}: ${p.reason}`).join('\n  ')}`);
  }
}

/**
 * YAML → environment overrides → defaults → validation (refused with the
 * path and reason of each problem, unknown keys included) → derived values
 * (relative paths against the file's folder, buffer path, client id) →
 * secrets from their files → frozen (fastify's validate-then-freeze: nothing
 * downstream can change what was checked).
 */
export interface LoadOptions {
  /**
   * Read the secret files (default). Off only to check a file away from the
   * machine it is for (`config validate --skip-secrets`, the examples' test):
   * `secrets` is then empty.
   */
  readSecrets?: boolean;
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Promise<LoadedConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BwcError('BAD_CONFIG', `${file}: cannot read the configuration: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
  return loadConfigText(text, file, env, opts);
}

/** The same as loadConfig, from text already read (relative paths resolve against dirname(file)). */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): LoadedConfig {
  const raw = parseYaml(text, file);
  const { value, applied } = applyEnvOverrides(raw, env);
  const config = Value.Default(ConfigSchema, value) as BwcConfig;
  const problems = configProblems(ConfigSchema, config);
  if (problems.length === 0) problems.push(...crossFieldProblems(config));
  if (problems.length > 0) throw new ConfigError(file, problems.map((p) => withEnvNote(p, applied)));
  const resolved = resolvePaths(config, dirname(resolve(file)));
  const secrets = opts.readSecrets === false ? {} : readSecrets(resolved);
  return {
    config: deepFreeze(resolved),
    secrets: Object.freeze(secrets),
    version: createHash('sha256').update(text).digest('hex').slice(0, 16),
    file: resolve(file),
    envOverrides: Object.freeze(applied.map((a) => a.name)),
  };
}

function parseYaml(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    const what = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new BwcError('BAD_CONFIG', `${where}: not valid YAML: ${what}`, { cause: e });
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BwcError('BAD_CONFIG', `${file}: the configuration must be a mapping of sections (agent:, mqtt:, ...), got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  }
  return raw as Record<string, unknown>;
}

/** Rules one field cannot express alone. */
function crossFieldProblems(c: BwcConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const dup = (list: { id: string }[], base: string) => {
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const first = seen.get(item.id);
      if (first !== undefined) out.push({ path: `${base}[${i}].id`, reason: `${JSON.stringify(item.id)} is already used by ${base}[${first}]` });
      else seen.set(item.id, i);
    });
  };
  dup(c.devices, 'devices');
  dup(c.security.trustedKeys, 'security.trustedKeys');
  c.devices.forEach((d, i) => {
    if (!d.gnss && !d.control) out.push({ path: `devices[${i}]`, reason: 'needs a gnss port, a control port or both' });
  });
  for (const [path, r] of [['mqtt.reconnect', c.mqtt.reconnect], ['devicePorts.reconnect', c.devicePorts.reconnect]] as const) {
    if (r.minMs > r.maxMs) out.push({ path: `${path}.minMs`, reason: `must be <= ${path}.maxMs (${r.maxMs}), got ${r.minMs}` });
  }
  if (c.mqtt.passwordFile && !c.mqtt.username) out.push({ path: 'mqtt.passwordFile', reason: 'needs mqtt.username as well' });
  const tlsBroker = c.mqtt.brokers.some((b) => /^(mqtts|wss):/.test(b));
  if (c.mqtt.tls && !tlsBroker) out.push({ path: 'mqtt.tls', reason: 'is set but no broker URL uses mqtts:// or wss://' });
  if (c.mqtt.tls?.keyFile && !c.mqtt.tls.certFile) out.push({ path: 'mqtt.tls.keyFile', reason: 'needs mqtt.tls.certFile (the certificate of this key)' });
  if (c.gb28181) out.push(...gbProblems(c));
  return out;
}

/** Channel ids must be unique and differ from the device id; derived ones are checked too. */
function gbProblems(c: BwcConfig): ConfigProblem[] {
  const gb = c.gb28181!;
  const out: ConfigProblem[] = [];
  const seen = new Map<string, string>([[gb.deviceId, 'gb28181.deviceId']]);
  c.devices.forEach((d, i) => {
    if (!d.channelId) return;
    const first = seen.get(d.channelId);
    if (first) out.push({ path: `devices[${i}].channelId`, reason: `${d.channelId} is already used by ${first}` });
    else seen.set(d.channelId, `devices[${i}].channelId`);
  });
  if (gb.server.id === gb.deviceId) out.push({ path: 'gb28181.deviceId', reason: 'must differ from gb28181.server.id' });
  return out;
}

/**
 * The channel id of a camera that has none configured: the device id's first
 * 10 digits (centre and industry codes), type 131 (camera), then a 7-digit
 * number, skipping numbers already taken by configured ids.
 */
export function deriveChannelId(deviceId: string, index: number, taken: ReadonlySet<string>): string {
  for (let n = index + 1; n < 10_000_000; n++) {
    const id = `${deviceId.slice(0, 10)}131${String(n).padStart(7, '0')}`;
    if (!taken.has(id) && id !== deviceId) return id;
  }
  throw new BwcError('BAD_CONFIG', 'no free GB/T 28181 channel id');
}

function withEnvNote(p: ConfigProblem, applied: EnvApplied[]): ConfigProblem {
  const hit = applied.find((a) => p.path === formatPath(a.path) || p.path.startsWith(formatPath(a.path) + '['));
  return hit ? { path: p.path, reason: `${p.reason} (set by ${hit.name})` } : p;
}

function resolvePaths(c: BwcConfig, baseDir: string): BwcConfig {
  const out = mapValues(ConfigSchema, c, (v, s) => (s.fsPath && typeof v === 'string' && !isAbsolute(v) ? resolve(baseDir, v) : v)) as BwcConfig;
  out.buffer.path ??= join(out.agent.dataDir, 'buffer.db');
  out.audit.path ??= join(out.agent.dataDir, 'audit.log');
  out.mqtt.clientId ??= `bwc-agent-${out.agent.id}`;
  return out;
}

function readSecrets(c: BwcConfig): ConfigSecrets {
  const secrets: ConfigSecrets = {};
  if (c.mqtt.passwordFile) secrets.mqttPassword = readPasswordFile('mqtt.passwordFile', c.mqtt.passwordFile);
  if (c.mqtt.tls?.keyFile) secrets.tlsKey = readPrivateKeyFile('mqtt.tls.keyFile', c.mqtt.tls.keyFile);
  if (c.gb28181?.passwordFile) secrets.gbPassword = readPasswordFile('gb28181.passwordFile', c.gb28181.passwordFile);
  return secrets;
}

/** The schema paths that name secret files, read above (a test keeps the two in step). */
export const SECRET_FIELDS = ['mqtt.passwordFile', 'mqtt.tls.keyFile', 'gb28181.passwordFile'] as const;

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v as object)) deepFreeze(child);
  }
  return v;
}

/**
 * A copy for display: passwords inside broker URLs masked. The configuration
 * itself holds no secrets (only the files that do); secrets are never shown.
 */
export function maskSecrets(config: BwcConfig): BwcConfig {
  const copy = structuredClone(config) as BwcConfig;
  copy.mqtt.brokers = copy.mqtt.brokers.map(maskUrlPassword);
  return copy;
}

export function maskUrlPassword(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/\s]*):[^@/\s]*@/i, '$1:***@');
}
