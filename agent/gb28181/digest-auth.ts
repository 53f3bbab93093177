import { createHash, randomBytes } from 'node:crypto';

/**
 * HTTP digest for SIP (RFC 3261 §22.4, RFC 2617): the answer to a 401/407
 * challenge. GB/T 28181 platforms use MD5, with or without qop=auth.
 */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  algorithm?: string;
  qop?: string;
  opaque?: string;
}

export function parseChallenge(value: string): DigestChallenge | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(value);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[1]!)) !== null) params[p[1]!.toLowerCase()] = p[3] ?? p[2]!;
  if (params.realm === undefined || params.nonce === undefined) return undefined;
  return { realm: params.realm, nonce: params.nonce, algorithm: params.algorithm, qop: params.qop, opaque: params.opaque };
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export class DigestError extends Error {}

/** The Authorization header value for `method uri` under the challenge. */
export function digestAuthorization(c: DigestChallenge, o: { username: string; password: string; method: string; uri: string; nc?: number; cnonce?: string }): string {
  if (c.algorithm && c.algorithm.toUpperCase() !== 'MD5') throw new DigestError(`digest algorithm ${c.algorithm} is not supported (MD5 only)`);
  const ha1 = md5(`${o.username}:${c.realm}:${o.password}`);
  const ha2 = md5(`${o.method}:${o.uri}`);
  const qops = c.qop?.split(',').map((q) => q.trim().toLowerCase());
  const parts = [`username="${o.username}"`, `realm="${c.realm}"`, `nonce="${c.nonce}"`, `uri="${o.uri}"`];
  if (qops && qops.includes('auth')) {
    const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
    const cnonce = o.cnonce ?? randomBytes(8).toString('hex');
    parts.push(`response="${md5(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`, 'qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  } else if (qops) {
    throw new DigestError(`digest qop ${c.qop} is not supported (auth only)`);
  } else {
    parts.push(`response="${md5(`${ha1}:${c.nonce}:${ha2}`)}"`);
  }
  parts.push('algorithm=MD5');
  if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
  return 'Digest ' + parts.join(', ');
}
