import { lstat, open, readdir, readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { BwcError } from '../../common/errors.js';
import type { FootageSource, RecordingInfo } from './camera-driver.js';
import { checkRecordingId, MANIFEST_SUFFIX, parseManifest, type FootageManifest } from './footage-manifest.js';

/**
 * Footage read straight from a camera's storage, mounted as a USB mass
 * storage folder the way docking stations switch cameras to. Recordings are
 * found by their sidecar manifests. Nothing named by an id, a manifest or a
 * caller can reach outside the footage folder: absolute paths, ".."
 * segments and symlinks that lead out are refused.
 */
export interface MassStorageCounters {
  badManifests: number;
  refusedPaths: number;
}

/** How deep to look for manifests (cameras keep e.g. DCIM/100MEDIA/). */
const MAX_DEPTH = 4;

export class MassStorageFootage implements FootageSource {
  readonly counters: MassStorageCounters = { badManifests: 0, refusedPaths: 0 };
  /** Why the last listing skipped manifests, for `doctor` and logs. */
  problems: string[] = [];
  private index = new Map<string, { manifest: FootageManifest; dir: string }>();

  private constructor(readonly root: string) {}

  /** `root` must be an existing folder; it is resolved once, symlinks included. */
  static async open(root: string): Promise<MassStorageFootage> {
    let real: string;
    try {
      real = await realpath(root);
    } catch (err) {
      throw new BwcError('FOOTAGE_NOT_FOUND', `footage folder ${root} does not exist or cannot be read`, { cause: err });
    }
    const st = await lstat(real);
    if (!st.isDirectory()) throw new BwcError('FOOTAGE_NOT_FOUND', `footage folder ${root} is not a folder`);
    return new MassStorageFootage(real);
  }

  /**
   * Resolves a path relative to the footage folder, refusing anything that
   * leads outside it. Returns the real path of an existing file.
   */
  async resolve(relPath: string): Promise<string> {
    const refuse = (why: string) => {
      this.counters.refusedPaths++;
      return new BwcError('FOOTAGE_BAD_PATH', `footage path ${JSON.stringify(relPath)} refused: ${why}`);
    };
    if (typeof relPath !== 'string' || relPath.length === 0) throw refuse('empty');
    if (relPath.includes('\0')) throw refuse('contains a NUL byte');
    if (isAbsolute(relPath) || /^[A-Za-z]:/.test(relPath) || relPath.startsWith('\\')) throw refuse('absolute paths are not allowed');
    if (relPath.split(/[\\/]/).some((s) => s === '..')) throw refuse('".." is not allowed');
    let real: string;
    try {
      real = await realpath(join(this.root, relPath));
    } catch (err) {
      throw new BwcError('FOOTAGE_NOT_FOUND', `footage file ${JSON.stringify(relPath)} does not exist`, { cause: err });
    }
    const rel = relative(this.root, real);
    if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) throw refuse('it leads outside the footage folder');
    const st = await lstat(real);
    if (!st.isFile()) throw refuse('not a regular file');
    return real;
  }

  async listRecordings(range: { fromMs?: number; toMs?: number } = {}): Promise<RecordingInfo[]> {
    const index = new Map<string, { manifest: FootageManifest; dir: string }>();
    const problems: string[] = [];
    await this.walk('', 0, index, problems);
    this.index = index;
    this.problems = problems;
    const out: RecordingInfo[] = [];
    for (const { manifest } of index.values()) {
      if (range.fromMs !== undefined && manifest.endMs < range.fromMs) continue;
      if (range.toMs !== undefined && manifest.startMs > range.toMs) continue;
      const { file: _file, ...info } = manifest;
      out.push(info);
    }
    return out.sort((a, b) => a.startMs - b.startMs || a.id.localeCompare(b.id));
  }

  private async walk(relDir: string, depth: number, index: Map<string, { manifest: FootageManifest; dir: string }>, problems: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(this.root, relDir), { withFileTypes: true });
    } catch (err) {
      problems.push(`${relDir || '.'}: cannot be read (${(err as Error).message})`);
      return;
    }
    for (const e of entries) {
      const rel = relDir ? join(relDir, e.name) : e.name;
      // Symlinks are not followed while listing: a manifest must live on the storage itself.
      if (e.isDirectory() && depth < MAX_DEPTH) await this.walk(rel, depth + 1, index, problems);
      else if (e.isFile() && e.name.endsWith(MANIFEST_SUFFIX)) {
        try {
          const m = parseManifest(await readFile(join(this.root, rel), 'utf8'), rel);
          // The media file must be a plain name in the manifest's own folder.
          if (m.file.includes('/') || m.file.includes('\\') || m.file === '..' || m.file === '.') {
            throw new BwcError('FOOTAGE_BAD_MANIFEST', `${rel}: "file" must be a file name in the same folder, got ${JSON.stringify(m.file)}`);
          }
          if (index.has(m.id)) throw new BwcError('FOOTAGE_BAD_MANIFEST', `${rel}: recording id ${m.id} appears twice`);
          index.set(m.id, { manifest: m, dir: relDir });
        } catch (err) {
          this.counters.badManifests++;
          problems.push((err as Error).message);
        }
      }
    }
  }

  /** The manifest of one recording, with the media path relative to the footage folder. */
  async manifest(id: string): Promise<FootageManifest & { path: string }> {
    checkRecordingId(id);
    let hit = this.index.get(id);
    if (!hit) {
      await this.listRecordings();
      hit = this.index.get(id);
    }
    if (!hit) throw new BwcError('FOOTAGE_NOT_FOUND', `no recording with id ${id} in ${this.root}`);
    return { ...hit.manifest, path: hit.dir ? join(hit.dir, hit.manifest.file) : hit.manifest.file };
  }

  async readClip(id: string, offset: number, length: number): Promise<Buffer> {
    const m = await this.manifest(id);
    return this.readFile(m.path, offset, length);
  }

  /** Up to `length` bytes from `offset` of a file under the footage folder; empty past the end. */
  async readFile(relPath: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new BwcError('FOOTAGE_BAD_RANGE', `offset must be a non-negative integer, got ${offset}`);
    if (!Number.isSafeInteger(length) || length < 0 || length > 64 * 1024 * 1024) throw new BwcError('FOOTAGE_BAD_RANGE', `length must be an integer in 0..67108864, got ${length}`);
    const real = await this.resolve(relPath);
    const fh = await open(real, 'r');
    try {
      const size = (await fh.stat()).size;
      // Past the end reads nothing, like read(2): a reader learns the end from a short read.
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.alloc(n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === n ? buf : buf.subarray(0, got);
    } finally {
      await fh.close();
    }
  }
}
