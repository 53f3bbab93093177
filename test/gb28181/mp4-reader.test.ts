import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Mp4Error, readMp4Index, sampleToAnnexB, type Mp4VideoTrack } from '../../agent/gb28181/mp4-reader.js';
import { muxPs } from '../../agent/gb28181/ps-muxer.js';
import { decodeErrors } from '../video/ffprobe.js';
import { probePs } from './rtp-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'bwc-mp4-reader-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function encode(name: string, args: string[], seconds = 4): Buffer {
  const file = join(dir, name);
  const r = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-t', String(seconds), ...args, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg: ${r.stderr}`);
  return readFileSync(file);
}

/** ffprobe's view of the file: frames and keyframes in decode order. */
function probeFrames(file: string): { frames: number; keyframes: number } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  const lines = r.stdout.split('\n').filter(Boolean);
  return { frames: lines.length, keyframes: lines.filter((l) => l.startsWith('K')).length };
}

const reader = (b: Buffer) => {
  const calls = { n: 0 };
  return { calls, read: async (offset: number, length: number) => (calls.n++, Buffer.from(b.subarray(offset, offset + length))) };
};

/** The whole track as PS (as playback sends it) into a file; returns its path. */
function toPs(track: Mp4VideoTrack, b: Buffer, name: string): string {
  const s0 = track.samples[0]!;
  const packs = track.samples.map((s) => {
    const dts = Math.round(((s.dts - s0.dts) * 90_000) / track.timescale);
    const pts = dts + Math.round((s.cto * 90_000) / track.timescale);
    return muxPs({ data: sampleToAnnexB(track, b.subarray(s.offset, s.offset + s.size), s.keyframe), keyframe: s.keyframe, pts90k: pts, dts90k: dts });
  });
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat(packs));
  return file;
}

const X264 = ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-g', '15', '-keyint_min', '15', '-sc_threshold', '0'];

t.test('a fragmented MP4 as the cameras write it, and a plain one with B-frames: every sample, as a player reads them', async (t) => {
  for (const [name, args] of [
    ['frag.mp4', [...X264, '-preset', 'ultrafast', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4']],
    ['plain-bframes.mp4', [...X264, '-preset', 'medium', '-bf', '2']],
    ['faststart.mp4', [...X264, '-preset', 'ultrafast', '-movflags', '+faststart']],
  ] as const) {
    const b = encode(name, [...args]);
    const { read, calls } = reader(b);
    const track = await readMp4Index(read, b.length);
    const want = probeFrames(join(dir, name));
    t.equal(track.samples.length, want.frames, `${name}: ${want.frames} samples`);
    t.equal(track.samples.filter((s) => s.keyframe).length, want.keyframes, `${name}: ${want.keyframes} keyframes`);
    t.ok(track.samples[0]!.keyframe, 'starts at a keyframe');
    t.equal(`${track.width}x${track.height}`, '320x240');
    t.equal(track.fragmented, name === 'frag.mp4');
    t.ok(track.sps.length === 1 && track.pps.length === 1, 'SPS and PPS from avcC');
    t.ok(track.samples.every((s, i) => i === 0 || s.dts > track.samples[i - 1]!.dts), 'decode times rise');
    if (name === 'plain-bframes.mp4') t.ok(track.samples.some((s) => s.cto !== track.samples[0]!.cto), 'composition offsets (B-frames)');
    t.ok(calls.n <= 4 + 2 * want.keyframes, `${calls.n} reads for the index (boxes only)`);
    const ps = toPs(track, b, `${name}.ps`);
    const p = probePs(ps);
    t.equal(p.codec, 'h264');
    t.equal(p.frames, want.frames, `the PS made of it: ${p.frames} frames`);
    t.equal(decodeErrors(ps, 'mpeg'), '', 'decodes without an error');
  }
});

t.test('a fragmented recording cut short (power lost while writing): the whole fragments', async (t) => {
  const b = encode('full.mp4', [...X264, '-preset', 'ultrafast', '-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4']);
  const full = await readMp4Index(reader(b).read, b.length);
  const cut = b.subarray(0, Math.floor(b.length * 0.6));
  const track = await readMp4Index(reader(cut).read, cut.length);
  t.ok(track.samples.length > 0 && track.samples.length < full.samples.length, `${track.samples.length} of ${full.samples.length} samples`);
  t.ok(track.samples.every((s) => s.offset + s.size <= cut.length), 'all within the file');
  const p = probePs(toPs(track, cut, 'cut.ps'));
  t.equal(p.frames, track.samples.length);
});

t.test('files that cannot be played back: a clear reason', async (t) => {
  const m4v = encode('mpeg4.mp4', ['-c:v', 'mpeg4'], 1);
  await t.rejects(readMp4Index(reader(m4v).read, m4v.length), new Mp4Error('the video is mp4v, not H.264'));
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(200)]);
  await t.rejects(readMp4Index(reader(jpeg).read, jpeg.length), /not an MP4 file/);
  const frag = readFileSync(join(dir, 'full.mp4'));
  // ftyp and the empty moov of a fragmented file, before its first fragment.
  const ftyp = frag.readUInt32BE(0);
  const head = frag.subarray(0, ftyp + frag.readUInt32BE(ftyp));
  await t.rejects(readMp4Index(reader(head).read, head.length), /no samples/);
});
