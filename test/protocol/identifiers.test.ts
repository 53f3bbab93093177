import t from 'tap';
import { checkSafeId, idProblem, textProblem, visibleText } from '../../protocol/identifiers.js';
import { Topics } from '../../protocol/topics.js';
import { checkBinding, shownIdentity } from '../../drivers/camera/identity-rules.js';
import { decodeText } from '../../drivers/camera/text-encoding.js';
import iconv from 'iconv-lite';

/** Ids that must never name a topic level or a file, with the word the refusal must use. */
export const UNSAFE_IDS: ReadonlyArray<[string, RegExp]> = [
  ['.', /this folder/],
  ['..', /parent folder/],
  ['.hidden', /start with a dot/],
  ['a/b', /"\/".*separates topic levels/],
  ['a+b', /wildcard/],
  ['a#', /wildcard/],
  ['a\u0000b', /U\+0000.*control/],
  ['a\u001bb', /U\+001B.*control/],
  ['a\u0085b', /U\+0085.*control/],
  ['', /empty/],
  ['x'.repeat(65), /at most 64/],
  ['a b', /U\+0020/],
  ['caméra', /U\+00E9/],
];

t.test('ids: safe as a topic level and as a file name', async (t) => {
  for (const ok of ['BWC-0001', 'gw_1', 'a.b', 'a..b', 'trailing.', '-x', 'x'.repeat(64)]) t.equal(idProblem(ok), undefined, `${JSON.stringify(ok)} accepted`);
  for (const [bad, why] of UNSAFE_IDS) {
    t.match(idProblem(bad), why, `${JSON.stringify(bad)} refused: ${idProblem(bad)}`);
    t.throws(() => checkSafeId('device', bad), { code: 'BAD_ID', message: /device id .* use 1-64 characters/ });
    t.throws(() => new Topics().device(bad, 'track'), /cannot be a topic level/, `${JSON.stringify(bad)} never becomes a topic`);
  }
  t.match(idProblem(7), /must be a string/);
});

t.test('names: control, bidi, invisible-only and garbled text refused', async (t) => {
  for (const ok of ['张三', 'Ann-Marie O\'Neil', 'محمد علي', 'Zoë', 'José 🙂']) t.equal(textProblem(ok, 32), undefined, `${ok} accepted`);
  const cases: Array<[string, RegExp]> = [
    ['Ann\u0085', /control characters \(U\+0085\)/],
    ['Ann\tB', /control characters \(U\+0009\)/],
    ['Ann\u007f', /control/],
    ['\u202eevil', /bidirectional.*U\+202E/],
    ['a\u202ab', /U\+202A/],
    ['a\u2066b\u2069', /U\+2066/],
    ['a\u2069', /U\+2069/],
    ['\u200b', /only blank or invisible/],
    ['\u200b\u200c\ufeff \u2060', /only blank or invisible/],
    ['   ', /only blank or invisible/],
    ['', /empty/],
    ['Ann\ufffd', /U\+FFFD.*not valid UTF-8/],
    ['Ann\ud800', /lone surrogate/],
    ['x'.repeat(33), /at most 32/],
  ];
  for (const [bad, why] of cases) t.match(textProblem(bad, 32), why, `${JSON.stringify(bad)}: ${textProblem(bad, 32)}`);
  t.match(textProblem(undefined, 32), /must be a string/);

  // The binding check (provisioning, the driver, the simulated camera) uses the same rules.
  const b = { officerNumber: '123456', officerName: 'Ann', unitNumber: '330281520099', unitName: 'Unit' };
  t.doesNotThrow(() => checkBinding(b));
  t.throws(() => checkBinding({ ...b, officerName: 'Ann\u202e' }), { code: 'CAMERA_BAD_ARGUMENT', message: /officer name .*bidirectional/ });
  t.throws(() => checkBinding({ ...b, officerName: '\u200b' }), { message: /officer name .*invisible/ });
  t.throws(() => checkBinding({ ...b, unitName: 'U\u0085' }), { message: /unit name .*U\+0085/ });
  t.throws(() => checkBinding({ ...b, officerName: 'Ann\ufffd' }), { message: /officer name .*not valid UTF-8/ });
});

t.test('names from the camera: bytes that are not UTF-8 or not GBK are refused, never passed on garbled', async (t) => {
  t.equal(decodeText(iconv.encode('张三', 'gbk'), 'gbk', 'officer name'), '张三');
  t.equal(decodeText(Buffer.from('张三'), 'utf8', 'officer name'), '张三');
  t.throws(() => decodeText(Buffer.from([0x41, 0xff, 0xfe]), 'utf8', 'officer name'), { code: 'CAMERA_BAD_PAYLOAD', message: /officer name is not valid UTF-8/ });
  t.throws(() => decodeText(Buffer.from([0xd5, 0x20, 0xff]), 'gbk', 'officer name'), { code: 'CAMERA_BAD_PAYLOAD', message: /officer name is not valid GBK/ });
  // UTF-8 bytes of a Chinese name read as GBK: not GBK text either.
  t.throws(() => decodeText(Buffer.from('张三丰'), 'gbk', 'officer name'), { code: 'CAMERA_BAD_PAYLOAD' });
});

t.test('a name a camera reports against the rules is published in visible form, and named as a problem', async (t) => {
  t.equal(visibleText('王伟'), '王伟', 'a valid name is unchanged');
  t.equal(visibleText('王\u202e伟abc'), '王<U+202E>伟abc', 'a right-to-left override is written out');
  t.equal(visibleText('\u200b'), '<U+200B>', 'a name of only a zero-width space');
  t.equal(visibleText('Li\u0085Na'), 'Li<U+0085>Na', 'a C1 control (NEL)');
  t.equal(visibleText('a\ud800b'), 'a<U+D800>b', 'a lone surrogate');
  t.equal(visibleText('   '), '<empty>');
  const id = { serial: 'YY00001', model: 'BWC-SIM-1', firmware: '1.0.0', officerNumber: '810001', officerName: '\u202e伟王', unitNumber: '330281520001', unitName: '余姚市综合行政执法局' };
  const shown = shownIdentity(id);
  t.equal(shown.identity.officerName, '<U+202E>伟王');
  t.equal(shown.identity.unitName, id.unitName);
  t.equal(shown.problems.length, 1);
  t.match(shown.problems[0], /officer name .*bidirectional/);
  t.same(shownIdentity({ ...id, officerName: '王伟' }).problems, [], 'a camera with valid names: nothing to say');
});
