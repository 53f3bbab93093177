import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decodeMessage, encodeBody, encodeMessage } from '../../protocol/codec.js';
import { fixFromJson, fixToJson } from '../../protocol/fix.js';
import { decodeTrackBatch, encodeTrackBatch } from '../../protocol/track-codec.js';
import { repoRoot } from '../helpers/paths.js';
import { checkAnchor } from '../../agent/audit/audit-anchor.js';
import { type SchemaListing, compareListing, schemaListing } from './schema-listing.js';
import { BODY_CASES, MESSAGE_CASES, TRACK_CASES } from './vector-cases.js';

/**
 * The golden vectors in protocol/vectors/ are the frozen wire format: every
 * file is checked both ways (decode(hex) equals the object, encode(object)
 * equals the hex). A failure here means the bytes on the wire changed: old
 * agents and new platforms would no longer understand each other.
 */
const dir = join(repoRoot, 'protocol', 'vectors');
const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'fields.json');
const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, any>;

/** Decoded objects hold Buffers; vectors hold base64 text (protobuf's JSON mapping of bytes). */
function jsonSafe(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}

/** The decoder lists every field (proto3 defaults included) and names the set oneof member: compare what the vector states. */
function subset(decoded: unknown, expected: unknown, path: string, t: { same: (a: unknown, b: unknown, m: string) => unknown }): void {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    for (const [k, v] of Object.entries(expected)) subset((decoded as Record<string, unknown>)?.[k], v, `${path}.${k}`, t);
  } else {
    t.same(decoded, expected, path);
  }
}

t.test('there is a vector for every message type with a header, and every command', async (t) => {
  const types = new Set(files.map((f) => load(f).type as string));
  for (const type of ['TrackBatch', 'Status', 'Event', 'AgentState', 'CommandEnvelope', 'CommandBody', 'Reply', 'MediaChunk', 'AuditAnchor', 'AuditHead']) t.ok(types.has(type), type);
  const commands = new Set(files.map((f) => load(f)).filter((v) => v.type === 'CommandBody').flatMap((v) => Object.keys(v.body)));
  for (const c of ['positionQuery', 'temporaryTracking', 'statusQuery', 'snapshot', 'liveFeed', 'recordingList', 'clipFetch', 'configUpdate', 'cancel', 'viewerKeepalive']) t.ok(commands.has(c), c);
  t.equal(files.length, MESSAGE_CASES.length + BODY_CASES.length + TRACK_CASES.length, 'every case has its file and no file lacks its case');
});

t.test('the audit anchor vector: its signature verifies with the key it carries, over the audit-head vector', async (t) => {
  const v = load('audit-anchor.json');
  const a = checkAnchor(Buffer.from(v.hex as string, 'hex'));
  t.equal(a.signatureOk, true, a.problem ?? 'signature verifies');
  t.equal(a.keyId, v.body.keyId, 'the key id is the fingerprint of the key carried');
  t.equal(Buffer.from(v.body.head as string, 'base64').toString('hex'), load('audit-head.json').hex, 'the signed head is the audit-head vector');
  t.match(a.head, { agentId: 'gw-yuyao-01', entries: 1042, lastHash: /^5f0c3a7e/, firstHash: /^0e4d7b1c/, timeMs: 1795572750000 });
});

for (const f of files) {
  t.test(`vector ${f}`, async (t) => {
    const v = load(f);
    const bytes = Buffer.from(v.hex as string, 'hex');
    if (v.type === 'TrackBatch') {
      const batch = v.batch;
      const fixes = (batch.fixes as unknown[]).map((x, i) => fixFromJson(x, `fix ${i}`));
      t.equal(Buffer.from(encodeTrackBatch({ ...batch, fixes })).toString('hex'), v.hex, 'encode(object) = hex');
      const d = decodeTrackBatch(bytes);
      t.same(d.header, batch.header, 'header');
      t.equal(d.historical, batch.historical);
      t.same(d.seqs, batch.seqs);
      t.same(d.fixes.map((x) => fixToJson(x)), batch.fixes, 'decode(hex) = fixes');
      return;
    }
    if (v.header) {
      t.equal(Buffer.from(encodeMessage(v.type, v.header, v.body)).toString('hex'), v.hex, 'encode(object) = hex');
      const d = jsonSafe(decodeMessage(v.type, bytes)) as Record<string, unknown>;
      t.same(d.header, v.header, 'header');
      subset(d, v.body, v.type, t);
      // Canonical: what decodes re-encodes to the very same bytes.
      const { header, ...body } = decodeMessage(v.type, bytes);
      t.equal(Buffer.from(encodeMessage(v.type, header!, body)).toString('hex'), v.hex, 're-encode(decode(hex)) = hex');
    } else {
      t.equal(Buffer.from(encodeBody(v.type, v.body)).toString('hex'), v.hex, 'encode(object) = hex');
      const d = decodeMessage(v.type, bytes);
      subset(jsonSafe(d), v.body, v.type, t);
      t.equal(Buffer.from(encodeBody(v.type, d)).toString('hex'), v.hex, 're-encode(decode(hex)) = hex');
    }
  });
}

t.test('the header bytes are what the protobuf encoding rules give (checked by hand)', async (t) => {
  const v = load('track-live-single.json');
  // 0a 18: field 1, 24 bytes | 0a 08 "BWC-0001" | 10 d00f: seq 2000 | 18 07: session 7
  // 20 e4aee783a134: sent_ms 1795572750180 | 28 01: schema 1
  t.equal((v.hex as string).slice(0, 52), '0a180a084257432d3030303110d00f180720e4aee783a1342801');
});

t.test('field numbers keep their meaning: the schema matches protocol/vectors/fields.json', async (t) => {
  const frozen = JSON.parse(readFileSync(join(dir, 'fields.json'), 'utf8')) as SchemaListing;
  t.same(compareListing(frozen, schemaListing()), [], 'field numbers are forever (protocol/README.md)');
});

t.test('the field check catches every way of breaking the rule', async (t) => {
  const frozen = schemaListing();
  const copy = () => JSON.parse(JSON.stringify(frozen)) as SchemaListing;
  t.same(compareListing(frozen, copy()), []);

  const retyped = copy();
  retyped.messages.Header!.fields['2'] = 'uint32 seq';
  t.match(compareListing(frozen, retyped), [/Header 2: was "uint64 seq", now "uint32 seq"/]);

  const removed = copy();
  delete removed.messages.Event!.fields['5'];
  t.match(compareListing(frozen, removed), [/Event 5: .*gone without `reserved`/]);
  removed.messages.Event!.reserved.push(5, 'detail');
  t.same(compareListing(frozen, removed), [], 'removed with reserved: fine');

  const reused = copy();
  reused.messages.Event!.fields['5'] = 'string note';
  t.match(compareListing(frozen, reused), [/Event 5: was "string detail", now "string note"/]);

  const added = copy();
  added.messages.Status!.fields['99'] = 'string extra';
  t.match(compareListing(frozen, added), [/Status 99 "string extra" is new/]);

  const enumChanged = copy();
  enumChanged.enums.EventType!.values['3'] = 'EVENT_TYPE_PANIC';
  t.match(compareListing(frozen, enumChanged), [/EventType 3: was "EVENT_TYPE_SOS"/]);

  const unreserved = copy();
  frozen.messages.Header!.reserved.push(9);
  t.match(compareListing(frozen, unreserved), [/Header: reserved 9 is no longer reserved/]);
});
