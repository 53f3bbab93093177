import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BwcError, describeError, isBwcError } from '../../common/errors.js';
import { CommandRefused, type CommandLink, type CommandRequest, type MediaChunkMessage, type RecordingManifestMessage } from './command-link.js';
import { FileAssembler, ObjectAssembler, type AssembledObject } from './media-assembly.js';
import type { Progress } from './progress.js';
import { LiveVideoReceiver } from './live-video-receiver.js';

export type SpotKind = 'snapshot' | 'live' | 'clip';

/** One device's outcome: a row of the summary table, an element of `--json`. */
export interface SpotResult {
  device: string;
  officer?: string;
  kind: SpotKind;
  /** ok, rejected (the agent refused the command), failed */
  result: 'ok' | 'rejected' | 'failed';
  /** Why it was rejected or failed (reason code and text); empty when ok. */
  reason: string;
  files: string[];
  bytes: number;
  seconds: number;
  /** Every object's SHA-256 matched what the agent announced (and the manifest, for clips). */
  sha256_ok: boolean;
  frames?: number;
  /** Clip transfers: how many times the transfer was resumed from an offset, and from where. */
  resumes?: number;
  resumedFrom?: number[];
  recording?: string;
  /** Live feeds: ms from sending the command to the first whole frame. */
  firstFrameMs?: number;
  /** Clips: the camera was recording at the time (start of the open recording, ISO 8601); that recording is not in the clip. */
  openRecordingSince?: string;
  /** Live video: RFC 6381 codec and the MP4's duration as a player reads it. */
  codec?: string;
  durationS?: number;
  /** Live video: capture-to-console delay of each frame, ms (p50/p95). */
  latencyMs?: { p50: number; p95: number };
  /** Live video: H.264 bytes received (Annex B), beside `bytes` of the MP4 files (container overhead). */
  h264Bytes?: number;
}

export interface SpotCheckSettings {
  outDir: string;
  durationS: number;
  /** 0: the camera's default (25 for video, 2 for JPEG frames) */
  fps: number;
  quality: number;
  maxBitrateKbps: number;
  /** '' (video when the camera has it), video/h264 or image/jpeg */
  format?: string;
  keepaliveS: number;
  /** A clip transfer with no chunk for this long is resumed, ms. */
  stallMs: number;
  maxResumes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hex(b: Uint8Array | undefined): string | undefined {
  return b && b.length ? Buffer.from(b).toString('hex') : undefined;
}

function isJpeg(b: Buffer): boolean {
  return b.length > 4 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function extensionFor(contentType: string): string {
  if (contentType === 'image/jpeg') return '.jpg';
  if (contentType === 'video/x-mjpeg') return '.mjpeg';
  if (contentType === 'video/mp4') return '.mp4';
  return '.bin';
}

/** Runs one kind of spot check on one device; never throws (the outcome says what went wrong). */
export async function runSpotCheck(link: CommandLink, device: string, kind: SpotKind, s: SpotCheckSettings, progress: Progress, officer?: string): Promise<SpotResult> {
  const started = Date.now();
  const base: SpotResult = { device, ...(officer ? { officer } : {}), kind, result: 'failed', reason: '', files: [], bytes: 0, seconds: 0, sha256_ok: false };
  const dir = join(s.outDir, device);
  mkdirSync(dir, { recursive: true });
  try {
    const r = kind === 'snapshot' ? await snapshot(link, device, dir) : kind === 'live' ? await live(link, device, dir, s, progress, started) : await clip(link, device, dir, s, progress);
    return { ...base, ...r, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    const refused = err instanceof CommandRefused;
    const reason = refused ? `${err.reasonCode}: ${err.reason}` : isBwcError(err) ? `${err.code}: ${describeError(err)}` : describeError(err);
    progress.note(device, `${kind} ${refused && err.status === 'rejected' ? 'rejected' : 'failed'}: ${reason}`);
    const partial = (err as { partial?: Partial<SpotResult> }).partial ?? {};
    return { ...base, ...partial, result: refused && err.status === 'rejected' ? 'rejected' : 'failed', reason, seconds: (Date.now() - started) / 1000 };
  }
}

/** Waits for DONE; FAILED becomes a CommandRefused. */
async function finish(req: CommandRequest, timeoutMs: number): Promise<NonNullable<CommandRequest['finished']>> {
  const fin = await req.waitFor(['done', 'failed'], timeoutMs);
  if (!fin) throw new BwcError('NO_REPLY', `no DONE or FAILED reply to ${req.kind} ${req.commandId} within ${Math.round(timeoutMs / 1000)} s`);
  if (fin.status === 'failed') throw new CommandRefused('failed', fin.reasonCode, fin.reason);
  return fin;
}

async function snapshot(link: CommandLink, device: string, dir: string): Promise<Partial<SpotResult>> {
  const asm = new ObjectAssembler();
  let obj: AssembledObject | undefined;
  const req = await link.command(device, 'snapshot', {}, {
    media: true,
    onChunk: (c) => {
      try {
        obj ??= asm.add(c);
      } catch {
        /* a chunk out of range: the snapshot stays incomplete and is reported so */
      }
    },
  });
  try {
    const fin = await finish(req, 30_000);
    // Chunks go out before the DONE reply; allow for them taking another path through the broker.
    for (let i = 0; i < 50 && !obj; i++) await sleep(100);
    if (!obj) throw new BwcError('INCOMPLETE', 'the agent reported the snapshot sent but not all of it arrived');
    const file = join(dir, `snapshot-${stamp()}-${req.commandId}.jpg`);
    writeFileSync(file, obj.data);
    const shaOk = obj.sha256 === obj.announced && (hex(fin.media?.sha256) ?? obj.sha256) === obj.sha256;
    const base = { files: [file], bytes: obj.data.length, sha256_ok: shaOk, frames: 1 };
    if (!shaOk) return { ...base, result: 'failed', reason: `SHA-256 mismatch: received ${obj.sha256}, announced ${obj.announced ?? 'none'}` };
    if (!isJpeg(obj.data)) return { ...base, result: 'failed', reason: 'the snapshot is not a JPEG' };
    return { ...base, result: 'ok' };
  } finally {
    await link.close(req);
  }
}

async function live(link: CommandLink, device: string, dir: string, s: SpotCheckSettings, progress: Progress, started: number): Promise<Partial<SpotResult>> {
  const frames = new Map<number, ObjectAssembler>();
  const files: string[] = [];
  let bytes = 0;
  let bad = 0;
  let firstFrameMs: number | undefined;
  let feedDir: string | undefined;
  let video: LiveVideoReceiver | undefined;
  let keyframeAskedAt = 0;
  let commandId = '';
  const pending: MediaChunkMessage[] = [];
  const onFrame = (c: MediaChunkMessage) => {
    if (!feedDir) {
      pending.push(c);
      return;
    }
    if (c.contentType === 'video/h264') {
      video ??= new LiveVideoReceiver((part) => join(dir, `${feedDir!.slice(dir.length + 1)}${part > 1 ? `-${part}` : ''}.mp4`));
      const lost = video.dropped.incomplete + video.dropped.hash;
      video.add(c);
      firstFrameMs ??= video.firstFrameAt !== undefined ? video.firstFrameAt - started : undefined;
      // A unit was lost (QoS 0): ask for a keyframe rather than wait for the GOP to end.
      if (video.dropped.incomplete + video.dropped.hash > lost && Date.now() - keyframeAskedAt > 1000) {
        keyframeAskedAt = Date.now();
        void link.fire(device, 'viewerKeepalive', { commandId, keyframe: true }).catch(() => undefined);
      }
      progress.transfer(device, `live ${video.frames} frames`, (bytes += c.data.length), undefined, started);
      return;
    }
    let asm = frames.get(c.frame);
    if (!asm) frames.set(c.frame, (asm = new ObjectAssembler()));
    let obj: AssembledObject | undefined;
    try {
      obj = asm.add(c);
    } catch {
      bad++;
      return;
    }
    if (!obj) return;
    frames.delete(c.frame);
    firstFrameMs ??= Date.now() - started;
    if (obj.sha256 !== obj.announced || !isJpeg(obj.data)) bad++;
    mkdirSync(feedDir, { recursive: true });
    const file = join(feedDir, `frame-${String(c.frame).padStart(6, '0')}.jpg`);
    writeFileSync(file, obj.data);
    files.push(file);
    bytes += obj.data.length;
    progress.transfer(device, `live ${files.length} frames`, bytes, undefined, started);
  };
  const req = await link.command(device, 'liveFeed', { fps: s.fps, quality: s.quality, durationS: s.durationS, maxBitrateKbps: s.maxBitrateKbps, ...(s.format ? { format: s.format } : {}) }, { media: true, onChunk: onFrame });
  commandId = req.commandId;
  feedDir = join(dir, `live-${stamp()}-${req.commandId}`);
  for (const c of pending.splice(0)) onFrame(c);
  progress.note(device, `live feed ${req.commandId} accepted: ${s.fps || 'default'} fps for ${s.durationS} s`);
  // Tell the agent someone is watching, or it stops the feed (viewer gone).
  const keepalive = setInterval(() => void link.fire(device, 'viewerKeepalive', { commandId: req.commandId }).catch(() => undefined), s.keepaliveS * 1000);
  try {
    let fin: Awaited<ReturnType<typeof finish>> | undefined;
    try {
      fin = await finish(req, (s.durationS + 60) * 1000);
    } finally {
      // Whatever came is saved playable, even when the feed failed part way.
      if (video) {
        await sleep(300);
        video.finish();
      }
    }
    progress.note(device, `live feed ended: ${fin.reason}`);
    if (video) return liveVideoResult(video, fin.reason, firstFrameMs);
    await sleep(300);
    const partial = { files, bytes, frames: files.length, sha256_ok: bad === 0 && files.length > 0, ...(firstFrameMs !== undefined ? { firstFrameMs } : {}) };
    if (files.length === 0) return { ...partial, result: 'failed', reason: `no frame arrived (${fin.reason})` };
    if (bad > 0) return { ...partial, result: 'failed', reason: `${bad} frames failed their SHA-256 or JPEG check` };
    return { ...partial, result: 'ok', reason: '' };
  } catch (err) {
    (err as { partial?: Partial<SpotResult> }).partial = video ? { files: video.files.map((f) => f.path), bytes, frames: video.frames } : { files, bytes, frames: files.length };
    throw err;
  } finally {
    clearInterval(keepalive);
    await link.close(req);
  }
}

function liveVideoResult(v: LiveVideoReceiver, reason: string, firstFrameMs: number | undefined): Partial<SpotResult> {
  const files = v.files;
  const bytes = files.reduce((n, f) => n + f.stats.fileBytes, 0);
  const durationS = files.reduce((n, f) => n + f.stats.durationS, 0);
  const sorted = [...v.latenciesMs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  const out: Partial<SpotResult> = {
    files: files.map((f) => f.path), bytes, frames: v.frames, sha256_ok: v.dropped.hash === 0 && v.frames > 0,
    codec: files[0]?.codec ?? '', durationS: Math.round(durationS * 1000) / 1000, h264Bytes: files.reduce((n, f) => n + f.stats.payloadBytes, 0),
    ...(firstFrameMs !== undefined ? { firstFrameMs } : {}),
    ...(sorted.length ? { latencyMs: { p50: q(0.5), p95: q(0.95) } } : {}),
  };
  if (v.frames === 0) return { ...out, result: 'failed', reason: `no whole frame arrived (${reason})` };
  if (v.dropped.hash > 0) return { ...out, result: 'failed', reason: `${v.dropped.hash} frames failed their SHA-256 check` };
  return { ...out, result: 'ok', reason: '' };
}

/** Transient failures are resumed; these are final. */
const FINAL_REASONS = new Set(['REASON_NOT_FOUND', 'REASON_BAD_REQUEST', 'REASON_CANCELLED', 'REASON_WRONG_ROLE', 'REASON_DEVICE_OFFLINE']);

async function clip(link: CommandLink, device: string, dir: string, s: SpotCheckSettings, progress: Progress): Promise<Partial<SpotResult>> {
  const listReq = await link.command(device, 'recordingList', {});
  let recs: RecordingManifestMessage[];
  let openSinceMs = 0;
  try {
    const listing = (await finish(listReq, 30_000)).recordings;
    recs = listing?.recordings ?? [];
    openSinceMs = Number(listing?.openSinceMs ?? 0);
  } finally {
    await link.close(listReq);
  }
  // Recordings are offered once closed (their size and SHA-256 are final then): say so when one is open.
  const openSince = openSinceMs > 0 ? new Date(openSinceMs).toISOString() : undefined;
  if (recs.length === 0 && openSince) {
    throw new BwcError('RECORDING_OPEN', `the camera is recording now (since ${openSince}) and holds no finished recording: a recording is offered once the officer stops it (--kind live shows the scene now)`);
  }
  if (recs.length === 0) throw new BwcError('NO_RECORDING', 'the camera holds no recording');
  if (openSince) progress.note(device, `the camera is recording now (since ${openSince}): that recording is offered once the officer stops it; fetching the last finished one`);
  const rec = recs.reduce((a, b) => (Number(b.endMs) > Number(a.endMs) || (b.endMs === a.endMs && Number(b.startMs) > Number(a.startMs)) ? b : a));
  const size = Number(rec.size);
  const manifestSha = hex(rec.sha256) ?? '';
  const final = join(dir, `${rec.id}${extensionFor(rec.contentType)}`);
  const part = `${final}.part`;
  progress.note(device, `clip ${rec.id}: ${size} bytes, ${new Date(Number(rec.startMs)).toISOString()} .. ${new Date(Number(rec.endMs)).toISOString()}`);
  const file = new FileAssembler(part, size);
  const started = Date.now();
  const resumedFrom: number[] = [];
  let fruitless = 0;
  try {
    for (;;) {
      const offset = file.ranges.contiguous;
      let lastChunkAt = Date.now();
      const req = await link.command(device, 'clipFetch', { recordingId: rec.id, offset }, {
        media: true,
        onChunk: (c) => {
          try {
            file.add(c);
          } catch (err) {
            progress.note(device, `chunk refused: ${describeError(err)}`);
            return;
          }
          lastChunkAt = Date.now();
          progress.transfer(device, `clip ${rec.id}`, file.ranges.contiguous, size, started);
        },
      });
      let why: string;
      for (;;) {
        const fin = req.finished;
        if (file.complete && file.lastSeen) {
          why = 'complete';
          break;
        }
        if (fin?.status === 'failed') {
          if (FINAL_REASONS.has(fin.reasonCode)) throw new CommandRefused('failed', fin.reasonCode, fin.reason);
          why = `the agent reported ${fin.reasonCode}: ${fin.reason}`;
          break;
        }
        if (fin?.status === 'done' && Date.now() - lastChunkAt > 3000) {
          why = 'chunks missing after the agent finished';
          break;
        }
        if (!link.client.connected) {
          why = 'the link to the broker broke';
          break;
        }
        if (Date.now() - lastChunkAt > s.stallMs) {
          why = `no chunk for ${Math.round(s.stallMs / 1000)} s`;
          break;
        }
        await sleep(50);
      }
      await link.close(req);
      if (why === 'complete') break;
      // A resume that gained bytes is progress, however slow the link: only resumes in a row that gained nothing count against the limit.
      const gained = file.ranges.contiguous > (resumedFrom.at(-1) ?? -1);
      fruitless = gained ? 0 : fruitless + 1;
      if (fruitless >= s.maxResumes) {
        throw Object.assign(new BwcError('TRANSFER_FAILED', `${why}; gave up after ${fruitless} resumes in a row without a byte more (${resumedFrom.length} in all)`), { partial: { resumes: resumedFrom.length, resumedFrom, bytes: file.ranges.contiguous, recording: rec.id } });
      }
      if (req.finished?.status !== 'failed') void link.fire(device, 'cancel', { commandId: req.commandId }).catch(() => undefined);
      resumedFrom.push(file.ranges.contiguous);
      progress.note(device, `clip ${rec.id}: ${why}; resuming at offset ${file.ranges.contiguous} of ${size}`);
    }
    const sha = file.hash();
    const shaOk = sha === manifestSha && sha === file.announced;
    file.close();
    const result = { bytes: size, recording: rec.id, resumes: resumedFrom.length, resumedFrom, sha256_ok: shaOk, ...(openSince ? { openRecordingSince: openSince } : {}) };
    if (!shaOk) {
      return { ...result, files: [part], result: 'failed', reason: `SHA-256 mismatch: file ${sha}, manifest ${manifestSha}, last chunk ${file.announced ?? 'none'}` };
    }
    renameSync(part, final);
    // The manifest goes beside the clip: what the camera said it recorded, and that the file matches it.
    const manifestFile = join(dir, `${rec.id}.manifest.json`);
    writeFileSync(manifestFile, JSON.stringify({
      id: rec.id, start: new Date(Number(rec.startMs)).toISOString(), end: new Date(Number(rec.endMs)).toISOString(),
      startMs: Number(rec.startMs), endMs: Number(rec.endMs), size, sha256: manifestSha, officerNumber: rec.officerNumber,
      trigger: rec.trigger, contentType: rec.contentType, file: final.slice(dir.length + 1), sha256Verified: true, savedAt: new Date().toISOString(),
    }, null, 2) + '\n');
    return { ...result, files: [final, manifestFile], result: 'ok', reason: '' };
  } catch (err) {
    try {
      file.close();
    } catch {
      /* closed already */
    }
    throw err;
  }
}
