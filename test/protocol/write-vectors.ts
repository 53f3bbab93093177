/**
 * Writes protocol/vectors/ from vector-cases.ts. Run it ONLY for a new vector
 * or a deliberate, reviewed schema addition (`node dist-X/test/protocol/write-vectors.js`),
 * never to make a failing vectors test pass: the files are the frozen truth.
 * Existing files are kept unless --overwrite is given.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBody, encodeMessage } from '../../protocol/codec.js';
import { fixFromJson } from '../../protocol/fix.js';
import { encodeTrackBatch } from '../../protocol/track-codec.js';
import { repoRoot } from '../helpers/paths.js';
import { BODY_CASES, LIVE_CASES, MESSAGE_CASES, TRACK_CASES } from './vector-cases.js';
import { encodeLiveFix } from '../../protocol/live-codec.js';
import { schemaListing } from './schema-listing.js';

const dir = join(repoRoot, 'protocol', 'vectors');
const overwrite = process.argv.includes('--overwrite');
mkdirSync(dir, { recursive: true });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const write = (name: string, doc: unknown) => {
  const path = join(dir, name);
  if (existsSync(path) && !overwrite) return console.log(`kept ${name}`);
  writeFileSync(path, JSON.stringify(doc, null, 2) + '\n');
  console.log(`wrote ${name}`);
};

for (const c of MESSAGE_CASES) write(`${c.name}.json`, { type: c.type, header: c.header, body: c.body, hex: hex(encodeMessage(c.type, c.header, c.body)) });
for (const c of BODY_CASES) write(`${c.name}.json`, { type: c.type, body: c.body, hex: hex(encodeBody(c.type, c.body)) });
for (const c of TRACK_CASES) {
  const fixes = c.batch.fixes.map((f, i) => fixFromJson(f, `fix ${i}`));
  write(`${c.name}.json`, { type: 'TrackBatch', batch: c.batch, hex: hex(encodeTrackBatch({ ...c.batch, fixes })) });
}
write('fields.json', schemaListing());

// The compact live form (not protobuf): a device's live stream, full then compact, in protocol/vectors/live/.
mkdirSync(join(dir, 'live'), { recursive: true });
write(join('live', 'live-fixes.json'), {
  type: 'LiveFixStream',
  note: 'One device, in the order published: decode each hex against the fix before it (LiveReferences); encode each with encodeLiveFix(seq, fix, full, anchor).',
  fixes: LIVE_CASES.map((c) => ({ ...c, hex: hex(encodeLiveFix(c.seq, fixFromJson(c.fix, `seq ${c.seq}`), c.full, c.anchor)) })),
});
