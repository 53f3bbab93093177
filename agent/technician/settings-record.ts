import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFileSync } from '../../config/atomic-write.js';
import type { SettingValue } from '../../drivers/camera/camera-driver.js';
import { ownerOf } from './device-credentials.js';

/**
 * What provisioning last wrote to a camera's settings, kept beside its
 * credentials (`<dataDir>/devices/<id>/settings.json`). The reference
 * protocol can write settings but not read them back, so this record is how
 * a second run can say truthfully whether anything changed.
 */
export interface SettingsRecord {
  settings: Record<string, SettingValue>;
  writtenAt: string;
}

export function readSettingsRecord(deviceDir: string): SettingsRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(join(deviceDir, 'settings.json'), 'utf8')) as SettingsRecord;
    return typeof r.settings === 'object' && r.settings !== null ? r : undefined;
  } catch {
    return undefined;
  }
}

export function writeSettingsRecord(dataDir: string, deviceDir: string, settings: Record<string, SettingValue>): void {
  mkdirSync(deviceDir, { recursive: true, mode: 0o700 });
  const file = join(deviceDir, 'settings.json');
  atomicWriteFileSync(file, JSON.stringify({ settings, writtenAt: new Date().toISOString() }, null, 2) + '\n', 0o600);
  const owner = ownerOf(dataDir);
  if (owner) {
    chownSync(deviceDir, owner.uid, owner.gid);
    chownSync(file, owner.uid, owner.gid);
  }
}

export function sameSettings(a: Record<string, SettingValue>, b: Record<string, SettingValue>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
