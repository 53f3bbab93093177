import { DROP_REASONS, type DropReason } from '../pipeline/fix-filter.js';
import { MetricsRegistry, type Counter, type Gauge } from './registry.js';

/**
 * The metrics the agent exports, in one place so names stay stable for
 * dashboards. Stages call the methods; nothing else touches the registry.
 */
export class AgentMetrics {
  readonly registry: MetricsRegistry;
  readonly fixesIn: Counter;
  readonly fixesDropped: Counter;
  readonly messagesOut: Counter;
  readonly bufferedRows: Gauge;
  readonly bufferDropped: Counter;
  readonly reconnects: Counter;
  readonly lastFixAge: Gauge;
  readonly fixFieldsDropped: Counter;
  readonly discontinuities: Counter;
  private readonly lastFixSystemMs = new Map<string, number>();

  /**
   * `now` gives the system time for fix ages (ages of reception on this
   * machine, not GNSS times); `bufferedRows` is read at each scrape.
   */
  constructor(opts: { now?: () => number; bufferedRows?: () => number } = {}) {
    const now = opts.now ?? Date.now;
    const reg = (this.registry = new MetricsRegistry());
    this.fixesIn = reg.counter({ name: 'bwc_fixes_in_total', help: 'Fixes decoded from the receiver, before filtering.', labelNames: ['device'] });
    this.fixesDropped = reg.counter({ name: 'bwc_fixes_dropped_total', help: 'Fixes dropped by the track filter, by reason.', labelNames: ['device', 'reason'] });
    this.messagesOut = reg.counter({ name: 'bwc_messages_out_total', help: 'Messages acknowledged by the broker, by kind (track, historical, status, event, reply, media).', labelNames: ['kind'] });
    this.bufferedRows = reg.gauge({
      name: 'bwc_buffered_rows',
      help: 'Messages in the store-and-forward buffer waiting for the broker.',
      collect: opts.bufferedRows && (() => this.bufferedRows.set({}, opts.bufferedRows!())),
    });
    this.bufferDropped = reg.counter({ name: 'bwc_buffer_dropped_total', help: 'Messages dropped from a full buffer, by reason.', labelNames: ['reason'] });
    this.reconnects = reg.counter({ name: 'bwc_mqtt_reconnects_total', help: 'Broker connections lost and made again.' });
    this.lastFixAge = reg.gauge({
      name: 'bwc_last_fix_age_seconds',
      help: 'Seconds since the last accepted fix of each device was received.',
      labelNames: ['device'],
      collect: () => {
        const t = now();
        for (const [device, ms] of this.lastFixSystemMs) this.lastFixAge.set({ device }, Math.max(0, (t - ms) / 1000));
      },
    });
    this.fixFieldsDropped = reg.counter({ name: 'bwc_fix_fields_dropped_total', help: 'Fields removed from fixes as implausible for the device profile (speed, alt, sats, hdop, course).', labelNames: ['device', 'field'] });
    this.discontinuities = reg.counter({ name: 'bwc_gnss_discontinuities_total', help: 'Confirmed GNSS position jumps, each published as a discontinuity event.', labelNames: ['device'] });
  }

  fixIn(device: string): void {
    this.fixesIn.inc({ device });
  }

  fixDropped(device: string, reason: DropReason): void {
    this.fixesDropped.inc({ device, reason });
  }

  fixFieldDropped(device: string, field: string): void {
    this.fixFieldsDropped.inc({ device, field });
  }

  fixAccepted(device: string, systemMs: number): void {
    this.lastFixSystemMs.set(device, systemMs);
  }

  /** Makes every series of a device visible at 0 before anything happens. */
  addDevice(device: string): void {
    for (const reason of DROP_REASONS) this.fixesDropped.inc({ device, reason }, 0);
    this.fixesIn.inc({ device }, 0);
    this.discontinuities.inc({ device }, 0);
  }

  removeDevice(device: string): void {
    this.lastFixSystemMs.delete(device);
    this.lastFixAge.remove({ device });
    this.fixesIn.remove({ device });
    this.discontinuities.remove({ device });
    for (const reason of DROP_REASONS) this.fixesDropped.remove({ device, reason });
  }

  render(): string {
    return this.registry.render();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
