import { EventEmitter } from 'node:events';
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { keyFingerprint } from '../../common/command-keys.js';
import { decodeMessage } from '../../protocol/codec.js';
import { signCommand, newCommandId, type CommandRole } from '../../protocol/command-signing.js';
import { BwcError, describeError } from '../../common/errors.js';
import type { MediaChunkFields } from '../../protocol/media-chunk-codec.js';
import type { Topics } from '../../protocol/topics.js';

export interface ReplyMessage {
  commandId: string;
  /** accepted, rejected, done, failed, progress */
  status: string;
  /** e.g. "REASON_UNKNOWN_KEY" */
  reasonCode: string;
  reason: string;
  media?: {
    requestId?: string; bytes?: number; chunks?: number; sha256?: Uint8Array; frames?: number;
    codec?: string; width?: number; height?: number; durationMs?: number; droppedFrames?: number; bitrateKbps?: number; keyframes?: number;
  };
  recordings?: { recordings?: RecordingManifestMessage[]; openSinceMs?: number | string };
}

export interface RecordingManifestMessage {
  id: string;
  startMs: number;
  endMs: number;
  size: number;
  sha256: Uint8Array;
  officerNumber: string;
  trigger: string;
  contentType: string;
}

/** A media chunk as decoded: the fields the agent encodes (protocol/media-chunk-codec.ts), frame and time always present. */
export interface MediaChunkMessage extends Omit<MediaChunkFields, 'frame' | 'timeMs'> {
  frame: number;
  timeMs: number;
}

/** A command refused by the agent (REJECTED) or that failed there (FAILED). */
export class CommandRefused extends BwcError {
  constructor(readonly status: string, readonly reasonCode: string, readonly reason: string) {
    super(status === 'rejected' ? 'COMMAND_REJECTED' : 'COMMAND_FAILED', `${status}: ${reasonCode}${reason ? ` (${reason})` : ''}`);
  }
}

/**
 * One command in flight: its replies and, for media commands, its chunks.
 * Events: 'reply' (ReplyMessage), 'chunk' (MediaChunkMessage).
 */
export class CommandRequest extends EventEmitter {
  readonly replies: ReplyMessage[] = [];
  private final: ReplyMessage | undefined;

  constructor(readonly deviceId: string, readonly commandId: string, readonly kind: string) {
    super();
  }

  get finished(): ReplyMessage | undefined {
    return this.final;
  }

  /** @internal */
  deliverReply(r: ReplyMessage): void {
    this.replies.push(r);
    if (r.status === 'done' || r.status === 'failed' || r.status === 'rejected') this.final ??= r;
    this.emit('reply', r);
  }

  /** Resolves with the first reply that is one of `statuses`, or undefined after `timeoutMs`. */
  waitFor(statuses: string[], timeoutMs: number, signal?: AbortSignal): Promise<ReplyMessage | undefined> {
    const seen = this.replies.find((r) => statuses.includes(r.status));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const done = (r: ReplyMessage | undefined) => {
        clearTimeout(timer);
        this.off('reply', onReply);
        signal?.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onReply = (r: ReplyMessage) => {
        if (statuses.includes(r.status)) done(r);
      };
      const onAbort = () => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.on('reply', onReply);
      signal?.addEventListener('abort', onAbort);
    });
  }
}

export interface CommandLinkOptions {
  client: MqttClient;
  topics: Topics;
  privateKey: KeyObject;
  role: CommandRole;
  /** Validity of each command from its issue, ms. */
  ttlMs?: number;
  /** How long to wait for ACCEPTED before sending the command again under a new id. */
  acceptTimeoutMs?: number;
  attempts?: number;
}

const STATUS_PREFIX = 'REPLY_STATUS_';

/**
 * The console's side of commands: signs them (key id = the fingerprint of
 * the key's public half, as the agent derives it), publishes them to the
 * device's command topic, and routes replies and media chunks back to the
 * request that asked. Subscriptions are made per request and dropped after
 * it (the device's reply topic while a request to it is open, the request's
 * own media topic), never shared: another console's replies on the same
 * device are simply not ours (their command ids differ). Nothing assumes a
 * single console.
 */
export class CommandLink {
  readonly keyId: string;
  private readonly requests = new Map<string, CommandRequest>();
  private readonly replySubs = new Map<string, number>();
  private readonly o: Required<CommandLinkOptions>;

  constructor(o: CommandLinkOptions) {
    this.o = { ttlMs: 120_000, acceptTimeoutMs: 6000, attempts: 4, ...o };
    this.keyId = keyFingerprint(createPublicKey(o.privateKey));
    o.client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  get client(): MqttClient {
    return this.o.client;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const where = this.o.topics.parse(topic);
    if (!where || where.kind !== 'device') return;
    try {
      if (where.channel === 'reply') {
        const m = decodeMessage<Record<string, any>>('Reply', payload);
        const req = this.requests.get(String(m.commandId ?? ''));
        if (!req || req.deviceId !== where.deviceId) return;
        req.deliverReply({
          commandId: String(m.commandId),
          status: String(m.status ?? '').replace(STATUS_PREFIX, '').toLowerCase(),
          reasonCode: String(m.reasonCode ?? 'REASON_NONE'),
          reason: String(m.reason ?? ''),
          ...(m.media ? { media: m.media } : {}),
          ...(m.recordings ? { recordings: m.recordings } : {}),
        });
      } else if (where.channel === 'media' && where.requestId) {
        const req = this.requests.get(where.requestId);
        if (!req || req.deviceId !== where.deviceId) return;
        const m = decodeMessage<Record<string, any>>('MediaChunk', payload);
        req.emit('chunk', {
          requestId: String(m.requestId), index: Number(m.index ?? 0), offset: Number(m.offset ?? 0), last: Boolean(m.last),
          contentType: String(m.contentType ?? ''), data: m.data ?? new Uint8Array(0), ...(m.sha256 && m.sha256.length ? { sha256: m.sha256 } : {}),
          totalSize: Number(m.totalSize ?? 0), frame: Number(m.frame ?? 0), timeMs: Number(m.timeMs ?? 0), objectId: String(m.objectId ?? ''),
          ...(m.contentType === 'video/h264' ? {
            keyframe: Boolean(m.keyframe), codec: String(m.codec ?? ''), width: Number(m.width ?? 0), height: Number(m.height ?? 0),
            ptsUs: Number(m.ptsUs ?? 0), fps: Number(m.fps ?? 0), gop: Number(m.gop ?? 0),
          } : {}),
        } satisfies MediaChunkMessage);
      }
    } catch (err) {
      process.emitWarning(`bwc-console: undecodable message on ${topic}: ${describeError(err)}`);
    }
  }

  /** Waits until the client is connected (it reconnects by itself after a broken link). */
  async connected(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.o.client.connected) {
      if (Date.now() > deadline || signal?.aborted) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
    return true;
  }

  private async subscribeReplies(deviceId: string): Promise<void> {
    const n = this.replySubs.get(deviceId) ?? 0;
    this.replySubs.set(deviceId, n + 1);
    if (n === 0) await this.o.client.subscribeAsync(this.o.topics.device(deviceId, 'reply'), { qos: 1 });
  }

  private async unsubscribeReplies(deviceId: string): Promise<void> {
    const n = (this.replySubs.get(deviceId) ?? 1) - 1;
    if (n > 0) {
      this.replySubs.set(deviceId, n);
      return;
    }
    this.replySubs.delete(deviceId);
    await this.o.client.unsubscribeAsync(this.o.topics.device(deviceId, 'reply')).catch(() => undefined);
  }

  /**
   * Signs and sends a command and waits for the agent to accept it. A command
   * lost on the way (the agent not connected yet after a broker restart) is
   * sent again under a new id: the agent refuses a repeated id as a replay.
   * Throws CommandRefused when the agent refuses it, NO_REPLY when nothing answers.
   */
  async command(deviceId: string, kind: string, args: Record<string, unknown>, opts: { media?: boolean; signal?: AbortSignal; onChunk?: (c: MediaChunkMessage) => void } = {}): Promise<CommandRequest> {
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      if (!(await this.connected(30_000, opts.signal))) break;
      const req = await this.open(deviceId, kind, opts.media ?? false);
      if (opts.onChunk) req.on('chunk', opts.onChunk);
      try {
        await this.publish(req, args);
      } catch {
        await this.close(req);
        continue;
      }
      const first = await req.waitFor(['accepted', 'rejected', 'done', 'failed'], this.o.acceptTimeoutMs, opts.signal);
      if (first?.status === 'rejected') {
        await this.close(req);
        throw new CommandRefused('rejected', first.reasonCode, first.reason);
      }
      if (first) return req;
      await this.close(req);
      // It may have arrived after all, its answer lost: stop it so two transfers never run at once.
      if (opts.media) void this.fire(deviceId, 'cancel', { commandId: req.commandId }).catch(() => undefined);
      if (opts.signal?.aborted) break;
    }
    throw new BwcError('NO_REPLY', `${deviceId} did not answer a ${kind} command (${this.o.attempts} attempts): the device or its agent is offline, or the device id is wrong`);
  }

  /** Sends a command without waiting for anything (viewer keepalives, cancels). */
  async fire(deviceId: string, kind: string, args: Record<string, unknown>): Promise<string> {
    const commandId = newCommandId();
    const { envelope } = signCommand({ deviceId, kind, args, keyId: this.keyId, role: this.o.role, privateKey: this.o.privateKey, commandId, ttlMs: this.o.ttlMs });
    await this.o.client.publishAsync(this.o.topics.device(deviceId, 'cmd'), Buffer.from(envelope), { qos: 1 });
    return commandId;
  }

  private async open(deviceId: string, kind: string, media: boolean): Promise<CommandRequest> {
    const req = new CommandRequest(deviceId, newCommandId(), kind);
    this.requests.set(req.commandId, req);
    // Subscribed before the command goes out: the first chunk may come before the ACCEPTED reply.
    await this.subscribeReplies(deviceId);
    if (media) await this.o.client.subscribeAsync(this.o.topics.media(deviceId, req.commandId), { qos: 1 });
    (req as CommandRequest & { media?: boolean }).media = media;
    return req;
  }

  private async publish(req: CommandRequest, args: Record<string, unknown>): Promise<void> {
    const { envelope } = signCommand({ deviceId: req.deviceId, kind: req.kind, args, keyId: this.keyId, role: this.o.role, privateKey: this.o.privateKey, commandId: req.commandId, ttlMs: this.o.ttlMs });
    await this.o.client.publishAsync(this.o.topics.device(req.deviceId, 'cmd'), Buffer.from(envelope), { qos: 1 });
  }

  /** Done with a request: its subscriptions go. */
  async close(req: CommandRequest): Promise<void> {
    if (!this.requests.delete(req.commandId)) return;
    req.removeAllListeners('chunk');
    if ((req as CommandRequest & { media?: boolean }).media && this.o.client.connected) {
      await this.o.client.unsubscribeAsync(this.o.topics.media(req.deviceId, req.commandId)).catch(() => undefined);
    }
    if (this.o.client.connected) await this.unsubscribeReplies(req.deviceId);
    else this.replySubs.set(req.deviceId, Math.max(0, (this.replySubs.get(req.deviceId) ?? 1) - 1));
  }
}
