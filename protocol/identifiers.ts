import { BwcError } from '../common/errors.js';

/**
 * The one set of rules for names that leave the agent: device and agent ids
 * (MQTT topic levels, and folder or file names under the data folder) and
 * people's names (officer and unit names shown on consoles and cameras).
 * The configuration schema, topics, provisioning, registration and the
 * camera driver all check through here, so they cannot disagree.
 */

/**
 * An id: 1-64 of A-Z a-z 0-9 . _ -, not starting with a dot. The characters
 * keep it one topic level without wildcards (`/`, `+`, `#` are out) and one
 * file name; no leading dot keeps out `.` and `..` (this and the parent
 * folder: `devices/..` is the data folder) and hidden files.
 */
export const SAFE_ID_PATTERN = '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$';
export const SAFE_ID_RULE = '1-64 characters of A-Z a-z 0-9 . _ -, not starting with a dot (it becomes an MQTT topic level and a file name)';
const SAFE_ID = new RegExp(SAFE_ID_PATTERN);

/** Why `id` cannot be an id, in words a technician can act on; undefined when it can. */
export function idProblem(id: unknown): string | undefined {
  if (typeof id !== 'string') return `must be a string, got ${typeof id}`;
  if (SAFE_ID.test(id)) return undefined;
  if (id.length === 0) return 'must not be empty';
  if (id === '.' || id === '..') return `must not be "${id}": as a file name it is ${id === '.' ? 'this' : 'the parent'} folder`;
  if (id.startsWith('.')) return 'must not start with a dot (a hidden file; "." and ".." are folders)';
  if ([...id].length > 64) return `must be at most 64 characters, got ${[...id].length}`;
  const bad = [...id].find((c) => !/[A-Za-z0-9._-]/.test(c))!;
  const why =
    bad === '/' ? 'separates topic levels and folders' : bad === '+' || bad === '#' ? 'is an MQTT wildcard' : isControl(bad) ? 'is a control character' : 'is not one of A-Z a-z 0-9 . _ -';
  return `must not contain ${describeChar(bad)}: it ${why}`;
}

/** Returns `id` when it is a safe id, else throws BAD_ID naming what (`kind`) and why. */
export function checkSafeId(kind: string, id: unknown): string {
  const problem = idProblem(id);
  if (problem !== undefined) throw new BwcError('BAD_ID', `${kind} id ${JSON.stringify(id)} ${problem}; use ${SAFE_ID_RULE}`);
  return id as string;
}

/** C0 and C1 controls (U+0085 NEXT LINE among them) and DEL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/** Embeddings, overrides and isolates: they reorder what follows on screen (a name that shows one thing and is another). */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/u;
/** Characters that show nothing: a name of only these looks empty. */
const INVISIBLE = /[\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202f\u205f-\u2064\u206a-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0]/gu;
/** Lone surrogates cannot be written as UTF-8. */
const LONE_SURROGATE = /\p{Surrogate}/u;

function isControl(c: string): boolean {
  return CONTROL.test(c);
}

function describeChar(c: string): string {
  const cp = c.codePointAt(0)!;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  return cp > 0x20 && cp < 0x7f ? `"${c}" (${code})` : code;
}

/**
 * Why `text` cannot be a person's or a unit's name; undefined when it can.
 * Refused: control characters, bidi embeddings/overrides/isolates, a name of
 * only blank or invisible characters, text that is not valid Unicode (lone
 * surrogates) and U+FFFD, which is what a decoder leaves for bytes that were
 * not valid UTF-8 or GBK: the name was garbled on the way and would be shown
 * garbled.
 */
export function textProblem(text: unknown, maxChars: number): string | undefined {
  if (typeof text !== 'string') return 'must be a string';
  const chars = [...text];
  if (text.replace(INVISIBLE, '').length === 0) return text.length === 0 ? 'must not be empty' : 'must not be only blank or invisible characters';
  if (chars.length > maxChars) return `must be at most ${maxChars} characters, got ${chars.length}`;
  const control = chars.find(isControl);
  if (control !== undefined) return `must not contain control characters (${describeChar(control)})`;
  const bidi = chars.find((c) => BIDI_CONTROL.test(c));
  if (bidi !== undefined) return `must not contain bidirectional override or isolate characters (${describeChar(bidi)}): they make the name show differently from what it is`;
  if (LONE_SURROGATE.test(text)) return 'is not valid Unicode (a lone surrogate): it cannot be written as UTF-8';
  if (text.includes('\ufffd')) return 'contains U+FFFD: it was not valid UTF-8 (or GBK) where it came from';
  return undefined;
}

/**
 * `text` as it may be shown when it broke the rules of textProblem: every
 * control, bidi and invisible character and every lone surrogate written out
 * as `<U+202E>`, so that a console shows what the text really holds instead
 * of what it was made to look like; a text of nothing visible becomes
 * `<empty>`. Valid text comes back unchanged.
 */
export function visibleText(text: string): string {
  if (textProblem(text, Number.MAX_SAFE_INTEGER) === undefined) return text;
  let out = '';
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    const hidden = isControl(c) || BIDI_CONTROL.test(c) || LONE_SURROGATE.test(c) || (c !== ' ' && new RegExp(INVISIBLE.source, 'u').test(c));
    out += hidden ? `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>` : c;
  }
  return out.trim().length === 0 ? '<empty>' : out;
}
