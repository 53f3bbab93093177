import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { CommandQueue } from './command-queue.js';
import type { RefusalTally } from './refusal-tally.js';

export interface CommandIntakeOptions {
  handler: { handleBatch(items: ReadonlyArray<{ deviceId: string; bytes: Uint8Array }>): void };
  tally: RefusalTally;
  /** Commands waiting to be verified; beyond this they are dropped unread and counted. */
  capacity: number;
  registry: MetricsRegistry;
  log: Logger;
}

/** Work per turn of the event loop: small enough that a fix read in the meantime waits at most a few ms. */
const BUDGET_MS = 4;
const BATCH = 32;

/**
 * Where commands from MQTT enter: a bounded queue worked off the hot path,
 * the refusal counts, and their metrics. The receive handler only queues.
 */
export class CommandIntake {
  private readonly queue: CommandQueue;

  constructor(private readonly o: CommandIntakeOptions) {
    this.queue = new CommandQueue({
      capacity: o.capacity,
      budgetMs: BUDGET_MS,
      batchSize: BATCH,
      process: (batch) => this.process(batch),
      onDrop: (c) => o.tally.dropped(c.deviceId, `more than ${o.capacity} commands waiting`),
    });
    // Counts are kept by the tally (cheap on the flood path) and copied at each scrape.
    let seen = new Map<string, number>();
    let seenSuppressed = 0;
    const refused = o.registry.counter({
      name: 'bwc_commands_refused_total',
      help: 'Commands refused, by reason; QUEUE_FULL: dropped unread because the command queue was full.',
      labelNames: ['reason'],
      collect: () => {
        for (const [reason, n] of o.tally.totals) {
          const d = n - (seen.get(reason) ?? 0);
          if (d > 0) refused.inc({ reason }, d);
        }
        seen = new Map(o.tally.totals);
      },
    });
    const suppressed = o.registry.counter({
      name: 'bwc_command_replies_suppressed_total',
      help: 'Refusals left unanswered because replies to refusals are rate limited.',
      collect: () => {
        if (o.tally.repliesSuppressed > seenSuppressed) suppressed.inc({}, o.tally.repliesSuppressed - seenSuppressed);
        seenSuppressed = o.tally.repliesSuppressed;
      },
    });
    const queued = o.registry.gauge({ name: 'bwc_command_queue_length', help: 'Commands received and waiting to be verified.', collect: () => queued.set({}, this.queue.length) });
  }

  /** Called from the MQTT message handler: queues and returns at once. */
  offer(deviceId: string, bytes: Uint8Array): void {
    this.queue.offer({ deviceId, bytes });
  }

  private process(batch: Array<{ deviceId: string; bytes: Uint8Array }>): void {
    try {
      this.o.handler.handleBatch(batch);
    } catch (err) {
      this.o.log.error({ err: describeError(err), commands: batch.length }, 'command handling failed');
    }
  }

  /** For the health endpoint: what the command path has seen. */
  status(): { queued: number; refused: Record<string, number>; repliesSuppressed: number } {
    return { queued: this.queue.length, refused: Object.fromEntries(this.o.tally.totals), repliesSuppressed: this.o.tally.repliesSuppressed };
  }
}
