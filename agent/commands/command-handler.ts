import type { Logger } from 'pino';
import { encodeBody } from '../../protocol/codec.js';
import { BwcError, describeError, isBwcError } from '../../common/errors.js';
import type { CommandVerifier, VerifiedCommand } from './command-verifier.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRuntime } from '../device-runtime.js';
import type { MediaSender } from '../media/media-sender.js';
import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import { positionOf } from '../device-messages.js';
import { describeArgs } from './command-args.js';
import { BlockReader } from '../media/block-reader.js';
import type { FootageAccess } from '../media/footage-access.js';
import { applyConfigUpdate } from './config-update.js';
import type { RefusalTally } from './refusal-tally.js';
import type { AccessUnit, VideoSource, VideoStream } from '../../drivers/video/video-source.js';
import type { CameraDriver } from '../../drivers/camera/camera-driver.js';
import { runLiveVideo } from './live-video-job.js';
import { keyframeSnapshot } from '../../drivers/video/keyframe-snapshot.js';

export type ReplyStatus = 'ACCEPTED' | 'REJECTED' | 'DONE' | 'FAILED' | 'PROGRESS';

export interface CommandHandlerOptions {
  verifier: CommandVerifier;
  audit: AuditLog;
  /** Counts refusals, decides which are audited singly and which are answered. */
  tally: RefusalTally;
  media: MediaSender;
  device: (id: string) => DeviceRuntime | undefined;
  /** Writes a Reply body for a device to the buffer (it goes out like every message). */
  writeReply: (deviceId: string, body: Record<string, unknown>) => void;
  liveFeed: { onlyWhileRecording: boolean; viewerKeepaliveS: number };
  /** Where recordings are read from (a mounted footage folder first, else the camera). */
  footage: FootageAccess;
  /** The device's live video source (its config `video`, else its camera's control channel); undefined: JPEG frames only. */
  videoSource?: (deviceId: string, camera: CameraDriver | undefined) => VideoSource | undefined;
  /** ffmpeg for decoding a keyframe into a snapshot. */
  ffmpegPath?: string;
  log: Logger;
}

/** Live frames waiting to be published at once: beyond this a slow link drops frames instead of queueing them. */
const LIVE_QUEUE_FRAMES = 3;

export interface RunningJob {
  command: VerifiedCommand;
  abort: AbortController;
  /** Live feeds: when the viewer last said it is watching. */
  keepaliveAt: number;
  /** Live video: the viewer asks for an IDR. */
  keyframe?: () => void;
}

/**
 * Runs verified commands. Every accepted command is appended to the audit
 * log before anything else happens; a refused command is counted (and
 * audited singly or in aggregate, see RefusalTally), may get a reply with the
 * reason, and nothing runs. Long jobs (live feeds, clips) can be cancelled.
 */
export class CommandHandler {
  private readonly jobs = new Map<string, RunningJob>();

  constructor(private readonly o: CommandHandlerOptions) {}

  get running(): number {
    return this.jobs.size;
  }

  /** Verifies, audits and starts one command (see handleBatch). */
  handle(deviceId: string, bytes: Uint8Array): void {
    this.handleBatch([{ deviceId, bytes }]);
  }

  /**
   * Verifies a batch of commands, audits them with one sync, then answers
   * and runs them. Every accepted command is on disk in the audit log before
   * anything runs. Refusals are counted; the unauthenticated ones (and
   * signed ones beyond a few per interval) are audited in aggregate, and
   * replies to refusals are rate limited, so a flood writes almost nothing.
   */
  handleBatch(items: ReadonlyArray<{ deviceId: string; bytes: Uint8Array }>): void {
    const verdicts = this.o.verifier.verifyAll(items);
    const time = new Date().toISOString();
    const accepted: VerifiedCommand[] = [];
    const replies: Array<() => void> = [];
    verdicts.forEach((verdict, i) => {
      const deviceId = items[i]!.deviceId;
      if (!verdict.ok) {
        const single = this.o.tally.record({ time, device: deviceId, reason: verdict.reason, message: verdict.message, commandId: verdict.commandId, issuer: verdict.issuer, kind: verdict.kind, authenticated: verdict.authenticated });
        if (single) {
          this.o.audit.append({ time, device: deviceId, commandId: verdict.commandId, issuer: verdict.issuer, kind: verdict.kind, outcome: 'rejected', reason: verdict.reason, detail: verdict.message }, { sync: false });
          this.o.log.warn({ device: deviceId, reason: verdict.reason, detail: verdict.message, issuer: verdict.issuer }, 'command refused');
        }
        if (this.o.tally.mayReply()) replies.push(() => this.reply(deviceId, verdict.commandId ?? '', 'REJECTED', verdict.reason, verdict.message));
        return;
      }
      const c = verdict.command;
      const detail = describeArgs(c.kind, c.args);
      this.o.audit.append({ time, device: deviceId, commandId: c.commandId, issuer: c.issuer, kind: c.kind, outcome: 'accepted', detail }, { sync: false });
      this.o.log.info({ device: deviceId, command: c.commandId, kind: c.kind, issuer: c.issuer, detail }, 'command accepted');
      accepted.push(c);
    });
    // One fsync and one head write for the whole batch, before anything is answered or run.
    this.o.audit.flush();
    for (const r of replies) r();
    for (const c of accepted) this.start(c);
  }

  private start(c: VerifiedCommand): void {
    const deviceId = c.deviceId;
    this.reply(deviceId, c.commandId, 'ACCEPTED');
    void this.run(c).then(
      (outcome) => {
        // Media commands leave a second entry: what was actually sent.
        if (outcome) this.o.audit.append({ time: new Date().toISOString(), device: deviceId, commandId: c.commandId, issuer: c.issuer, kind: c.kind, outcome: 'done', detail: outcome });
      },
      (err: unknown) => {
        const reason = reasonFor(err);
        this.o.log.warn({ device: deviceId, command: c.commandId, err: describeError(err) }, 'command failed');
        if (MEDIA_KINDS.has(c.kind)) this.o.audit.append({ time: new Date().toISOString(), device: deviceId, commandId: c.commandId, issuer: c.issuer, kind: c.kind, outcome: 'failed', reason, detail: describeError(err) });
        this.reply(deviceId, c.commandId, 'FAILED', reason, describeError(err));
      },
    );
  }

  /** Stops every running job (agent shutdown). */
  stopAll(): void {
    for (const j of this.jobs.values()) j.abort.abort();
  }

  private reply(deviceId: string, commandId: string, status: ReplyStatus, reasonCode = 'REASON_NONE', reason = '', result: Record<string, unknown> = {}): void {
    this.o.writeReply(deviceId, { commandId, status: `REPLY_STATUS_${status}`, reasonCode, reason, ...result });
  }

  private device(c: VerifiedCommand): DeviceRuntime {
    const d = this.o.device(c.deviceId);
    if (!d) throw new BwcError('DEVICE_OFFLINE', `device ${c.deviceId} is not attached to this agent`);
    return d;
  }

  private camera(c: VerifiedCommand) {
    const cam = this.device(c).camera;
    if (!cam) throw new BwcError('DEVICE_OFFLINE', `the control channel of ${c.deviceId} is not connected`);
    return cam;
  }

  /** Runs a command; media commands resolve with a line for the audit log. */
  private async run(c: VerifiedCommand): Promise<string | void> {
    const done = (result: Record<string, unknown> = {}, reason = '') => this.reply(c.deviceId, c.commandId, 'DONE', 'REASON_NONE', reason, result);
    switch (c.kind) {
      case 'positionQuery': {
        const d = this.device(c);
        d.requestImmediateReport('query');
        if (!d.lastFix) throw new BwcError('NOT_FOUND', 'no fix yet');
        return done({ position: encodeBody('Position', positionOf(d.lastFix)) });
      }
      case 'statusQuery': {
        this.device(c).writeStatus();
        return done({}, 'status published');
      }
      case 'temporaryTracking': {
        const intervalS = Number(c.args.intervalS ?? 0);
        const durationS = Number(c.args.durationS ?? 0);
        if (!(intervalS >= 1 && intervalS <= 3600 && durationS >= 1 && durationS <= 86_400)) throw new BwcError('BAD_REQUEST', 'interval 1-3600 s and duration 1-86400 s are required');
        this.device(c).setTemporaryTracking(intervalS, durationS);
        return done({}, `reporting every ${intervalS} s for ${durationS} s`);
      }
      case 'snapshot':
        return this.snapshot(c, done);
      case 'liveFeed':
        return this.liveFeed(c, done);
      case 'recordingList': {
        const { source, via } = await this.o.footage.choose(c.deviceId, this.o.device(c.deviceId)?.camera);
        const list = await source.listRecordings(rangeOf(c.args));
        // A recording is listed once it is closed: say that one is open, so nobody takes "none" for "nothing recorded".
        const device = this.o.device(c.deviceId);
        const openSince = device?.recording === 'recording' ? device.recordingSinceMs : undefined;
        const open = openSince !== undefined ? `; recording now (since ${new Date(openSince).toISOString()}): listed once it closes` : '';
        return done({ recordings: { recordings: list.map(manifestOf), ...(openSince !== undefined ? { openSinceMs: openSince } : {}) } }, `${list.length} recordings (${via})${open}`);
      }
      case 'clipFetch':
        return this.clip(c, done);
      case 'cancel': {
        const target = this.job(c);
        target.abort.abort();
        return done({}, `cancelled ${target.command.commandId}`);
      }
      case 'viewerKeepalive': {
        const target = this.job(c);
        if (target.command.kind !== 'liveFeed') throw new BwcError('BAD_REQUEST', `${target.command.commandId} is not a live feed`);
        target.keepaliveAt = Date.now();
        if (c.args.keyframe && target.keyframe) {
          target.keyframe();
          return done({}, 'viewer still watching; keyframe asked for');
        }
        return done({}, 'viewer still watching');
      }
      case 'configUpdate':
        return applyConfigUpdate(this, c);
    }
  }

  /** The running job a cancel or keepalive names: only on the same device (a command signed for one camera acts on that camera only). */
  private job(c: VerifiedCommand): RunningJob {
    const id = String(c.args.commandId ?? '');
    const target = this.jobs.get(id);
    if (!target || target.command.deviceId !== c.deviceId) throw new BwcError('NOT_FOUND', `no running command ${id} on ${c.deviceId}`);
    return target;
  }

  private track(c: VerifiedCommand, extra: Partial<RunningJob> = {}): RunningJob {
    const job: RunningJob = { command: c, abort: new AbortController(), keepaliveAt: Date.now(), ...extra };
    this.jobs.set(c.commandId, job);
    return job;
  }

  private async snapshot(c: VerifiedCommand, done: (r: Record<string, unknown>) => void): Promise<string> {
    const jpeg = await this.snapshotJpeg(c);
    const r = await this.o.media.send({ deviceId: c.deviceId, requestId: c.commandId, objectId: 'snapshot', contentType: 'image/jpeg', totalSize: jpeg.length, read: async (o, l) => jpeg.subarray(o, o + l), timeMs: Date.now() });
    done({ media: { requestId: c.commandId, bytes: r.bytes, chunks: r.chunks, sha256: r.sha256, frames: 1 } });
    return `snapshot ${r.bytes} bytes sha256 ${r.sha256.toString('hex')}`;
  }

  /** A camera with video: its keyframe decoded (the picture a live feed shows); else the camera's own JPEG. */
  private async snapshotJpeg(c: VerifiedCommand): Promise<Buffer> {
    const quality = Number(c.args.quality) || undefined;
    const d = this.device(c);
    const source = this.o.videoSource?.(c.deviceId, d.camera);
    if (source) {
      try {
        return (await keyframeSnapshot(source, { ...(quality ? { quality } : {}), ...(this.o.ffmpegPath ? { ffmpegPath: this.o.ffmpegPath } : {}) })).jpeg;
      } catch (err) {
        if (!(isBwcError(err) && (err.code === 'CAMERA_UNSUPPORTED' || err.code === 'NOT_SUPPORTED'))) throw err;
      }
    }
    return this.camera(c).snapshot({ ...(quality ? { quality } : {}) });
  }

  private async liveFeed(c: VerifiedCommand, done: (r: Record<string, unknown>, reason?: string) => void): Promise<string> {
    const d = this.device(c);
    const format = String(c.args.format ?? '');
    if (format !== '' && format !== 'video/h264' && format !== 'image/jpeg') throw new BwcError('BAD_REQUEST', `live feed format ${JSON.stringify(format)}: give video/h264 or image/jpeg`);
    if (this.o.liveFeed.onlyWhileRecording && d.recording !== 'recording') {
      throw new BwcError('NOT_RECORDING', `the camera is ${d.recording === 'off' ? 'not recording' : d.recording}: live feeds are allowed only while it records (liveFeed.onlyWhileRecording)`);
    }
    if (format !== 'image/jpeg') {
      const source = this.o.videoSource?.(c.deviceId, d.camera);
      if (!source && format === 'video/h264') throw new BwcError('BAD_REQUEST', `${c.deviceId} has no video source: ask for image/jpeg`);
      if (source) {
        const fps = clamp(Number(c.args.fps) || 25, 1, 30);
        const kbps = Number(c.args.maxBitrateKbps) || 0;
        let stream: VideoStream | undefined;
        const units: AccessUnit[] = [];
        let sink: (u: AccessUnit) => void = (u) => void units.push(u);
        try {
          stream = await source.open({ fps, maxKbps: kbps }, (u) => sink(u));
        } catch (err) {
          // A camera without an encoder gives JPEG frames, unless H.264 was asked for by name.
          if (format === '' && isBwcError(err) && (err.code === 'CAMERA_UNSUPPORTED' || err.code === 'NOT_SUPPORTED')) {
            this.o.log.info({ device: c.deviceId, command: c.commandId }, 'camera has no video: live feed as JPEG frames');
          } else throw err;
        }
        if (stream) {
          return runLiveVideo({
            c, d, source, stream, fps, kbps, media: this.o.media, log: this.o.log, liveFeed: this.o.liveFeed,
            track: (job) => this.track(c, job), untrack: () => this.jobs.delete(c.commandId), done,
            setSink: (f) => {
              sink = f;
              for (const u of units.splice(0)) f(u);
            },
            durationS: clamp(Number(c.args.durationS) || 30, 1, 600),
          });
        }
      }
    }
    const camera = this.camera(c);
    const fps = clamp(Number(c.args.fps) || 2, 1, 30);
    const quality = clamp(Number(c.args.quality) || 50, 10, 95);
    const durationS = clamp(Number(c.args.durationS) || 30, 1, 600);
    const kbps = Number(c.args.maxBitrateKbps) || 0;
    const budget = kbps > 0 ? (kbps * 1000) / 8 : Infinity; // bytes per second for this feed
    const job = this.track(c);
    let frames = 0;
    let bytes = 0;
    const dropped = { bandwidth: 0, link: 0 };
    let queued = 0;
    let spentInSecond = 0;
    let secondStart = Date.now();
    let sending = Promise.resolve();
    let why = 'duration reached';
    let started = false;
    try {
      // The officer is told, and the centre sees who looked.
      await camera.notify('vibrate', 500).catch(() => undefined);
      await camera.notify('beep', 200).catch(() => undefined);
      d.event('spot_check_started', `live feed ${c.commandId}: ${fps} fps for ${durationS} s`, undefined, c.issuer);
      started = true;
      await camera.startLive({ fps, quality }, (f) => {
        if (job.abort.signal.aborted) return;
        const now = Date.now();
        if (now - secondStart >= 1000) {
          secondStart = now;
          spentInSecond = 0;
        }
        if (queued >= LIVE_QUEUE_FRAMES) {
          dropped.link++;
          return;
        }
        if (spentInSecond + f.jpeg.length > budget || !this.o.media.frameFits(f.jpeg.length)) {
          dropped.bandwidth++;
          return;
        }
        spentInSecond += f.jpeg.length;
        const n = frames++;
        bytes += f.jpeg.length;
        queued++;
        sending = sending.then(() =>
          this.o.media
            .send({ deviceId: c.deviceId, requestId: c.commandId, objectId: 'live', contentType: 'image/jpeg', totalSize: f.jpeg.length, read: async (o, l) => f.jpeg.subarray(o, o + l), frame: n, timeMs: f.timeMs, signal: job.abort.signal, prepaid: true })
            .then(() => undefined, () => undefined)
            .finally(() => queued--),
        );
      });
      const endAt = Date.now() + durationS * 1000;
      while (Date.now() < endAt) {
        if (job.abort.signal.aborted) {
          why = 'cancelled';
          break;
        }
        if (Date.now() - job.keepaliveAt > this.o.liveFeed.viewerKeepaliveS * 1000) {
          why = 'viewer gone';
          break;
        }
        if (d.camera !== camera) {
          why = 'camera disconnected';
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      this.jobs.delete(c.commandId);
      await camera.stopLive().catch(() => undefined);
      await sending;
      if (started) d.event('spot_check_ended', `live feed ${c.commandId}: ${why}, ${frames} frames`, frames, c.issuer);
    }
    const summary = `${why}: ${frames} frames (${bytes} bytes) sent, ${dropped.bandwidth} dropped for bandwidth, ${dropped.link} for a slow link`;
    if (why === 'cancelled') throw new BwcError('CANCELLED', `live feed cancelled after ${frames} frames`);
    if (why === 'camera disconnected') throw new BwcError('DEVICE_OFFLINE', `camera disconnected after ${frames} frames`);
    if (why === 'viewer gone') throw new BwcError('VIEWER_GONE', `no viewer keepalive for ${this.o.liveFeed.viewerKeepaliveS} s: stopped after ${frames} frames`);
    done({ media: { requestId: c.commandId, bytes, chunks: frames, frames } }, summary);
    return summary;
  }

  private async clip(c: VerifiedCommand, done: (r: Record<string, unknown>) => void): Promise<string> {
    const { source, via } = await this.o.footage.choose(c.deviceId, this.o.device(c.deviceId)?.camera);
    const id = c.args.recordingId ? String(c.args.recordingId) : undefined;
    let rec: RecordingInfo | undefined;
    if (id !== undefined) {
      rec = (await source.listRecordings()).find((r) => r.id === id);
    } else if (c.args.range) {
      const from = Number(c.args.range.fromMs ?? 0);
      const to = Number(c.args.range.toMs ?? 0);
      // The recording that overlaps the asked range the most.
      rec = (await source.listRecordings({ fromMs: from, toMs: to }))
        .map((r) => ({ r, overlap: Math.min(r.endMs, to) - Math.max(r.startMs, from) }))
        .filter((x) => x.overlap > 0)
        .sort((a, b) => b.overlap - a.overlap)[0]?.r;
    } else {
      throw new BwcError('BAD_REQUEST', 'give a recording id or a time range');
    }
    if (!rec) throw new BwcError('NOT_FOUND', id !== undefined ? `no recording ${id} on the camera` : 'no recording in that time range');
    const offset = Number(c.args.offset ?? 0);
    const job = this.track(c);
    const recId = rec.id;
    const reader = new BlockReader((o, l) => source.readClip(recId, o, l), rec.size);
    try {
      const r = await this.o.media.send({
        deviceId: c.deviceId,
        requestId: c.commandId,
        objectId: rec.id,
        contentType: rec.contentType,
        totalSize: rec.size,
        read: (o, l) => reader.read(o, l),
        startOffset: offset,
        sha256: Buffer.from(rec.sha256, 'hex'),
        signal: job.abort.signal,
      });
      if (r.mismatch) throw new BwcError('CAMERA_ERROR', `recording ${rec.id} read from the ${via} does not match the SHA-256 of its manifest`);
      done({ media: { requestId: c.commandId, bytes: r.bytes, chunks: r.chunks, sha256: r.sha256 } });
      return `clip ${rec.id} via ${via}: ${r.bytes} bytes from offset ${offset} of ${rec.size}, sha256 ${r.sha256.toString('hex')}`;
    } finally {
      this.jobs.delete(c.commandId);
    }
  }
}

const MEDIA_KINDS = new Set(['snapshot', 'liveFeed', 'clipFetch']);

function reasonFor(err: unknown): string {
  if (!isBwcError(err)) return 'REASON_INTERNAL';
  switch (err.code) {
    case 'CANCELLED': return 'REASON_CANCELLED';
    case 'NOT_FOUND': case 'FOOTAGE_NOT_FOUND': case 'CAMERA_NOT_FOUND': return 'REASON_NOT_FOUND';
    case 'NOT_RECORDING': return 'REASON_NOT_RECORDING';
    case 'DEVICE_OFFLINE': case 'CAMERA_CLOSED': return 'REASON_DEVICE_OFFLINE';
    case 'BAD_REQUEST': case 'BAD_OFFSET': case 'FOOTAGE_BAD_ID': case 'FOOTAGE_BAD_PATH': case 'FOOTAGE_BAD_RANGE': return 'REASON_BAD_REQUEST';
    case 'VIEWER_GONE': return 'REASON_VIEWER_GONE';
    case 'CAMERA_TIMEOUT': return 'REASON_TIMEOUT';
    case 'CAMERA_BUSY': return 'REASON_BUSY';
    case 'NOT_SUPPORTED': return 'REASON_BAD_REQUEST';
    case 'SHORT_READ': return 'REASON_CAMERA_ERROR';
    default: return err.code.startsWith('CAMERA_') ? 'REASON_CAMERA_ERROR' : 'REASON_INTERNAL';
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

function rangeOf(args: Record<string, unknown>): { fromMs?: number; toMs?: number } {
  const from = Number(args.fromMs ?? 0);
  const to = Number(args.toMs ?? 0);
  return { ...(from ? { fromMs: from } : {}), ...(to ? { toMs: to } : {}) };
}

const TRIGGER: Record<string, string> = { manual: 'TRIGGER_MANUAL', sos: 'TRIGGER_SOS', remote: 'TRIGGER_REMOTE', scheduled: 'TRIGGER_SCHEDULED' };

export function manifestOf(r: RecordingInfo): Record<string, unknown> {
  return { id: r.id, startMs: r.startMs, endMs: r.endMs, size: r.size, sha256: Buffer.from(r.sha256, 'hex'), officerNumber: r.officerNumber, trigger: TRIGGER[r.trigger] ?? 'TRIGGER_UNKNOWN', contentType: r.contentType };
}
