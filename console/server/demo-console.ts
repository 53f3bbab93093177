import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyFingerprint, readPrivateKey, readPublicKey } from '../../common/command-keys.js';
import { isBwcError } from '../../common/errors.js';
import { Accounts } from './accounts.js';
import { ConsoleServer } from './console-server.js';

export interface DemoConsole {
  /** What the demo's agent must trust for the console's spot checks. */
  trust: { id: string; role: 'supervisor'; publicKeyFile: string };
  user: string;
  password: string;
  start(broker: string, host: string, port: number): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The console that `bwc-agent demo` runs beside its cameras: a supervisor
 * key (trusted by the demo's agent), an account with a fresh password, the
 * track store in the demo's data folder.
 */
export async function prepareDemoConsole(dir: string): Promise<DemoConsole> {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, 'supervisor.key');
  const pubFile = join(dir, 'supervisor.pub');
  if (!existsSync(keyFile) || !existsSync(pubFile)) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const passwordFile = join(dir, 'supervisor.password');
  const password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : randomBytes(6).toString('base64url');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const accounts = Accounts.load(dir);
  await accounts.set('supervisor', 'supervisor', password);
  let server: ConsoleServer | undefined;
  return {
    trust: { id: keyFingerprint(readPublicKey(pubFile)), role: 'supervisor', publicKeyFile: pubFile },
    user: 'supervisor',
    password,
    async start(broker, host, port) {
      const o = { broker, host, dataDir: dir, store: 'sqlite', keys: new Map([['supervisor' as const, readPrivateKey(keyFile)]]) };
      try {
        server = await ConsoleServer.start({ ...o, port });
      } catch (err) {
        // The usual port is taken (another demo, another console): any free one will do.
        if (!(err as NodeJS.ErrnoException).code?.includes('EADDRINUSE') && !isBwcError(err, 'EADDRINUSE')) throw err;
        server = await ConsoleServer.start({ ...o, port: 0 });
      }
      return server.url;
    },
    async stop() {
      await server?.stop();
    },
  };
}
