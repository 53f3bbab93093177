import type { Logger } from 'pino';
import { encodeBody } from '../../protocol/codec.js';
import { BwcError, describeError, isBwcError } from '../../protocol/errors.js';
import type { CommandVerifier, VerifiedCommand } from './command-verifier.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { DeviceRuntime } from '../device-runtime.js';
import type { MediaSender } from '../media/media-sender.js';
import type { RecordingInfo } from '../../drivers/camera/camera-driver.js';
import { positionOf } from '../device-messages.js';

export type ReplyStatus = 'ACCEPTED' | 'REJECTED' | 'DONE' | 'FAILED' | 'PROGRESS';

export interface CommandHandlerOptions {
  verifier: CommandVerifier;
  audit: AuditLog;
  media: MediaSender;
  device: (id: string) => DeviceRuntime | undefined;
  /** Writes a Reply body for a device to the buffer (it goes out like every message). */
  writeReply: (deviceId: string, body: Record<string, unknown>) => void;
  liveFeed: { onlyWhileRecording: boolean; viewerKeepaliveS: number };
  log: Logger;
}

interface RunningJob {
  command: VerifiedCommand;
  abort: AbortController;
  /** Live feeds: when the viewer last said it is watching. */
  keepaliveAt: number;
}

/**
 * Runs verified commands. Every command, accepted or not, is appended to the
 * audit log before anything else happens; a refused command gets a reply with
 * the reason and nothing runs. Long jobs (live feeds, clips) can be cancelled.
 */
export class CommandHandler {
  private readonly jobs = new Map<string, RunningJob>();

  constructor(private readonly o: CommandHandlerOptions) {}

  get running(): number {
    return this.jobs.size;
  }

  handle(deviceId: string, bytes: Uint8Array): void {
    const verdict = this.o.verifier.verify(bytes, deviceId);
    const time = new Date().toISOString();
    if (!verdict.ok) {
      this.o.audit.append({ time, device: deviceId, commandId: verdict.commandId, issuer: verdict.issuer, kind: verdict.kind, outcome: 'rejected', reason: verdict.reason, detail: verdict.message });
      this.o.log.warn({ device: deviceId, reason: verdict.reason, detail: verdict.message, issuer: verdict.issuer }, 'command refused');
      this.reply(deviceId, verdict.commandId ?? '', 'REJECTED', verdict.reason, verdict.message);
      return;
    }
    const c = verdict.command;
    this.o.audit.append({ time, device: deviceId, commandId: c.commandId, issuer: c.issuer, kind: c.kind, outcome: 'accepted' });
    this.o.log.info({ device: deviceId, command: c.commandId, kind: c.kind, issuer: c.issuer }, 'command accepted');
    this.reply(deviceId, c.commandId, 'ACCEPTED');
    void this.run(c).catch((err: unknown) => {
      const reason = isBwcError(err, 'CANCELLED') ? 'REASON_CANCELLED' : isBwcError(err, 'NOT_FOUND') ? 'REASON_NOT_FOUND' : isBwcError(err, 'NOT_RECORDING') ? 'REASON_NOT_RECORDING' : isBwcError(err, 'DEVICE_OFFLINE') ? 'REASON_DEVICE_OFFLINE' : isBwcError(err, 'BAD_REQUEST') || isBwcError(err, 'BAD_OFFSET') ? 'REASON_BAD_REQUEST' : 'REASON_CAMERA_ERROR';
      this.o.log.warn({ device: deviceId, command: c.commandId, err: describeError(err) }, 'command failed');
      this.reply(deviceId, c.commandId, 'FAILED', reason, describeError(err));
    });
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

  private async run(c: VerifiedCommand): Promise<void> {
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
        const list = await this.camera(c).listRecordings(rangeOf(c.args));
        return done({ recordings: { recordings: list.map(manifestOf) } });
      }
      case 'clipFetch':
        return this.clip(c, done);
      case 'cancel': {
        const target = this.jobs.get(String(c.args.commandId ?? ''));
        if (!target) throw new BwcError('NOT_FOUND', `no running command ${String(c.args.commandId)}`);
        target.abort.abort();
        return done({}, `cancelled ${target.command.commandId}`);
      }
      case 'viewerKeepalive': {
        const target = this.jobs.get(String(c.args.commandId ?? ''));
        if (!target) throw new BwcError('NOT_FOUND', `no running live feed ${String(c.args.commandId)}`);
        target.keepaliveAt = Date.now();
        return;
      }
      case 'configUpdate':
        throw new BwcError('NOT_SUPPORTED', 'remote configuration update is not supported by this agent version');
    }
  }

  private track(c: VerifiedCommand): RunningJob {
    const job: RunningJob = { command: c, abort: new AbortController(), keepaliveAt: Date.now() };
    this.jobs.set(c.commandId, job);
    return job;
  }

  private async snapshot(c: VerifiedCommand, done: (r: Record<string, unknown>) => void): Promise<void> {
    const jpeg = await this.camera(c).snapshot({ quality: Number(c.args.quality) || undefined });
    const r = await this.o.media.send({ deviceId: c.deviceId, requestId: c.commandId, objectId: 'snapshot', contentType: 'image/jpeg', totalSize: jpeg.length, read: async (o, l) => jpeg.subarray(o, o + l), timeMs: Date.now() });
    done({ media: { requestId: c.commandId, bytes: r.bytes, chunks: r.chunks, sha256: r.sha256, frames: 1 } });
  }

  private async liveFeed(c: VerifiedCommand, done: (r: Record<string, unknown>, reason?: string) => void): Promise<void> {
    const d = this.device(c);
    const camera = this.camera(c);
    if (this.o.liveFeed.onlyWhileRecording && d.recording !== 'recording') {
      throw new BwcError('NOT_RECORDING', 'live feeds are allowed only while the camera records (liveFeed.onlyWhileRecording)');
    }
    const fps = clamp(Number(c.args.fps) || 2, 1, 15);
    const quality = clamp(Number(c.args.quality) || 50, 10, 95);
    const durationS = clamp(Number(c.args.durationS) || 30, 1, 600);
    const kbps = Number(c.args.maxBitrateKbps) || 0;
    const budget = kbps > 0 ? (kbps * 1000) / 8 : Infinity; // bytes per second for this feed
    const job = this.track(c);
    let frames = 0;
    let bytes = 0;
    let dropped = 0;
    let spentInSecond = 0;
    let secondStart = Date.now();
    let sending = Promise.resolve();
    // The officer is told, and the centre sees who looked.
    await camera.notify('vibrate', 500).catch(() => undefined);
    await camera.notify('beep', 200).catch(() => undefined);
    d.event('spot_check_started', `live feed ${c.commandId}`, undefined, c.issuer);
    let why = 'duration reached';
    try {
      await camera.startLive({ fps, quality }, (f) => {
        const now = Date.now();
        if (now - secondStart >= 1000) {
          secondStart = now;
          spentInSecond = 0;
        }
        if (spentInSecond + f.jpeg.length > budget || !this.o.media.frameFits(f.jpeg.length)) {
          dropped++;
          return;
        }
        spentInSecond += f.jpeg.length;
        const n = frames++;
        bytes += f.jpeg.length;
        sending = sending.then(() =>
          this.o.media
            .send({ deviceId: c.deviceId, requestId: c.commandId, objectId: 'live', contentType: 'image/jpeg', totalSize: f.jpeg.length, read: async (o, l) => f.jpeg.subarray(o, o + l), frame: n, timeMs: f.timeMs, signal: job.abort.signal })
            .then(() => undefined, () => undefined),
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
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      this.jobs.delete(c.commandId);
      await camera.stopLive().catch(() => undefined);
      await sending;
      d.event('spot_check_ended', `live feed ${c.commandId}: ${why}, ${frames} frames`, frames, c.issuer);
    }
    if (why === 'cancelled') throw new BwcError('CANCELLED', `live feed cancelled after ${frames} frames`);
    if (why === 'camera disconnected') throw new BwcError('DEVICE_OFFLINE', `camera disconnected after ${frames} frames`);
    done({ media: { requestId: c.commandId, bytes, chunks: frames, frames } }, `${why}: ${frames} frames sent, ${dropped} dropped for bandwidth`);
  }

  private async clip(c: VerifiedCommand, done: (r: Record<string, unknown>) => void): Promise<void> {
    const camera = this.camera(c);
    const id = c.args.recordingId ? String(c.args.recordingId) : undefined;
    let rec: RecordingInfo | undefined;
    if (id !== undefined) {
      rec = (await camera.listRecordings()).find((r) => r.id === id);
    } else if (c.args.range) {
      const from = Number(c.args.range.fromMs ?? 0);
      const to = Number(c.args.range.toMs ?? 0);
      // The recording that overlaps the asked range the most.
      rec = (await camera.listRecordings({ fromMs: from, toMs: to }))
        .map((r) => ({ r, overlap: Math.min(r.endMs, to) - Math.max(r.startMs, from) }))
        .filter((x) => x.overlap > 0)
        .sort((a, b) => b.overlap - a.overlap)[0]?.r;
    } else {
      throw new BwcError('BAD_REQUEST', 'give a recording id or a time range');
    }
    if (!rec) throw new BwcError('NOT_FOUND', id !== undefined ? `no recording ${id} on the camera` : 'no recording in that time range');
    const job = this.track(c);
    try {
      const r = await this.o.media.send({
        deviceId: c.deviceId,
        requestId: c.commandId,
        objectId: rec.id,
        contentType: rec.contentType,
        totalSize: rec.size,
        read: (o, l) => camera.readClip(rec!.id, o, l),
        startOffset: Number(c.args.offset ?? 0),
        sha256: Buffer.from(rec.sha256, 'hex'),
        signal: job.abort.signal,
      });
      done({ media: { requestId: c.commandId, bytes: r.bytes, chunks: r.chunks, sha256: r.sha256 } });
    } finally {
      this.jobs.delete(c.commandId);
    }
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
