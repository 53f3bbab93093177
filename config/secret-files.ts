import { readFileSync, statSync } from 'node:fs';
import { BwcError } from '../common/errors.js';

/**
 * Secrets live in their own files, never in the configuration: the file can
 * then be shown, copied and versioned. A secret file must exist and must not
 * be readable by every user (as ssh refuses a world-readable key).
 */
export function readSecretFile(field: string, file: string): Buffer {
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new BwcError('BAD_SECRET_FILE', `${field}: ${file} is not a regular file`);
    mode = st.mode;
  } catch (err) {
    if (err instanceof BwcError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new BwcError('BAD_SECRET_FILE', `${field}: cannot read the secret file ${file}: ${why}`, { cause: err });
  }
  if ((mode & 0o004) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new BwcError('BAD_SECRET_FILE', `${field}: the secret file ${file} is readable by every user (mode ${octal}): run chmod 600 ${file}`);
  }
  try {
    return readFileSync(file);
  } catch (err) {
    throw new BwcError('BAD_SECRET_FILE', `${field}: cannot read the secret file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** A password file holds one line; the trailing newline an editor adds is not part of it. */
export function readPasswordFile(field: string, file: string): string {
  const text = readSecretFile(field, file).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new BwcError('BAD_SECRET_FILE', `${field}: the secret file ${file} is empty`);
  if (text.includes('\n')) throw new BwcError('BAD_SECRET_FILE', `${field}: the secret file ${file} must hold one line`);
  return text;
}

export function readPrivateKeyFile(field: string, file: string): Buffer {
  const key = readSecretFile(field, file);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) {
    throw new BwcError('BAD_SECRET_FILE', `${field}: ${file} holds no PEM private key (expected a "-----BEGIN ... PRIVATE KEY-----" block)`);
  }
  return key;
}
