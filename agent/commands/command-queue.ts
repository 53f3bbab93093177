import { performance } from 'node:perf_hooks';

export interface QueuedCommand {
  deviceId: string;
  bytes: Uint8Array;
}

export interface CommandQueueOptions {
  /** Commands waiting beyond this are dropped unread (and counted). */
  capacity: number;
  /** Most time spent on commands per turn of the event loop, ms. */
  budgetMs: number;
  /** Commands handed over at once (verified together, audited with one sync). */
  batchSize: number;
  process: (batch: QueuedCommand[]) => void;
  onDrop: (c: QueuedCommand) => void;
}

/**
 * Takes commands off the MQTT receive path. A message only enters a bounded
 * queue there; the queue is worked through in short slices from setImmediate,
 * which runs after the event loop has polled I/O, so serial reads, the
 * pipeline and the publisher always get their turn between slices. A flood
 * fills the queue and what does not fit is dropped with a count: fixes are
 * never waiting behind commands.
 */
export class CommandQueue {
  private queue: QueuedCommand[] = [];
  private head = 0;
  private scheduled = false;
  dropped = 0;

  constructor(private readonly o: CommandQueueOptions) {}

  get length(): number {
    return this.queue.length - this.head;
  }

  offer(c: QueuedCommand): boolean {
    if (this.length >= this.o.capacity) {
      this.dropped++;
      this.o.onDrop(c);
      return false;
    }
    this.queue.push(c);
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const start = performance.now();
    while (this.length > 0 && performance.now() - start < this.o.budgetMs) {
      const batch = this.queue.slice(this.head, this.head + this.o.batchSize);
      this.head += batch.length;
      this.o.process(batch);
    }
    if (this.head > 1024 || this.head === this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.length > 0) this.schedule();
  }
}
