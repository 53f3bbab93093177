import { BwcError } from '../../common/errors.js';

/**
 * Requests waiting for their answer, after zigbee-herdsman's Waitress: each
 * waiter has a timer; an answer resolves the waiter it matches; an answer
 * that matches nothing (late, after its timeout) is reported to the caller
 * so it can be counted. Matching is by key (the request id) because the
 * reference protocol echoes it.
 */
interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Waitress<K, T> {
  private readonly waiters = new Map<K, Waiter<T>>();

  constructor(private readonly onTimeout: (key: K) => void = () => {}) {}

  get size(): number {
    return this.waiters.size;
  }

  has(key: K): boolean {
    return this.waiters.has(key);
  }

  /** `timeoutMessage` is built only when the timer fires. */
  waitFor(key: K, timeoutMs: number, timeoutMessage: () => string): Promise<T> {
    if (this.waiters.has(key)) throw new BwcError('CAMERA_BUSY', `a request with id ${String(key)} is already waiting`);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        this.onTimeout(key);
        reject(new BwcError('CAMERA_TIMEOUT', timeoutMessage()));
      }, timeoutMs);
      this.waiters.set(key, { resolve, reject, timer });
    });
  }

  /** false when nobody waits for this key. */
  resolve(key: K, value: T): boolean {
    const w = this.waiters.get(key);
    if (!w) return false;
    clearTimeout(w.timer);
    this.waiters.delete(key);
    w.resolve(value);
    return true;
  }

  reject(key: K, err: Error): boolean {
    const w = this.waiters.get(key);
    if (!w) return false;
    clearTimeout(w.timer);
    this.waiters.delete(key);
    w.reject(err);
    return true;
  }

  rejectAll(err: () => Error): void {
    for (const [key, w] of [...this.waiters]) {
      clearTimeout(w.timer);
      this.waiters.delete(key);
      w.reject(err());
    }
  }
}
