import type { Fix } from '../protocol/fix.js';

/**
 * How a reported fix is kept in the buffer until it is published: small JSON
 * (readable with the sqlite3 shell when a technician or auditor needs to look,
 * and exportable as GPX/GeoJSON); the compact wire form is made at publish
 * time, when the batch it goes into is known.
 */
export function encodeFixPayload(fix: Fix): Uint8Array {
  return Buffer.from(JSON.stringify(fix));
}

export function decodeFixPayload(payload: Uint8Array): Fix {
  return JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) as Fix;
}
