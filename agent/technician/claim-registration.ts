import { generateKeyPairSync, randomBytes, X509Certificate, createPublicKey } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { LoadedConfig } from '../../config/load-config.js';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import { editConfigFile } from '../../config/write-config.js';
import { BwcError, describeError } from '../../common/errors.js';
import { AGENT_VERSION } from '../../common/version.js';
import { Topics } from '../../protocol/topics.js';
import { checkSafeId } from '../../protocol/identifiers.js';

/**
 * Registration by claim, as fleet provisioning does it (AWS IoT's "provisioning
 * by claim"): every gateway leaves the factory with the same restricted claim
 * credential, good for one thing only — asking the platform for a credential
 * of its own. The agent connects with it (client id = its agent id), publishes
 * a request on `<prefix>/register/<agentId>/request` and waits for the answer
 * on `<prefix>/register/<agentId>/reply`. A broker ACL gives the claim account
 * exactly those two topics for its own client id (mosquitto: `pattern write
 * <prefix>/register/%c/request`, `pattern read <prefix>/register/%c/reply`).
 *
 * Request (JSON): {agentId, nonce, requestedAt, agentVersion, hostname, publicKey}
 *   publicKey: PEM (SPKI) of a P-256 key made for this request; its private half
 *   never leaves the gateway and is kept only if the platform certifies it.
 * Reply (JSON): {nonce, status: "accepted"|"rejected", reason?, brokers?: [url],
 *   credential: {type: "password", username, password}
 *             | {type: "certificate", certificatePem, caPem?}}
 * A reply whose nonce is not ours is ignored (a late answer to an earlier try).
 */
export interface ClaimOptions {
  loaded: LoadedConfig;
  broker: string;
  claim: { username?: string; password?: string; cert?: Buffer; key?: Buffer; ca?: Buffer };
  timeoutMs: number;
}

export interface ClaimResult {
  agentId: string;
  credential: 'password' | 'certificate';
  files: string[];
  brokers?: string[];
  config: string;
}

interface Reply {
  nonce?: unknown;
  status?: unknown;
  reason?: unknown;
  brokers?: unknown;
  credential?: { type?: unknown; username?: unknown; password?: unknown; certificatePem?: unknown; caPem?: unknown };
}

export function registrationTopics(prefix: string, agentId: string): { request: string; reply: string } {
  return new Topics(prefix).registration(agentId);
}

export async function registerByClaim(o: ClaimOptions): Promise<ClaimResult> {
  const cfg = o.loaded.config;
  // Checked before anything is sent: the id names the registration topics and the credential files.
  const agentId = checkSafeId('agent', cfg.agent.id);
  const topics = registrationTopics(cfg.mqtt.topicPrefix, agentId);
  const nonce = randomBytes(16).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  const client = mqtt.connect(o.broker, {
    clientId: agentId,
    protocolVersion: cfg.mqtt.protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: Math.min(o.timeoutMs, cfg.mqtt.connectTimeoutMs),
    clean: true,
    ...(o.claim.username ? { username: o.claim.username } : {}),
    ...(o.claim.password ? { password: o.claim.password } : {}),
    ...(o.claim.cert ? { cert: o.claim.cert } : {}),
    ...(o.claim.key ? { key: o.claim.key } : {}),
    ...(o.claim.ca ? { ca: o.claim.ca } : {}),
  });
  let reply: Reply;
  try {
    await connected(client, o.broker);
    const answer = waitReply(client, topics.reply, nonce, o.timeoutMs);
    const granted = await client.subscribeAsync(topics.reply, { qos: 1 });
    if (granted.some((g) => g.qos >= 128)) throw new BwcError('REGISTER_REFUSED', `the broker refused the subscription to ${topics.reply}: the claim account's ACL must allow reading it`);
    await client.publishAsync(
      topics.request,
      JSON.stringify({ agentId, nonce, requestedAt: new Date().toISOString(), agentVersion: AGENT_VERSION, hostname: hostname(), publicKey: publicPem }),
      { qos: 1 },
    );
    reply = await answer;
  } finally {
    await client.endAsync(true).catch(() => {});
  }

  if (reply.status === 'rejected') throw new BwcError('REGISTER_REJECTED', `the platform refused the registration of ${agentId}: ${typeof reply.reason === 'string' ? reply.reason : 'no reason given'}; nothing was stored`);
  if (reply.status !== 'accepted') throw new BwcError('REGISTER_BAD_REPLY', `the platform's reply has status ${JSON.stringify(reply.status)}, expected "accepted" or "rejected"; nothing was stored`);
  const brokers = reply.brokers === undefined ? undefined : checkBrokers(reply.brokers);
  return store(o.loaded, reply, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem, brokers);
}

function connected(client: mqtt.MqttClient, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (err: Error & { code?: number | string }) => {
      const refused = err.code === 4 || err.code === 5 || err.code === 134 || err.code === 135 || /Not authorized|Bad User Name/i.test(err.message);
      reject(
        refused
          ? new BwcError('REGISTER_REFUSED', `the broker ${url} refused the claim credential (${err.message}): check the claim user and password (or certificate) the gateway was shipped with`, { cause: err })
          : new BwcError('REGISTER_CONNECT', `cannot reach the broker ${url} to register (${describeError(err)}): check the URL and the network`, { cause: err }),
      );
    });
    client.once('close', () => reject(new BwcError('REGISTER_CONNECT', `the broker ${url} closed the connection before accepting it: check the URL and the claim credential`)));
  });
}

function waitReply(client: mqtt.MqttClient, topic: string, nonce: string, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new BwcError('REGISTER_TIMEOUT', `no reply from the platform within ${Math.round(timeoutMs / 1000)} s on ${topic}: check that the platform's registration service runs and that this gateway is expected; nothing was stored`));
    }, timeoutMs);
    const onMessage = (t: string, payload: Buffer) => {
      if (t !== topic) return;
      let r: Reply;
      try {
        r = JSON.parse(payload.toString('utf8')) as Reply;
      } catch {
        clearTimeout(timer);
        client.off('message', onMessage);
        reject(new BwcError('REGISTER_BAD_REPLY', `the platform's reply on ${topic} is not JSON; nothing was stored`));
        return;
      }
      if (r === null || typeof r !== 'object' || r.nonce !== nonce) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(r);
    };
    client.on('message', onMessage);
  });
}

function checkBrokers(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((b) => typeof b === 'string' && /^(mqtts?|wss?):\/\/[^\s/]+/.test(b))) {
    throw new BwcError('REGISTER_BAD_REPLY', `the platform's reply names brokers that are not broker URLs: ${JSON.stringify(v)}; nothing was stored`);
  }
  return v as string[];
}

/**
 * Credentials into `<dataDir>/credentials/` (secrets 0600, written
 * atomically), then the configuration edited to use them (validated, atomic,
 * comments kept). If the configuration edit is refused the new files go again.
 */
function store(loaded: LoadedConfig, reply: Reply, keyPem: string, publicPem: string, brokers: string[] | undefined): ClaimResult {
  const cfg = loaded.config;
  const dir = join(cfg.agent.dataDir, 'credentials');
  const c = reply.credential ?? {};
  const written: string[] = [];
  const write = (name: string, text: string, mode: number) => {
    const f = join(dir, name);
    atomicWriteFileSync(f, text, mode);
    written.push(f);
    return f;
  };
  let edit: (set: (path: string[], v: unknown) => void) => void;
  let type: 'password' | 'certificate';
  if (c.type === 'password') {
    if (typeof c.username !== 'string' || c.username === '' || typeof c.password !== 'string' || c.password === '' || c.password.includes('\n')) {
      throw new BwcError('REGISTER_BAD_REPLY', 'the platform\'s password credential needs a username and a one-line password; nothing was stored');
    }
    type = 'password';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pw = write('mqtt-password', c.password + '\n', 0o600);
    edit = (set) => {
      set(['mqtt', 'username'], c.username);
      set(['mqtt', 'passwordFile'], pw);
    };
  } else if (c.type === 'certificate') {
    if (typeof c.certificatePem !== 'string') throw new BwcError('REGISTER_BAD_REPLY', 'the platform\'s certificate credential has no certificatePem; nothing was stored');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(c.certificatePem);
    } catch (err) {
      throw new BwcError('REGISTER_BAD_REPLY', `the platform's certificate is not a PEM certificate (${describeError(err)}); nothing was stored`);
    }
    // The certificate must be for the key made for this request, or it is useless (or not ours).
    if (!cert.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(publicPem).export({ type: 'spki', format: 'der' }))) {
      throw new BwcError('REGISTER_BAD_REPLY', 'the platform\'s certificate is not for the key this gateway sent; nothing was stored');
    }
    type = 'certificate';
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = write('device.key', keyPem, 0o600);
    const crt = write('device.crt', c.certificatePem, 0o644);
    const ca = typeof c.caPem === 'string' ? write('ca.pem', c.caPem, 0o644) : undefined;
    edit = (set) => {
      set(['mqtt', 'tls', 'certFile'], crt);
      set(['mqtt', 'tls', 'keyFile'], key);
      if (ca) set(['mqtt', 'tls', 'caFile'], ca);
    };
  } else {
    throw new BwcError('REGISTER_BAD_REPLY', `the platform's reply has no usable credential (type ${JSON.stringify(c.type)}); nothing was stored`);
  }
  try {
    editConfigFile(loaded.file, (doc) => {
      const set = (path: string[], v: unknown) => doc.setIn(path, v);
      edit(set);
      if (brokers) doc.setIn(['mqtt', 'brokers'], doc.createNode(brokers));
    });
  } catch (err) {
    for (const f of written) rmSync(f, { force: true });
    throw new BwcError('REGISTER_CONFIG', `the credential arrived but ${loaded.file} cannot take it (${describeError(err)}); nothing was stored`, { cause: err });
  }
  return { agentId: cfg.agent.id, credential: type, files: written, ...(brokers ? { brokers } : {}), config: loaded.file };
}
