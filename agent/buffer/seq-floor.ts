/**
 * The time-based floor of a device's first sequence number.
 *
 * When the agent knows nothing of a device's seqs (a device it never saw, or
 * the buffer and its seq state file both lost: a wiped data folder, a new SD
 * card), the device's seqs start just above `timeSeqFloor(now)` instead of at
 * 1. The floor grows by SEQ_FLOOR_PER_S every second since SEQ_FLOOR_ORIGIN_MS,
 * so a new epoch starts above every seq of an earlier one as long as the
 * device averaged fewer than SEQ_FLOOR_PER_S messages a second (fixes at
 * 1 Hz, a status every 30 s, events, replies: a few a second at most) and the
 * system clock is not behind the real time of the loss. `(device_id, seq)`
 * then never repeats, without a new header field: a v1 platform that
 * deduplicates on it keeps working (protocol/README.md, "Sequence numbers").
 *
 * Cost on the wire: a seq near the floor is a 5-byte varint until 2036,
 * one or two bytes more than a seq counted from 1.
 */
export const SEQ_FLOOR_ORIGIN_MS = Date.UTC(2026, 0, 1);
export const SEQ_FLOOR_PER_S = 100;

export function timeSeqFloor(nowMs: number): number {
  return Math.max(0, Math.floor(((nowMs - SEQ_FLOOR_ORIGIN_MS) * SEQ_FLOOR_PER_S) / 1000));
}
