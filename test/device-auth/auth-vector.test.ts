import t from 'tap';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { authVector } from './auth-vector.js';
import { AuthVerifier, messageLeaves } from '../../protocol/auth-verifier.js';
import { decodeCheckpoint } from '../../protocol/device-auth.js';
import { Topics } from '../../protocol/topics.js';

const file = join(repoRoot, 'protocol', 'vectors', 'device-auth', 'chain.json');
const frozen = JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof authVector> & Record<string, any>;

t.test('the frozen authenticity vector is what the code computes', async (t) => {
  t.same(authVector(), frozen, 'leaves, links, tags, signed bytes, signature and checkpoint bytes unchanged');
});

t.test('a verifier given only the published payloads and the public key of the vector verifies it', async (t) => {
  const key = createPublicKey({ key: Buffer.from(frozen.publicKeySpkiDer, 'hex'), format: 'der', type: 'spki' });
  const v = new AuthVerifier(() => key);
  const topics = new Topics();
  for (const m of frozen.messages as { topic: string; payload: string; leaf: string }[]) {
    const where = topics.parse(m.topic);
    if (where?.kind !== 'device') throw new Error('not a device topic');
    for (const l of messageLeaves(where.channel, Buffer.from(m.payload, 'hex'))) {
      t.equal(l.leaf.toString('hex'), m.leaf, `leaf of ${m.topic}`);
      v.message('BWC-0001', l.seq, l.leaf);
    }
  }
  const r = v.checkpoint(Buffer.from(frozen.checkpoint.hex, 'hex'));
  t.match(r, { outcome: 'verified', firstSeq: 2000, count: 4, forged: [] });
  t.match(decodeCheckpoint(Buffer.from(frozen.checkpoint.hex, 'hex')), { firstSeq: 2000, count: 4 });
});
