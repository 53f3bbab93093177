import type { Logger } from 'pino';
import { MESSAGE_KINDS, type MessageBuffer, type MessageKind, type StoredMessage } from './buffer/message-buffer.js';
import type { MqttSession } from './mqtt/mqtt-session.js';
import { withHeader, type HeaderData } from '../protocol/codec.js';
import { encodeTrackBatch } from '../protocol/track-codec.js';
import { LiveFormChooser } from '../protocol/live-codec.js';
import type { Topics } from '../protocol/topics.js';
import { decodeFixPayload } from './fix-payload.js';
import type { AgentMetrics } from './metrics/agent-metrics.js';

export interface PublisherOptions {
  buffer: MessageBuffer;
  session: MqttSession;
  topics: Topics;
  log: Logger;
  metrics: AgentMetrics;
  /** Fixes per historical batch (60 at 1 Hz: one minute per message). */
  historicalBatchSize: number;
  /** Historical messages awaiting PUBACK at once: small, so live fixes never queue behind backlog. */
  historicalWindow: number;
  /** Most historical track messages sent per second (0 or absent: no cap beyond the window). */
  historicalMaxPerS?: number;
  /** Devices whose messages may be in the buffer (the configured and discovered ones). */
  devices: () => Iterable<string>;
  /** Live fixes in the compact live form on `live` (default), or as one-fix TrackBatches on `track`. */
  liveForm?: 'compact' | 'track';
  /** Compact form: a full form at least this often per device. */
  liveFullEveryMs?: number;
}

/**
 * Moves messages from the buffer to the broker and deletes them on PUBACK.
 *
 * Order after an outage (the complaints of owntracks/android#1031 and #1823):
 * the newest fix of each device goes out first as a live position, then the
 * backlog oldest-first as `historical` batches, a few in flight at a time so
 * that a live fix written meanwhile is sent at once and never waits behind it.
 * A message whose PUBACK was lost is sent again after the reconnect with the
 * same sequence number: a duplicate the subscriber can detect, never a loss.
 */
export class Publisher {
  private readonly inFlight = new Set<number>();
  /** Rows with an id above this were written during the current connection: live. */
  private liveFloor = 0;
  private liveCursor = 0;
  private backlogCursor = 0;
  /** Backlog rows read (up to backlogCursor) and not yet sent, oldest first. */
  private backlogRows: StoredMessage[] = [];
  private historicalInFlight = 0;
  /** historicalMaxPerS accounting: start of the current second and messages sent in it. */
  private rateSecondStart = 0;
  private rateSent = 0;
  private rateTimer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private draining = false;
  private readonly live: LiveFormChooser | undefined;

  constructor(private readonly o: PublisherOptions) {
    o.session.on('up', () => this.onUp());
    this.live = (o.liveForm ?? 'compact') === 'compact' ? new LiveFormChooser(o.liveFullEveryMs ?? 60_000) : undefined;
  }

  /** Something was written to the buffer: publish it soon. */
  kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Track or event rows written and not yet handed to the broker: media waits for them. */
  get tracksWaiting(): boolean {
    return this.scheduled || this.draining;
  }

  get backlogPending(): boolean {
    return this.backlogCursor < this.liveFloor || this.backlogRows.length > 0;
  }

  private onUp(): void {
    this.inFlight.clear();
    this.historicalInFlight = 0;
    this.liveFloor = this.newestId();
    this.liveCursor = this.liveFloor;
    this.backlogCursor = 0;
    this.backlogRows = [];
    // A new session: each device's first live fix is a full form again.
    this.live?.reset();
    this.sendNewestFixes();
    this.kick();
  }

  /** The largest id in the buffer: everything up to it was written before this connection. */
  private newestId(): number {
    let max = 0;
    for (const deviceId of this.o.devices()) {
      for (const kind of MESSAGE_KINDS) max = Math.max(max, this.o.buffer.newest({ deviceId, kind })?.id ?? 0);
    }
    return max;
  }

  /** The current position of every device first, before any backlog. */
  private sendNewestFixes(): void {
    for (const deviceId of this.o.devices()) {
      const row = this.o.buffer.newest({ deviceId, kind: 'fix' });
      if (row && row.id <= this.liveFloor && !this.inFlight.has(row.id)) this.sendTrack([row], false);
    }
  }

  private drain(): void {
    if (this.draining || !this.o.session.connected) return;
    this.draining = true;
    try {
      this.drainLive();
      this.drainBacklog();
    } finally {
      this.draining = false;
    }
  }

  private drainLive(): void {
    for (;;) {
      const rows = this.o.buffer.oldest({ limit: 256, afterId: this.liveCursor });
      if (rows.length === 0) return;
      for (const row of rows) {
        this.liveCursor = row.id;
        if (this.inFlight.has(row.id)) continue;
        if (row.kind === 'fix') this.sendTrack([row], false);
        else this.sendOther(row);
      }
    }
  }

  /**
   * One historical message per free slot of the window, so that each PUBACK
   * sends the next one at once. (Sending a page of batches past the window
   * left PUBACKs that sent nothing; a broker with Nagle on, mosquitto's
   * default, then held each further PUBACK for our delayed ACK, 40 ms apiece:
   * a day's backlog took 5.8 s instead of 2.3.) Rows are read ahead a page
   * at a time, enough for a full batch of every device, so a gateway's
   * interleaved backlog still goes out in batches of historicalBatchSize.
   */
  private drainBacklog(): void {
    const size = this.o.historicalBatchSize;
    while (this.historicalInFlight < this.o.historicalWindow) {
      if (this.backlogRows.length < size && this.backlogCursor < this.liveFloor) this.readBacklogPage();
      const first = this.backlogRows[0];
      if (!first) return;
      if (first.kind !== 'fix') {
        this.backlogRows.shift();
        if (!this.inFlight.has(first.id)) this.sendOther(first);
        continue;
      }
      if (!this.historicalRateAllows()) return;
      // The oldest fix's device: its fixes in the page, oldest first, up to a batch.
      const batch: StoredMessage[] = [];
      const rest: StoredMessage[] = [];
      for (const row of this.backlogRows) {
        if (batch.length < size && row.kind === 'fix' && row.deviceId === first.deviceId) batch.push(row);
        else rest.push(row);
      }
      this.backlogRows = rest;
      const unsent = batch.filter((r) => !this.inFlight.has(r.id));
      if (unsent.length > 0) {
        this.rateSent++;
        this.sendTrack(unsent, true);
      }
    }
  }

  /** Under historicalMaxPerS this second; otherwise the drain resumes when the next second starts. */
  private historicalRateAllows(): boolean {
    const max = this.o.historicalMaxPerS ?? 0;
    if (max <= 0) return true;
    const now = Date.now();
    if (now - this.rateSecondStart >= 1000) {
      this.rateSecondStart = now;
      this.rateSent = 0;
    }
    if (this.rateSent < max) return true;
    if (!this.rateTimer) {
      this.rateTimer = setTimeout(() => {
        this.rateTimer = undefined;
        this.kick();
      }, this.rateSecondStart + 1000 - now);
      // A pending resume never holds a stopping agent.
      this.rateTimer.unref();
    }
    return false;
  }

  private readBacklogPage(): void {
    let devices = 0;
    for (const _ of this.o.devices()) devices++;
    const limit = this.o.historicalBatchSize * Math.min(64, Math.max(this.o.historicalWindow, devices));
    const rows = this.o.buffer.oldest({ limit, afterId: this.backlogCursor }).filter((r) => r.id <= this.liveFloor);
    if (rows.length === 0) {
      this.backlogCursor = this.liveFloor;
      return;
    }
    this.backlogCursor = rows[rows.length - 1]!.id;
    this.backlogRows.push(...rows);
  }

  private header(row: StoredMessage): HeaderData {
    return { deviceId: row.deviceId, seq: row.seq, session: this.o.session.up?.session ?? 0, sentMs: Date.now() };
  }

  private sendTrack(rows: StoredMessage[], historical: boolean): void {
    if (this.live && !historical && rows.length === 1) {
      const row = rows[0]!;
      const payload = this.live.encode(row.deviceId, row.seq, decodeFixPayload(row.payload));
      this.send(rows, this.o.topics.device(row.deviceId, 'live'), payload, false, false, true);
      return;
    }
    const payload = encodeTrackBatch({
      header: this.header(rows[0]!),
      historical,
      fixes: rows.map((r) => decodeFixPayload(r.payload)),
      seqs: rows.map((r) => r.seq),
    });
    const topic = this.o.topics.device(rows[0]!.deviceId, historical ? 'track/hist' : 'track');
    this.send(rows, topic, payload, false, historical);
  }

  /**
   * Events and replies go on their topic whenever they were written. A status
   * is retained only when it is live (written during this connection); one
   * from the backlog goes to the non-retained `status/hist`, so that it never
   * replaces the newer status the agent wrote on connecting.
   */
  private sendOther(row: StoredMessage): void {
    const payload = withHeader(this.header(row), row.payload);
    const live = row.id > this.liveFloor;
    const channel = row.kind === 'status' && !live ? 'status/hist' : CHANNEL[row.kind as Exclude<MessageKind, 'fix'>];
    this.send([row], this.o.topics.device(row.deviceId, channel), payload, row.kind === 'status' && live, false);
  }

  private send(rows: StoredMessage[], topic: string, payload: Uint8Array, retain: boolean, historical: boolean, alias = false): void {
    for (const r of rows) this.inFlight.add(r.id);
    if (historical) this.historicalInFlight++;
    const ids = rows.map((r) => r.id);
    this.o.session.publish(topic, payload, { qos: 1, retain, alias }).then(
      () => {
        for (const id of ids) this.inFlight.delete(id);
        if (historical) this.historicalInFlight--;
        this.o.buffer.ack(ids);
        this.o.metrics.messagesOut.inc({ kind: historical ? 'historical' : rows[0]!.kind === 'fix' ? 'track' : rows[0]!.kind });
        if (historical) this.kick();
      },
      (err: unknown) => {
        // The link dropped before PUBACK: the rows stay in the buffer and go
        // out again after the reconnect (onUp clears the in-flight set).
        if (historical) this.historicalInFlight--;
        this.o.log.debug({ err: String(err), topic }, 'publish not acknowledged, kept for resend');
      },
    );
  }
}

const CHANNEL: Record<Exclude<MessageKind, 'fix'>, 'event' | 'status' | 'reply'> = {
  event: 'event',
  status: 'status',
  reply: 'reply',
};
