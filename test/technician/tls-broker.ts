import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startConfiguredMosquitto } from '../helpers/mosquitto.js';
import type { TapTest } from '../helpers/tap-test.js';

export interface TlsMaterial {
  /** The CA that signed the broker certificate. */
  caFile: string;
  /** A CA of nobody's: an agent trusting only this refuses the broker. */
  otherCaFile: string;
  certFile: string;
  keyFile: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, a broker certificate for 127.0.0.1 signed by it, and an unrelated CA: made by openssl for this test. */
export function makeTlsMaterial(dir: string, brokerDays = 365): TlsMaterial {
  const f = (n: string) => join(dir, n);
  for (const ca of ['ca', 'other-ca']) {
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${ca}.key`), '-out', f(`${ca}.pem`), '-days', '3650', '-subj', `/CN=bwc test ${ca}`]);
  }
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('broker.key'), '-out', f('broker.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', f('broker.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('broker.pem'), '-days', String(brokerDays), '-extfile', f('san.ext')]);
  // mosquitto started by root drops to its own user, which must read the key (test material only).
  chmodSync(f('broker.key'), 0o644);
  return { caFile: f('ca.pem'), otherCaFile: f('other-ca.pem'), certFile: f('broker.pem'), keyFile: f('broker.key') };
}

/** mosquitto with a TLS listener of its own on a free port, stopped at teardown. */
export async function startTlsMosquitto(t: TapTest, dir: string, m: TlsMaterial, opts: { requireCertificate?: boolean } = {}): Promise<{ url: string }> {
  const port = await freePort();
  const conf = join(dir, `mosquitto-tls-${port}.conf`);
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, `cafile ${m.caFile}`, `certfile ${m.certFile}`, `keyfile ${m.keyFile}`, 'allow_anonymous true', ...(opts.requireCertificate ? ['require_certificate true'] : []), ''].join('\n'));
  await startConfiguredMosquitto(t, conf, port);
  return { url: `mqtts://127.0.0.1:${port}` };
}
