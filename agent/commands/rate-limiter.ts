/**
 * Token bucket per issuer key: a stolen or buggy console cannot flood the
 * cameras (or the officer's uplink) with commands.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly perMinute: number) {}

  /** Whether take() would succeed now, without taking. */
  peek(issuer: string, nowMs: number): boolean {
    const b = this.buckets.get(issuer);
    if (!b) return this.perMinute >= 1;
    return Math.min(this.perMinute, b.tokens + ((nowMs - b.atMs) * this.perMinute) / 60_000) >= 1;
  }

  take(issuer: string, nowMs: number): boolean {
    const b = this.buckets.get(issuer) ?? { tokens: this.perMinute, atMs: nowMs };
    b.tokens = Math.min(this.perMinute, b.tokens + ((nowMs - b.atMs) * this.perMinute) / 60_000);
    b.atMs = nowMs;
    this.buckets.set(issuer, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
