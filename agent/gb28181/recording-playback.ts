import type { Logger } from 'pino';
import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import type { VideoEnd } from '../../drivers/video/video-source.js';
import { BlockReader } from '../media/block-reader.js';
import type { ChannelSource } from './channel-source.js';
import { gbTime } from './manscdp-xml.js';
import { Mp4Error, readMp4Index, sampleToAnnexB, type Mp4VideoTrack, type ReadAt } from './mp4-reader.js';

/**
 * Playback and download of a channel's recordings (GB/T 28181-2016 §9.8,
 * §9.9): the recordings overlapping the INVITE's time range, each from the
 * keyframe at or before the range's start to its last frame before the
 * range's end, played one after the other on one timeline, paced to their
 * own timestamps (Playback) or `speed` times faster (Download).
 */

/** Recordings the device can play back: MP4 with H.264 (the MJPEG footage of older cameras cannot go out as PS). */
const PLAYABLE = /^video\/mp4\b/i;

export interface PlaybackSegment {
  rec: RecordingInfo;
  track: Mp4VideoTrack;
  read: ReadAt;
  /** Indexes of the first (a keyframe) and last samples played. */
  first: number;
  last: number;
}

/** A playback the device refuses: the SIP status and why. */
export class PlaybackRefused extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    why: string,
  ) {
    super(why);
  }
}

/** The segments to play for [fromMs, toMs) of a camera's recordings, or PlaybackRefused. */
export async function planPlayback(o: { source: ChannelSource; deviceId: string; channelId: string; fromMs: number; toMs: number; log: Logger }): Promise<PlaybackSegment[]> {
  const range = `between ${gbTime(o.fromMs)} and ${gbTime(o.toMs)}`;
  const readRecording = o.source.readRecording?.bind(o.source);
  if (!readRecording) throw new PlaybackRefused(503, 'Service Unavailable', `the recordings of channel ${o.channelId} cannot be read`);
  let recs: RecordingInfo[];
  try {
    recs = await o.source.recordings(o.deviceId, { fromMs: o.fromMs, toMs: o.toMs });
  } catch (err) {
    throw new PlaybackRefused(503, 'Service Unavailable', `the recording list of channel ${o.channelId} is not readable: ${(err as Error).message}`);
  }
  const overlapping = recs.filter((r) => r.endMs > o.fromMs && r.startMs < o.toMs).sort((a, b) => a.startMs - b.startMs);
  if (overlapping.length === 0) throw new PlaybackRefused(404, 'Not Found', `no recording of channel ${o.channelId} ${range}`);
  const playable = overlapping.filter((r) => PLAYABLE.test(r.contentType));
  if (playable.length === 0) {
    const types = [...new Set(overlapping.map((r) => r.contentType))].join(', ');
    throw new PlaybackRefused(488, 'Not Acceptable Here', `the recordings of channel ${o.channelId} ${range} are ${types}: only MP4 (H.264) recordings play back`);
  }
  const segments: PlaybackSegment[] = [];
  const problems: string[] = [];
  let unreadable = false;
  for (const rec of playable) {
    const read: ReadAt = (offset, length) => readRecording(o.deviceId, rec.id, offset, length);
    let track: Mp4VideoTrack;
    try {
      track = await readMp4Index(read, rec.size);
    } catch (err) {
      const why = `recording ${rec.id}: ${(err as Error).message}`;
      o.log.warn({ recording: rec.id, device: o.deviceId, err: (err as Error).message }, err instanceof Mp4Error ? 'recording cannot be played back' : 'recording not readable');
      problems.push(why);
      if (!(err instanceof Mp4Error)) unreadable = true;
      continue;
    }
    const s = track.samples;
    const msOf = (i: number) => ((s[i]!.dts - s[0]!.dts) * 1000) / track.timescale;
    const fromOff = o.fromMs - rec.startMs;
    const toOff = o.toMs - rec.startMs;
    let first = 0;
    for (let i = 0; i < s.length && msOf(i) <= fromOff; i++) if (s[i]!.keyframe) first = i;
    let last = first - 1;
    while (last + 1 < s.length && msOf(last + 1) < toOff) last++;
    if (last < first) continue;
    segments.push({ rec, track, read, first, last });
  }
  if (segments.length === 0) {
    // Recordings that could not be read at all (the camera gone, a read failed): 503; ones that are no H.264 MP4: 488.
    if (problems.length) throw unreadable ? new PlaybackRefused(503, 'Service Unavailable', problems.join('; ')) : new PlaybackRefused(488, 'Not Acceptable Here', problems.join('; '));
    throw new PlaybackRefused(404, 'Not Found', `no recorded frame of channel ${o.channelId} ${range}`);
  }
  return segments;
}

/** One unit of a recording as it goes out: times on the playback's own timeline (from 0). */
export interface PlayedUnit {
  data: Buffer;
  keyframe: boolean;
  ptsUs: number;
  dtsUs: number;
}

export interface RecordingStreamOptions {
  segments: PlaybackSegment[];
  /** 1: real time (Playback); n: n times faster (Download). */
  speed: number;
  onUnit: (u: PlayedUnit) => void;
  /** True while the viewer cannot take more (a TCP backlog): the stream waits, it never drops a frame. */
  blocked?: () => boolean;
  /** Read size from the recording (1 MiB; smaller suits a slow control channel less well). */
  blockBytes?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Further behind its timeline than this (a slow read), the stream moves its clock on rather than burst. */
const MAX_LATE_MS = 500;

/**
 * Plays segments out: reads each sample as it is due (blocks of the file
 * read ahead), hands it on as Annex B with its times, and ends with
 * `ended` kind 'ended' after the last frame, 'failed' when a read fails,
 * 'stopped' after stop().
 */
export class RecordingStream {
  frames = 0;
  bytes = 0;
  readonly ended: Promise<VideoEnd>;
  private finish: (e: VideoEnd) => void = () => {};
  private stopped = false;
  private started = false;

  constructor(private readonly o: RecordingStreamOptions) {
    this.ended = new Promise((r) => (this.finish = r));
  }

  /** Media time the stream covers (its segments back to back), ms. */
  get durationMs(): number {
    return this.o.segments.reduce((sum, seg) => sum + segmentUs(seg) / 1000, 0);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.run().then(
      () => this.finish(this.stopped ? { kind: 'stopped', reason: 'stopped' } : { kind: 'ended', reason: `${this.frames} frames played` }),
      (err: Error) => this.finish(this.stopped ? { kind: 'stopped', reason: 'stopped' } : { kind: 'failed', reason: err.message }),
    );
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.started) this.finish({ kind: 'stopped', reason: 'stopped' });
  }

  private async run(): Promise<void> {
    const speed = Math.max(0.01, this.o.speed);
    let clock = performance.now();
    let segStartUs = 0;
    for (const seg of this.o.segments) {
      const { track, first, last } = seg;
      const s = track.samples;
      const reader = new BlockReader(seg.read, seg.rec.size, this.o.blockBytes ?? 1024 * 1024);
      const toUs = (t: number) => Math.round(((t - s[first]!.dts) * 1_000_000) / track.timescale);
      for (let i = first; i <= last; i++) {
        if (this.stopped) return;
        const sample = s[i]!;
        const data = await reader.read(sample.offset, sample.size);
        if (this.stopped) return;
        if (data.length < sample.size) throw new Error(`recording ${seg.rec.id} ends inside its frame ${i} (offset ${sample.offset})`);
        const dtsUs = segStartUs + toUs(sample.dts);
        const ptsUs = dtsUs + Math.round((sample.cto * 1_000_000) / track.timescale);
        const due = clock + dtsUs / 1000 / speed;
        const now = performance.now();
        if (due > now) await sleep(due - now);
        else if (now - due > MAX_LATE_MS) clock += now - due;
        while (this.o.blocked?.() && !this.stopped) {
          const t = performance.now();
          await sleep(10);
          clock += performance.now() - t;
        }
        if (this.stopped) return;
        this.o.onUnit({ data: sampleToAnnexB(track, data, sample.keyframe), keyframe: sample.keyframe, ptsUs, dtsUs });
        this.frames++;
        this.bytes += data.length;
      }
      segStartUs += segmentUs(seg);
    }
  }
}

/** A segment's length on the timeline: first sample to the end of the last (its duration: the next sample's time, or the one before's). */
function segmentUs(seg: PlaybackSegment): number {
  const s = seg.track.samples;
  const lastDts = s[seg.last]!.dts;
  const next = s[seg.last + 1]?.dts ?? (seg.last > 0 ? lastDts + (lastDts - s[seg.last - 1]!.dts) : lastDts);
  return Math.round(((next - s[seg.first]!.dts) * 1_000_000) / seg.track.timescale);
}
