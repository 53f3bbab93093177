import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Version of bwc.v1 this code writes into every header. */
export const SCHEMA_VERSION = 1;

const PROTO_FILES = ['header', 'track', 'status', 'event', 'agent_state', 'command', 'media', 'audit', 'auth'].map((n) => `bwc/v1/${n}.proto`);

/** The protocol/ folder holding bwc/v1/*.proto, from source or from dist/. */
export function protoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'protocol');
    dir = dirname(dir);
  }
  throw new Error('cannot find the package root holding protocol/bwc/v1');
}

let root: protobuf.Root | undefined;

/** The bwc.v1 schema, loaded once from the .proto files (the single source). */
export function schemaRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  const base = protoDir();
  r.resolvePath = (_origin, target) => join(base, target);
  r.loadSync(PROTO_FILES, { keepCase: false });
  r.resolveAll();
  root = r;
  return r;
}

const types = new Map<string, protobuf.Type>();

/** A message type of bwc.v1 by its short name (looked up once: every encode and decode asks). */
export function messageType(name: string): protobuf.Type {
  let type = types.get(name);
  if (!type) {
    type = schemaRoot().lookupType(`bwc.v1.${name}`);
    types.set(name, type);
  }
  return type;
}

export function enumType(name: string): protobuf.Enum {
  return schemaRoot().lookupEnum(`bwc.v1.${name}`);
}
