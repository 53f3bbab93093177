import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BwcError, describeError } from '../../common/errors.js';

/**
 * Console roles. viewer: map, fleet, replay. supervisor and platform: also
 * spot checks, signed with the command key of that role the server holds.
 */
export const CONSOLE_ROLES = ['viewer', 'supervisor', 'platform'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

interface Account {
  role: ConsoleRole;
  /** scrypt parameters and output, base64 */
  salt: string;
  hash: string;
  n: number;
  r: number;
  p: number;
}

const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEYLEN = 32;

function scrypt(password: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, KEYLEN, { ...o, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

export function accountsFile(dataDir: string): string {
  return join(dataDir, 'console-users.json');
}

/** Local console accounts: a JSON file (mode 0600) in the data folder, passwords as scrypt hashes. */
export class Accounts {
  private constructor(private readonly file: string, private users: Record<string, Account>) {}

  static load(dataDir: string): Accounts {
    const file = accountsFile(dataDir);
    if (!existsSync(file)) return new Accounts(file, {});
    try {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { users?: Record<string, Account> };
      return new Accounts(file, doc.users ?? {});
    } catch (err) {
      throw new BwcError('BAD_ACCOUNTS', `${file}: not a readable account list (${describeError(err)}); restore it or remove it and add the accounts again`, { cause: err });
    }
  }

  get size(): number {
    return Object.keys(this.users).length;
  }

  role(name: string): ConsoleRole | undefined {
    return Object.hasOwn(this.users, name) ? this.users[name]!.role : undefined;
  }

  /** Adds the account or changes its role and password. */
  async set(name: string, role: ConsoleRole, password: string): Promise<void> {
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, SCRYPT);
    this.users[name] = { role, salt: salt.toString('base64'), hash: hash.toString('base64'), n: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p };
    mkdirSync(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ users: this.users }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  /** The account's role when the password is right; a wrong name costs the same time as a wrong password. */
  async verify(name: string, password: string): Promise<ConsoleRole | undefined> {
    const a = Object.hasOwn(this.users, name) ? this.users[name]! : undefined;
    const salt = a ? Buffer.from(a.salt, 'base64') : Buffer.alloc(16);
    const got = await scrypt(password, salt, a ? { N: a.n, r: a.r, p: a.p } : SCRYPT);
    if (!a) return undefined;
    const want = Buffer.from(a.hash, 'base64');
    return want.length === got.length && timingSafeEqual(want, got) ? a.role : undefined;
  }
}

export function checkUserName(name: string): string {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new BwcError('BAD_USER', `user name must be 1-64 letters, digits or . _ @ -, got ${JSON.stringify(name)}`);
  return name;
}
