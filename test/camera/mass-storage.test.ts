import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { serializeManifest, type FootageManifest } from '../../drivers/camera/footage-manifest.js';
import { MassStorageFootage } from '../../drivers/camera/mass-storage.js';

/** A camera's storage as a docking station mounts it, with traps laid in it. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

function makeStorage(t: Tap) {
  const base = mkdtempSync(join(tmpdir(), 'bwc-mass-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'CAMERA');
  const outside = join(base, 'secret.txt');
  writeFileSync(outside, 'not footage');
  mkdirSync(join(root, 'DCIM', '100MEDIA'), { recursive: true });
  const media = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const manifest = (id: string, file: string, startMs: number, extra: Partial<FootageManifest> = {}): FootageManifest => ({
    id, startMs, endMs: startMs + 60_000, size: media.length, sha256: createHash('sha256').update(media).digest('hex'),
    officerNumber: '123456', trigger: 'manual', contentType: 'video/x-mjpeg', file, ...extra,
  });
  writeFileSync(join(root, 'DCIM', '100MEDIA', 'REC_0001.mjpeg'), media);
  writeFileSync(join(root, 'DCIM', '100MEDIA', 'REC_0001.json'), serializeManifest(manifest('REC_0001', 'REC_0001.mjpeg', 1_000_000)));
  writeFileSync(join(root, 'REC_0002.mjpeg'), media);
  writeFileSync(join(root, 'REC_0002.json'), serializeManifest(manifest('REC_0002', 'REC_0002.mjpeg', 2_000_000, { trigger: 'sos' })));
  // Traps: a manifest pointing outside, a symlinked media file leading out, a broken manifest.
  writeFileSync(join(root, 'EVIL_1.json'), serializeManifest(manifest('EVIL_1', '../secret.txt', 3_000_000)));
  symlinkSync(outside, join(root, 'EVIL_2.mjpeg'));
  writeFileSync(join(root, 'EVIL_2.json'), serializeManifest(manifest('EVIL_2', 'EVIL_2.mjpeg', 4_000_000)));
  writeFileSync(join(root, 'BROKEN.json'), '{"id": "BROKEN", "size": -1');
  symlinkSync(base, join(root, 'up')); // a symlinked folder leading out
  return { root, media, outside };
}

t.test('lists recordings from their manifests and reads ranges', async (t) => {
  const { root, media } = makeStorage(t);
  const fs = await MassStorageFootage.open(root);
  const list = await fs.listRecordings();
  t.same(list.map((r) => r.id), ['REC_0001', 'REC_0002', 'EVIL_2'], 'manifests found, the one naming a path refused');
  t.equal(list[1]!.trigger, 'sos');
  t.equal(fs.counters.badManifests, 2, 'the broken and the path-naming manifests are counted');
  t.ok(fs.problems.some((p) => p.includes('BROKEN.json')), 'the broken manifest is named in problems');
  t.same(await fs.readClip('REC_0001', 0, 10_000), media, 'whole file');
  t.same(await fs.readClip('REC_0002', 100, 50), media.subarray(100, 150), 'a range');
  t.same(await fs.readClip('REC_0002', 4990, 50), media.subarray(4990), 'cut at the end');
  t.same((await fs.listRecordings({ fromMs: 1_500_000 })).map((r) => r.id), ['REC_0002', 'EVIL_2'], 'time filter');
});

t.test('nothing reaches outside the footage folder', async (t) => {
  const { root } = makeStorage(t);
  const fs = await MassStorageFootage.open(root);
  await t.rejects(fs.readClip('EVIL_2', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'a symlink out is refused');
  await t.rejects(fs.readClip('EVIL_1', 0, 100), { code: 'FOOTAGE_NOT_FOUND' }, 'a manifest naming ../ is not a recording');
  await t.rejects(fs.readClip('../secret', 0, 100), { code: 'FOOTAGE_BAD_ID' }, 'traversal in an id');
  await t.rejects(fs.readClip('/etc/passwd', 0, 100), { code: 'FOOTAGE_BAD_ID' }, 'absolute id');
  await t.rejects(fs.readFile('../secret.txt', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'traversal in a path');
  await t.rejects(fs.readFile('DCIM/../../secret.txt', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'traversal in the middle');
  await t.rejects(fs.readFile('/etc/passwd', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'absolute path');
  await t.rejects(fs.readFile('up/secret.txt', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'through a symlinked folder');
  await t.rejects(fs.readFile('REC_0002.mjpeg\0x', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'NUL byte');
  await t.rejects(fs.readFile('DCIM', 0, 100), { code: 'FOOTAGE_BAD_PATH' }, 'a folder is not a file');
  t.ok(fs.counters.refusedPaths >= 7, `refused paths counted: ${fs.counters.refusedPaths}`);
  t.same((await fs.readFile('DCIM/100MEDIA/REC_0001.mjpeg', 0, 3)).length, 3, 'a path inside works');
  await t.rejects(fs.readClip('REC_0001', -1, 10), { code: 'FOOTAGE_BAD_RANGE' });
  t.equal((await fs.readClip('REC_0001', 999_999, 10)).length, 0, 'past the end reads nothing');
  await t.rejects(fs.readClip('NOPE', 0, 10), { code: 'FOOTAGE_NOT_FOUND' });
  await t.rejects(MassStorageFootage.open(join(root, 'missing')), { code: 'FOOTAGE_NOT_FOUND' });
});
