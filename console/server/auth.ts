import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONSOLE_ROLES, type Accounts, type ConsoleRole } from './accounts.js';

export interface Principal {
  name: string;
  role: ConsoleRole;
  /** The token a state-changing request must echo in the x-csrf-token header. */
  csrf: string;
  via: 'password' | 'proxy';
}

export interface AuthOptions {
  accounts: Accounts;
  /** Trust this request header for the user name (a reverse proxy that authenticated the user). */
  proxyUserHeader?: string;
  /** With proxyUserHeader: the header giving the role (else the local account's role). */
  proxyRoleHeader?: string;
  /** Peer addresses the proxy headers are accepted from. */
  proxyFrom: string[];
  sessionTtlMs?: number;
}

export const SESSION_COOKIE = 'bwc_console_session';

/** Role order: a route open to a role is open to the roles after it. */
const RANK: Record<ConsoleRole, number> = { viewer: 0, supervisor: 1, platform: 1 };

export function roleAtLeast(role: ConsoleRole, need: ConsoleRole): boolean {
  return RANK[role] >= RANK[need];
}

function parseCookies(header: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) m.set(part.slice(0, eq).trim(), decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return m;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Who is asking: a session cookie from the login form (HttpOnly,
 * SameSite=Strict, random token, server-side sessions), or a trusted
 * reverse-proxy header from a trusted peer. Each session has a CSRF token
 * that state-changing requests carry in a header, which a cross-site form
 * cannot set.
 */
export class Auth {
  private readonly sessions = new Map<string, Principal & { expiresMs: number }>();
  private readonly secret = randomBytes(32);
  private readonly ttlMs: number;

  constructor(private readonly o: AuthOptions) {
    this.ttlMs = o.sessionTtlMs ?? 12 * 3600_000;
  }

  async login(name: string, password: string): Promise<{ token: string; principal: Principal } | undefined> {
    const role = await this.o.accounts.verify(name, password);
    if (!role) return undefined;
    const token = randomBytes(32).toString('base64url');
    const principal: Principal = { name, role, csrf: randomBytes(24).toString('base64url'), via: 'password' };
    this.sessions.set(token, { ...principal, expiresMs: Date.now() + this.ttlMs });
    return { token, principal };
  }

  logout(req: FastifyRequest): void {
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (token) this.sessions.delete(token);
  }

  principal(req: FastifyRequest): Principal | undefined {
    if (this.o.proxyUserHeader && this.o.proxyFrom.includes(req.socket.remoteAddress ?? '')) {
      const name = req.headers[this.o.proxyUserHeader.toLowerCase()];
      if (typeof name === 'string' && name) {
        const claimed = this.o.proxyRoleHeader ? req.headers[this.o.proxyRoleHeader.toLowerCase()] : undefined;
        const role = typeof claimed === 'string' && (CONSOLE_ROLES as readonly string[]).includes(claimed) ? (claimed as ConsoleRole) : this.o.accounts.role(name);
        if (!role) return undefined;
        // A stable per-user token: the proxy session has no server-side state here.
        const csrf = createHmac('sha256', this.secret).update(`${name}\0${role}`).digest('base64url');
        return { name, role, csrf, via: 'proxy' };
      }
    }
    const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    const s = token ? this.sessions.get(token) : undefined;
    if (!s) return undefined;
    if (s.expiresMs < Date.now()) {
      this.sessions.delete(token!);
      return undefined;
    }
    return s;
  }

  static cookie(token: string, secure: boolean): string {
    return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  }

  /** For route hooks: 401 without a principal, 403 below the role, 403 on a state change without the CSRF token. */
  guard(need: ConsoleRole) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const p = this.principal(req);
      if (!p) return void (await reply.code(401).send({ error: 'log in first' }));
      if (!roleAtLeast(p.role, need)) return void (await reply.code(403).send({ error: `this needs the ${need} role; you are ${p.role}` }));
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        const got = req.headers['x-csrf-token'];
        if (typeof got !== 'string' || !same(got, p.csrf)) return void (await reply.code(403).send({ error: 'missing or wrong CSRF token: reload the page' }));
      }
      (req as FastifyRequest & { principal?: Principal }).principal = p;
    };
  }
}

export function principalOf(req: FastifyRequest): Principal {
  return (req as FastifyRequest & { principal: Principal }).principal;
}
