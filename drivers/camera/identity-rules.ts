import { BwcError } from '../../common/errors.js';
import type { CameraIdentity, OfficerBinding } from './camera-driver.js';

/**
 * Field rules of GA/T 947 docking software: the product serial is 7
 * characters, the officer (police) number 6 digits, the unit number 12
 * characters. Names are free text, bounded so they fit a camera's display.
 */
const SERIAL = /^[A-Za-z0-9]{7}$/;
const OFFICER_NUMBER = /^\d{6}$/;
const UNIT_NUMBER = /^[A-Za-z0-9]{12}$/;
export const MAX_NAME_CHARS = 32;

function bad(field: string, why: string): BwcError {
  return new BwcError('CAMERA_BAD_ARGUMENT', `${field} ${why}`);
}

function checkName(field: string, v: unknown): void {
  if (typeof v !== 'string' || v.trim().length === 0) throw bad(field, 'must be a non-empty string');
  if ([...v].length > MAX_NAME_CHARS) throw bad(field, `must be at most ${MAX_NAME_CHARS} characters, got ${[...v].length}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) throw bad(field, 'must not contain control characters');
}

export function checkBinding(b: OfficerBinding): void {
  if (typeof b.officerNumber !== 'string' || !OFFICER_NUMBER.test(b.officerNumber)) throw bad('officer number', `must be 6 digits, got ${JSON.stringify(b.officerNumber)}`);
  if (typeof b.unitNumber !== 'string' || !UNIT_NUMBER.test(b.unitNumber)) throw bad('unit number', `must be 12 letters or digits, got ${JSON.stringify(b.unitNumber)}`);
  checkName('officer name', b.officerName);
  checkName('unit name', b.unitName);
}

export function checkIdentity(id: CameraIdentity): void {
  if (typeof id.serial !== 'string' || !SERIAL.test(id.serial)) throw bad('product serial', `must be 7 letters or digits, got ${JSON.stringify(id.serial)}`);
  checkName('model', id.model);
  checkName('firmware', id.firmware);
  checkBinding(id);
}
