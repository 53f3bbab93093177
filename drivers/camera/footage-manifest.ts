import { BwcError } from '../../common/errors.js';
import { RECORDING_TRIGGERS, type RecordingInfo } from './camera-driver.js';

/**
 * The sidecar manifest a camera writes beside each recording on its storage
 * (`<id>.json` beside `<id>.mjpeg`): what the recording list reports, plus
 * the media file's name relative to the manifest's folder.
 */
export interface FootageManifest extends RecordingInfo {
  /** file name of the media, in the manifest's folder */
  file: string;
}

export const MANIFEST_SUFFIX = '.json';
/** Recording ids are safe as file names: no separators, no "..", no leading dot. */
export const RECORDING_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[A-Za-z0-9_-]{1,16})?$/;

export function checkRecordingId(id: unknown): string {
  if (typeof id !== 'string' || !RECORDING_ID.test(id)) {
    throw new BwcError('FOOTAGE_BAD_ID', `recording id ${JSON.stringify(id)} is not valid: letters, digits, '_' and '-', at most 64 characters`);
  }
  return id;
}

export function serializeManifest(m: FootageManifest): string {
  const { id, startMs, endMs, size, sha256, officerNumber, trigger, contentType, file } = m;
  return JSON.stringify({ id, startMs, endMs, start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString(), size, sha256, officerNumber, trigger, contentType, file }, null, 2) + '\n';
}

/** `where` names the manifest file in errors. */
export function parseManifest(text: string, where: string): FootageManifest {
  const bad = (why: string) => new BwcError('FOOTAGE_BAD_MANIFEST', `${where}: ${why}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new BwcError('FOOTAGE_BAD_MANIFEST', `${where}: not JSON`, { cause: err });
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw bad('not a JSON object');
  try {
    checkRecordingId(o.id);
  } catch (err) {
    throw bad((err as Error).message);
  }
  for (const k of ['startMs', 'endMs', 'size'] as const) {
    if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 0) throw bad(`"${k}" must be a non-negative integer`);
  }
  if ((o.endMs as number) < (o.startMs as number)) throw bad('"endMs" precedes "startMs"');
  if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) throw bad('"sha256" must be 64 lower-case hex digits');
  if (typeof o.officerNumber !== 'string' || !/^\d{6}$/.test(o.officerNumber)) throw bad('"officerNumber" must be 6 digits');
  if (!RECORDING_TRIGGERS.includes(o.trigger as never)) throw bad(`"trigger" must be one of ${RECORDING_TRIGGERS.join(', ')}`);
  if (typeof o.contentType !== 'string' || !/^[a-z]+\/[a-z0-9.+-]+$/i.test(o.contentType)) throw bad('"contentType" must be a MIME type');
  if (typeof o.file !== 'string' || o.file.length === 0) throw bad('"file" must name the media file');
  return {
    id: o.id as string, startMs: o.startMs as number, endMs: o.endMs as number, size: o.size as number, sha256: o.sha256,
    officerNumber: o.officerNumber, trigger: o.trigger as FootageManifest['trigger'], contentType: o.contentType, file: o.file,
  };
}
