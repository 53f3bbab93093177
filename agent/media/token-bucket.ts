/** Bytes-per-second budget (a 4G uplink): take() says how long to wait before sending. */
export class TokenBucket {
  private tokens: number;
  private atMs: number;

  /** `bytesPerS` 0 means no cap. `burstBytes` is the most that can go out at once. */
  constructor(
    private readonly bytesPerS: number,
    private readonly burstBytes: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burstBytes;
    this.atMs = now();
  }

  get unlimited(): boolean {
    return this.bytesPerS <= 0;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((t - this.atMs) * this.bytesPerS) / 1000);
    this.atMs = t;
  }

  /** Takes n bytes if they are available now (live frames: drop rather than delay). */
  tryTake(n: number): boolean {
    if (this.unlimited) return true;
    this.refill();
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Takes n bytes, going into debt; returns how many ms to wait before sending (clips: delay, never drop). */
  take(n: number): number {
    if (this.unlimited) return 0;
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerS);
  }
}
