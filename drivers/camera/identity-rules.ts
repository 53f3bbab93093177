import { BwcError } from '../../common/errors.js';
import { textProblem, visibleText } from '../../protocol/identifiers.js';
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

/** Names are shown on consoles and on the camera: the shared text rules (protocol/identifiers.ts). */
function checkName(field: string, v: unknown): void {
  const problem = textProblem(v, MAX_NAME_CHARS);
  if (problem !== undefined) throw bad(field, `${JSON.stringify(v)} ${problem}`);
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

/**
 * What a connected camera reports goes on the wire and onto consoles: a name
 * that breaks the text rules (a right-to-left override, a zero-width name,
 * garbled bytes) is published in its visible form (`visibleText`) and named
 * in `problems`, so the agent can say so instead of passing on a name that
 * shows as someone else's.
 */
export function shownIdentity(id: CameraIdentity): { identity: CameraIdentity; problems: string[] } {
  const problems: string[] = [];
  const out = { ...id };
  for (const [field, key] of [['officer name', 'officerName'], ['unit name', 'unitName'], ['model', 'model'], ['firmware', 'firmware']] as const) {
    const v = id[key];
    const problem = textProblem(v, Number.MAX_SAFE_INTEGER);
    if (problem === undefined || typeof v !== 'string') continue;
    out[key] = visibleText(v);
    problems.push(`${field} ${JSON.stringify(v)} ${problem}`);
  }
  return { identity: out, problems };
}
