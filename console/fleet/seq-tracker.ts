/**
 * Per-device sequence accounting for a subscriber: every message carries
 * (device, seq), so duplicates are detected at once and gaps once they have
 * stayed open for a while (backlog arrives after live fixes, out of order).
 */
export interface SeqReport {
  device: string;
  received: number;
  duplicates: number;
  /** Missing ranges between the lowest and highest seq seen, inclusive. */
  missing: Array<[number, number]>;
  lowest?: number;
  highest?: number;
}

class DeviceSeqs {
  /** Sorted, disjoint, inclusive ranges of seqs seen. */
  ranges: Array<[number, number]> = [];
  received = 0;
  duplicates = 0;

  /** Returns false when `seq` was already seen. */
  add(seq: number): boolean {
    this.received++;
    const r = this.ranges;
    // Binary search for the first range ending at or after seq - 1.
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid]![1] < seq - 1) lo = mid + 1;
      else hi = mid;
    }
    const cur = r[lo];
    if (cur && cur[0] <= seq && seq <= cur[1]) {
      this.duplicates++;
      return false;
    }
    if (cur && cur[1] === seq - 1) {
      cur[1] = seq;
      const next = r[lo + 1];
      if (next && next[0] === seq + 1) {
        cur[1] = next[1];
        r.splice(lo + 1, 1);
      }
    } else if (cur && cur[0] === seq + 1) {
      cur[0] = seq;
    } else {
      r.splice(lo, 0, [seq, seq]);
    }
    return true;
  }

  /** Seqs known to exist (not received): only the highest matters, as the end of the range. */
  known: number | undefined;

  know(seq: number): void {
    this.known = Math.max(this.known ?? seq, seq);
  }

  missing(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 1; i < this.ranges.length; i++) out.push([this.ranges[i - 1]![1] + 1, this.ranges[i]![0] - 1]);
    const last = this.ranges[this.ranges.length - 1]?.[1];
    if (last !== undefined && this.known !== undefined && this.known > last + 1) out.push([last + 1, this.known - 1]);
    return out;
  }
}

export class SeqTracker {
  private readonly devices = new Map<string, DeviceSeqs>();

  /** Records one message; returns false for a duplicate. */
  add(device: string, seq: number): boolean {
    let d = this.devices.get(device);
    if (!d) this.devices.set(device, (d = new DeviceSeqs()));
    return d.add(seq);
  }

  /**
   * A seq known to exist without being received here (a retained status seen
   * on subscribing): it extends the range, so every seq between what was
   * received and it counts as missing until it arrives.
   */
  seen(device: string, seq: number): void {
    let d = this.devices.get(device);
    if (!d) this.devices.set(device, (d = new DeviceSeqs()));
    d.know(seq);
  }

  report(): SeqReport[] {
    return [...this.devices.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([device, d]) => ({
        device,
        received: d.received,
        duplicates: d.duplicates,
        missing: d.missing(),
        lowest: d.ranges[0]?.[0],
        highest: highestOf(d),
      }));
  }
}

function highestOf(d: DeviceSeqs): number | undefined {
  const top = d.ranges[d.ranges.length - 1]?.[1];
  if (top === undefined || d.known === undefined) return top ?? (d.ranges.length > 0 ? d.known : undefined);
  return Math.max(top, d.known);
}
