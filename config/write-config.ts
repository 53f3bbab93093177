import { existsSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isMap, isSeq, parseDocument, YAMLMap, type Document } from 'yaml';
import { BwcError } from '../common/errors.js';
import { atomicWriteFileSync } from './atomic-write.js';
import { loadConfigText } from './load-config.js';
import { TOPIC_ID_PATTERN } from './schema-kit.js';
import type { DeviceConfig } from './schema.js';

export interface MinimalConfigOptions {
  broker: string;
  dataDir: string;
  out: string;
  /** Defaults to this host's name, made topic-safe. */
  agentId?: string;
  /** Replace an existing file. */
  force?: boolean;
}

/** Writes the smallest valid configuration (`bwc-agent config init`), checked before it is written. */
export function writeMinimalConfig(opts: MinimalConfigOptions): { file: string; agentId: string } {
  if (!opts.force && existsSync(opts.out)) {
    throw new BwcError('BAD_EXISTS', `${opts.out} already exists: choose another --out, or pass --force to replace it`);
  }
  const agentId = opts.agentId ?? topicSafeHostname();
  const text = [
    '# bwc-agent configuration (every key and its default: config/README.md).',
    '# Check it with: bwc-agent config validate ' + opts.out,
    'agent:',
    `  id: ${JSON.stringify(agentId)}`,
    `  dataDir: ${JSON.stringify(opts.dataDir)}`,
    'mqtt:',
    '  # Tried in turn on every reconnect.',
    '  brokers:',
    `    - ${JSON.stringify(opts.broker)}`,
    '# Cameras by port; add more with `bwc-agent provision` or enable discovery.',
    'devices: []',
    '',
  ].join('\n');
  loadConfigText(text, opts.out, {});
  atomicWriteFileSync(opts.out, text);
  return { file: opts.out, agentId };
}

function topicSafeHostname(): string {
  const id = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'bwc-agent';
  return new RegExp(TOPIC_ID_PATTERN).test(id) ? id : 'bwc-agent';
}

/**
 * Edits a configuration file in place, keeping its comments and layout
 * (yaml's Document API), refusing an edit that would make it invalid, and
 * replacing the file atomically.
 */
export function editConfigFile(file: string, edit: (doc: Document) => void): void {
  const before = readFileSync(file, 'utf8');
  const doc = parseDocument(before);
  if (doc.errors.length > 0) throw new BwcError('BAD_CONFIG', `${file}: not valid YAML, not edited: ${doc.errors[0]!.message.split('\n')[0]}`);
  edit(doc);
  const after = doc.toString();
  // Validate without the environment: the file must stand on its own.
  loadConfigText(after, file, {});
  atomicWriteFileSync(file, after, statSync(file).mode & 0o777);
}

/** Adds a device, or updates the one with the same id (its other keys and comments stay). */
export function upsertDevice(file: string, device: Partial<DeviceConfig> & { id: string }): { added: boolean } {
  let added = false;
  editConfigFile(file, (doc) => {
    let devices = doc.get('devices', true);
    if (!isSeq(devices)) {
      doc.set('devices', doc.createNode([]));
      devices = doc.get('devices', true);
    }
    if (!isSeq(devices)) throw new BwcError('BAD_CONFIG', `${file}: devices must be a list`);
    // A flow-style `devices: []` would keep new entries on one line.
    devices.flow = false;
    const existing = devices.items.find((item) => isMap(item) && item.get('id') === device.id);
    if (existing && isMap(existing)) {
      for (const [k, v] of Object.entries(device)) {
        if (v === undefined) existing.delete(k);
        else existing.set(k, v);
      }
    } else {
      const node = doc.createNode(Object.fromEntries(Object.entries(device).filter(([, v]) => v !== undefined))) as YAMLMap;
      devices.items.push(node);
      added = true;
    }
  });
  return { added };
}

/** Removes the device with this id; false when there was none. */
export function removeDevice(file: string, id: string): boolean {
  let removed = false;
  editConfigFile(file, (doc) => {
    const devices = doc.get('devices', true);
    if (!isSeq(devices)) return;
    const i = devices.items.findIndex((item) => isMap(item) && item.get('id') === id);
    if (i >= 0) {
      devices.items.splice(i, 1);
      removed = true;
    }
  });
  return removed;
}
