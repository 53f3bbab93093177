import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { signCommand } from '../../protocol/command-signing.js';
import { encodeBody } from '../../protocol/codec.js';
import { Topics } from '../../protocol/topics.js';

/**
 * A command flood as an attacker (and a runaway console) would send it, in a
 * process of its own so that its work does not disturb the measurement:
 *
 *   node command-flooder.js BROKER DEVICES KEYFILE KEYID GARBAGE_PER_S SIGNED_PER_S SECONDS
 *
 * Garbage is a mix of random bytes, unsigned envelopes, envelopes signed by
 * an unknown key and forged signatures under the trusted key id. Signed
 * commands are valid status queries from the trusted key (all but the
 * issuer's rate budget are refused as rate limited). Sent at QoS 0 in 10 ms
 * ticks; prints one JSON line with what was sent.
 */
const [broker, devicesArg, keyFile, keyId, garbageArg, signedArg, secondsArg] = process.argv.slice(2);
const devices = devicesArg!.split(',');
const privateKey = createPrivateKey(readFileSync(keyFile!, 'utf8'));
const stranger = generateKeyPairSync('ed25519').privateKey;
const garbagePerS = Number(garbageArg);
const signedPerS = Number(signedArg);
const seconds = Number(secondsArg);
const topics = new Topics();

function garbage(i: number, device: string): Uint8Array {
  switch (i % 4) {
    case 0: return randomBytes(20 + (i % 200));
    case 1: return encodeBody('CommandEnvelope', { body: encodeBody('CommandBody', { commandId: `g${i}`, deviceId: device, issuerKeyId: keyId, role: 'ROLE_SUPERVISOR', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000, statusQuery: {} }), keyId });
    case 2: return signCommand({ deviceId: device, kind: 'statusQuery', keyId: 'unknown-key', role: 'supervisor', privateKey: stranger }).envelope;
    default: return signCommand({ deviceId: device, kind: 'statusQuery', keyId: keyId!, role: 'supervisor', privateKey: stranger }).envelope;
  }
}

// Garbage is made once (a flood costs the attacker nothing); signed commands are signed as they go, each with a fresh id.
const pool = Array.from({ length: 997 }, (_, i) => garbage(i, devices[i % devices.length]!));

async function main(): Promise<void> {
  const client = await mqtt.connectAsync(broker!, { protocolVersion: 5, clean: true, reconnectPeriod: 1000 });
  const tickMs = 10;
  const ticks = (seconds * 1000) / tickMs;
  const start = Date.now();
  let g = 0;
  let s = 0;
  for (let k = 0; k < ticks; k++) {
    const gTarget = Math.round(((k + 1) * tickMs * garbagePerS) / 1000);
    const sTarget = Math.round(((k + 1) * tickMs * signedPerS) / 1000);
    for (; g < gTarget; g++) client.publish(topics.device(devices[g % devices.length]!, 'cmd'), Buffer.from(pool[g % pool.length]!), { qos: 0 });
    for (; s < sTarget; s++) {
      const device = devices[s % devices.length]!;
      client.publish(topics.device(device, 'cmd'), Buffer.from(signCommand({ deviceId: device, kind: 'statusQuery', keyId: keyId!, role: 'supervisor', privateKey }).envelope), { qos: 0 });
    }
    const wait = start + (k + 1) * tickMs - Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
  }
  await client.endAsync();
  process.stdout.write(JSON.stringify({ garbage: g, signed: s, seconds: (Date.now() - start) / 1000 }) + '\n');
}

void main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
