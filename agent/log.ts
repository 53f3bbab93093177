import { pino, type Logger, type DestinationStream, type LoggerOptions as PinoOptions } from 'pino';
import { BwcError } from '../protocol/errors.js';

export type { Logger } from 'pino';

/**
 * The agent's logs: one JSON object per line (pino), so a gateway ships them
 * to any collector as they are.
 *
 * Components and devices log through child loggers, which stamp every line:
 *
 *   const log = createLogger({ name: 'bwc-agent' });
 *   const mqttLog = log.child({ component: 'mqtt' });
 *   const devLog = log.child({ component: 'device', device: 'BWC-0001' });
 *
 * Debug messages must cost nothing when debug is off. Either let pino build
 * them (its printf-style interpolation formats only if the level is on):
 *
 *   devLog.debug('epoch %d: %s', n, sentenceSummary);      // no template string
 *
 * or guard work that is expensive in itself:
 *
 *   if (devLog.isLevelEnabled('debug')) devLog.debug({ frame: hex(frame) }, 'frame in');
 *
 * Never `log.debug(`frame ${hex(frame)}`)`: the string is built even when
 * nobody reads it.
 */

/**
 * Keys whose values are never logged, at any depth up to REDACT_DEPTH.
 * Matched exactly (keys are case-sensitive), so configuration fields that
 * hold secrets must use one of these names; fields holding only a *path* to
 * a secret file (passwordFile, keyFile) are safe and stay visible.
 */
export const SECRET_KEYS: readonly string[] = [
  'password', 'passphrase', 'key', 'privateKey', 'secret', 'token', 'authorization',
  'Authorization', 'clientSecret', 'accessToken', 'refreshToken', 'apiKey', 'cookie',
];

/**
 * pino's redaction (fast-redact path syntax) has no "any depth" wildcard:
 * `*.password` matches exactly one level down. Our objects are shallow
 * (`{ config: { mqtt: { brokers: [ { tls: { key } } ] } } }` is depth 5), so
 * every key is listed at each depth up to this one.
 */
export const REDACT_DEPTH = 6;

export const REDACTED = '[Redacted]';

export function redactPaths(keys: readonly string[] = SECRET_KEYS, depth = REDACT_DEPTH): string[] {
  const paths: string[] = [];
  for (let d = 0; d <= depth; d++) {
    const prefix = '*.'.repeat(d);
    for (const k of keys) paths.push(prefix + k);
  }
  return paths;
}

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info (default), debug, trace, silent */
  level?: string;
  /** a stream, or a file path (appended, created with its directory); default stderr */
  destination?: NodeJS.WritableStream | string;
  /** stamped as `name` on every line */
  name?: string;
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The root logger. Logs go to stderr by default, because stdout belongs to
 * command output (fix JSONL, encoded batches) that other programs read.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!LEVELS.includes(level)) {
    throw new BwcError('BAD_LOG_LEVEL', `log level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
  }
  let dest: DestinationStream;
  if (opts.destination === undefined) {
    dest = pino.destination({ dest: 2, sync: true });
  } else if (typeof opts.destination === 'string') {
    // sync: a line written before a crash or a SIGKILL is on disk; the agent
    // logs a few lines a second at most, so the cost does not show.
    dest = pino.destination({ dest: opts.destination, mkdir: true, sync: true, append: true });
  } else {
    dest = opts.destination as unknown as DestinationStream;
  }
  const options: PinoOptions<never> = {
    level,
    redact: { paths: redactPaths(), censor: REDACTED },
  };
  if (opts.name !== undefined) options.name = opts.name;
  return pino<never>(options, dest);
}
