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

  missing(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 1; i < this.ranges.length; i++) out.push([this.ranges[i - 1]![1] + 1, this.ranges[i]![0] - 1]);
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

  report(): SeqReport[] {
    return [...this.devices.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([device, d]) => ({
        device,
        received: d.received,
        duplicates: d.duplicates,
        missing: d.missing(),
        lowest: d.ranges[0]?.[0],
        highest: d.ranges[d.ranges.length - 1]?.[1],
      }));
  }
}
