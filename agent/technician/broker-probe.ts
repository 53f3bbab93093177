import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import type { LoadedConfig } from '../../config/load-config.js';
import { maskUrlPassword } from '../../config/load-config.js';
import { describeError } from '../../common/errors.js';

export interface BrokerCredentials {
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/** The credentials the agent would use, from its configuration and secret files. */
export function brokerCredentials(loaded: LoadedConfig): BrokerCredentials {
  const c = loaded.config.mqtt;
  return {
    ...(c.username ? { username: c.username } : {}),
    ...(loaded.secrets.mqttPassword ? { password: loaded.secrets.mqttPassword } : {}),
    ...(c.tls?.caFile ? { ca: readFileSync(c.tls.caFile) } : {}),
    ...(c.tls?.certFile ? { cert: readFileSync(c.tls.certFile) } : {}),
    ...(loaded.secrets.tlsKey ? { key: loaded.secrets.tlsKey } : {}),
    rejectUnauthorized: c.tls?.rejectUnauthorized ?? true,
  };
}

/**
 * One MQTT connection attempt and nothing else (no reconnect): resolves with
 * the negotiated protocol, or rejects with the reason. A client id of its
 * own, so a check never kicks the running agent off the broker.
 */
export async function tryMqttConnect(url: string, creds: BrokerCredentials, opts: { timeoutMs: number; clientId: string; protocolVersion?: 4 | 5 }): Promise<{ protocolVersion: number }> {
  const client = mqtt.connect(url, {
    clientId: opts.clientId,
    protocolVersion: opts.protocolVersion ?? 5,
    connectTimeout: opts.timeoutMs,
    reconnectPeriod: 0,
    clean: true,
    ...(creds.username ? { username: creds.username } : {}),
    ...(creds.password ? { password: creds.password } : {}),
    ...(creds.ca ? { ca: creds.ca } : {}),
    ...(creds.cert ? { cert: creds.cert } : {}),
    ...(creds.key ? { key: creds.key } : {}),
    rejectUnauthorized: creds.rejectUnauthorized,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CONNACK within ${opts.timeoutMs} ms`)), opts.timeoutMs + 500);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      client.once('close', () => {
        clearTimeout(timer);
        reject(new Error('connection closed before CONNACK'));
      });
    });
    return { protocolVersion: opts.protocolVersion ?? 5 };
  } finally {
    await client.endAsync(true).catch(() => {});
  }
}

export interface TlsProbe {
  authorized: boolean;
  /** OpenSSL's verification error code when not authorized (SELF_SIGNED_CERT_IN_CHAIN …). */
  error?: string;
  subject?: string;
  issuer?: string;
  validTo?: string;
  daysLeft?: number;
  /** The chain as the broker sent it, leaf first: subject ← issuer. */
  chain: string[];
}

/**
 * Opens a TLS connection to the broker without verifying, then reports what
 * verification against the configured CA says, the chain the broker sent and
 * the leaf's expiry, so a technician sees why a connection is refused.
 */
export function probeTls(url: string, creds: BrokerCredentials, timeoutMs: number): Promise<TlsProbe> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'wss:' ? 443 : 8883));
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: u.hostname,
      port,
      servername: /^[0-9.]+$|:/.test(u.hostname) ? undefined : u.hostname,
      ...(creds.ca ? { ca: creds.ca } : {}),
      ...(creds.cert ? { cert: creds.cert } : {}),
      ...(creds.key ? { key: creds.key } : {}),
      // Verification is judged below from authorizationError, so the handshake completes and the chain can be shown.
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake with ${u.host} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true);
      const chain: string[] = [];
      let c: PeerCertificate | undefined = leaf;
      for (let i = 0; c && c.subject && i < 8; i++) {
        chain.push(`${dn(c.subject)} ← ${dn(c.issuer)}`);
        const next: PeerCertificate | undefined = (c as PeerCertificate & { issuerCertificate?: PeerCertificate }).issuerCertificate;
        if (!next || next === c) break;
        c = next;
      }
      const validTo = leaf?.valid_to;
      const daysLeft = validTo ? Math.floor((Date.parse(validTo) - Date.now()) / 86_400_000) : undefined;
      const err = socket.authorizationError;
      resolve({
        authorized: socket.authorized,
        ...(err ? { error: typeof err === 'string' ? err : ((err as { code?: string }).code ?? describeError(err)) } : {}),
        ...(leaf?.subject ? { subject: dn(leaf.subject), issuer: dn(leaf.issuer) } : {}),
        ...(validTo ? { validTo, daysLeft } : {}),
        chain,
      });
      socket.end();
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function dn(x: object | undefined): string {
  if (!x) return '?';
  return Object.entries(x).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`).join(',');
}

export { maskUrlPassword };
