import { Worker } from 'node:worker_threads';
import type { ProbeOwner } from './live-fix-probe.js';

/**
 * A LiveFixProbe (bench/live-fix-probe.ts) in a worker thread of its own.
 * The probe stands for GNSS receivers and a platform's subscriber, which are
 * other machines; in the bench's main thread it would share an event loop
 * with the simulated cameras and their video, and every stall of theirs
 * would count as the agent's latency. In its own thread it keeps its own
 * time: the figures are the agent's and the broker's, on a machine that is
 * still as loaded as before (the same processes run).
 */
export class LiveFixProbeThread {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly worker: Worker, readonly devices: Array<{ id: string; gnss: string }>) {
    worker.on('message', (m: { id?: number; value?: unknown; error?: string }) => {
      const w = m.id !== undefined ? this.waiting.get(m.id) : undefined;
      if (!w) return;
      this.waiting.delete(m.id!);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.value);
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`the live-fix probe's thread exited (${code})`)));
  }

  /** `count` receivers named PREFIX-0001…, plugged in and fed from the next whole second but one, in their own thread. */
  static async start(owner: ProbeOwner, o: { count: number; seed?: number; prefix?: string }): Promise<LiveFixProbeThread> {
    const worker = new Worker(new URL('./live-fix-probe-worker.js', import.meta.url), { workerData: o });
    const devices = await new Promise<Array<{ id: string; gnss: string }>>((resolve, reject) => {
      worker.once('message', (m: { type: string; devices: Array<{ id: string; gnss: string }> }) => resolve(m.devices));
      worker.once('error', reject);
    });
    const probe = new LiveFixProbeThread(worker, devices);
    owner.teardown(async () => {
      await probe.call({ type: 'stop' }).catch(() => undefined);
      await worker.terminate();
    });
    return probe;
  }

  /** Subscribes the probe's own MQTT client to the live topics on this broker. */
  subscribe(url: string): Promise<void> {
    return this.call({ type: 'subscribe', url }) as Promise<void>;
  }

  /** As LiveFixProbe.caughtUp. */
  caughtUp(timeoutMs: number, withinMs?: number): Promise<void> {
    return this.call({ type: 'caughtUp', timeoutMs, ...(withinMs !== undefined ? { withinMs } : {}) }) as Promise<void>;
  }

  /** As LiveFixProbe.window. */
  window(seconds: number, graceMs?: number): Promise<{ samples: number[]; late: number }> {
    return this.call({ type: 'window', seconds, ...(graceMs !== undefined ? { graceMs } : {}) }) as Promise<{ samples: number[]; late: number }>;
  }

  private call(c: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...c, id });
    });
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}
